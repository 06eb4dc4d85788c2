"""The audit log under faults, on a real PostgreSQL (stopped, slow) and a real gunicorn (a
worker killed with SIGKILL, the whole service killed, a graceful SIGTERM): every answered
callback reaches the log once, and no answer waits for it."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from example_app import create_app, get_service
from example_app.audit_log import AuditLog

from .audit_servers import run_gunicorn, spooled
from .conftest import example_config, serving
from .example_support import send
from .services import PostgresServer

# Tencent's budget for an answer.
DEADLINE = 2.0


@pytest.fixture
def audit_db(postgres_url: str) -> Iterator[AuditLog]:
    """A new PostgreSQL database migrated to head (as `flask db upgrade` does)."""
    log = AuditLog(postgres_url)
    log.upgrade()
    yield log
    log.close()


class Sender:
    """Sends signed callbacks, one item each, a new responder each (no velocity refusal),
    and keeps each answer's time."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.answered = 0
        self.slowest = 0.0
        self._n = 0

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            self._n += 1
            started = time.monotonic()
            assert send(self.address, f"user{os.getpid()}x{self._n}", "alice") == [0]
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.answered += 1

    def send_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.send()
            time.sleep(0.01)


def logged(log: AuditLog) -> tuple[int, int, int]:
    """Callbacks, distinct record ids, and decisions in the log."""
    with log.engine.connect() as db:
        callbacks, distinct = db.execute(
            sa.text("SELECT count(*), count(DISTINCT record_id) FROM callbacks")
        ).one()
        (decisions,) = db.execute(sa.text("SELECT count(*) FROM decisions")).one()
    return int(callbacks), int(distinct), int(decisions)


def wait_until(condition: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {within} s"
        time.sleep(0.1)


def all_logged(log: AuditLog, answered: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return logged(log)[0] >= answered
        except sa.exc.OperationalError:
            return False

    return check


def test_a_stopped_database_delays_no_answer_and_loses_no_record(
    tmp_path: Path,
    postgres_server: PostgresServer,
    audit_db: AuditLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = audit_db.url.render_as_string(hide_password=False)
    app = create_app(example_config(str(tmp_path / "local.sqlite3"), EXAMPLE_DATABASE_URL=url))
    service = get_service(app)
    try:
        with caplog.at_level(logging.WARNING, logger="example_app.audit"), serving(app) as address:
            sender = Sender(address)
            sender.send_for(1.0)
            postgres_server.stop()
            try:
                sender.send_for(4.0)
                during = sender.answered
                wait_until(lambda: service.spool.pending() > 0, "nothing spooled", 10)
            finally:
                postgres_server.start()
            sender.send_for(1.0)
            wait_until(all_logged(audit_db, sender.answered), "records missing")
            wait_until(lambda: service.spool.pending() == 0, "the spool not emptied")
    finally:
        service.store.close()
    assert during > 10
    assert logged(audit_db) == (sender.answered, sender.answered, sender.answered)
    assert sender.slowest < DEADLINE
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if "is unavailable" in m]) == 1, said
    assert len([m for m in said if " is back:" in m]) == 1, said


def test_a_slow_database_delays_no_answer(
    tmp_path: Path, postgres_server: PostgresServer, audit_db: AuditLog
) -> None:
    url = audit_db.url.render_as_string(hide_password=False)
    app = create_app(example_config(str(tmp_path / "local.sqlite3"), EXAMPLE_DATABASE_URL=url))
    service = get_service(app)
    # Another session holds the audit table for 3 s: every insert waits behind it.
    holder = threading.Thread(
        target=postgres_server.sql,
        args=(
            "BEGIN; LOCK TABLE callbacks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;",
            audit_db.url.database or "postgres",
        ),
    )
    try:
        with serving(app) as address:
            sender = Sender(address)
            holder.start()
            time.sleep(0.3)
            sender.send_for(2.5)
            holder.join()
            wait_until(all_logged(audit_db, sender.answered), "records missing")
    finally:
        service.store.close()
    assert logged(audit_db) == (sender.answered, sender.answered, sender.answered)
    assert sender.slowest < DEADLINE


@pytest.fixture
def deployment(tmp_path: Path, audit_db: AuditLog) -> dict[str, str]:
    """The environment of example_app on the audit database, its local files in tmp_path."""
    return {
        "EXAMPLE_DATABASE": str(tmp_path / "local.sqlite3"),
        "EXAMPLE_DATABASE_URL": audit_db.url.render_as_string(hide_password=False),
    }


def test_a_worker_killed_with_sigkill_loses_nothing_it_answered(
    tmp_path: Path,
    postgres_server: PostgresServer,
    audit_db: AuditLog,
    deployment: dict[str, str],
) -> None:
    spool = tmp_path / "local.audit-spool.sqlite3"
    with run_gunicorn(deployment) as server:
        server.wait_for_workers(2)
        sender = Sender(server.address)
        sender.send(4)
        wait_until(all_logged(audit_db, 4), "records missing")
        # The database away: what the workers answer now stays in their spool.
        postgres_server.stop()
        try:
            sender.send(20)
            assert spooled(spool) == 20
            victim = server.workers()[0]
            os.kill(victim, signal.SIGKILL)
            sender.send(10)  # the other worker answers; gunicorn starts a new one
        finally:
            postgres_server.start()
        sender.send(6)
        wait_until(all_logged(audit_db, sender.answered), "records missing", within=90)
        wait_until(lambda: spooled(spool) == 0, "the spool not emptied")
        assert victim not in server.workers()
    assert logged(audit_db) == (40, 40, 40)
    assert sender.slowest < DEADLINE


def test_the_next_start_ships_what_a_killed_service_spooled_and_sigterm_drains(
    tmp_path: Path,
    postgres_server: PostgresServer,
    audit_db: AuditLog,
    deployment: dict[str, str],
) -> None:
    spool = tmp_path / "local.audit-spool.sqlite3"
    with run_gunicorn(deployment) as server:
        server.wait_for_workers(2)
        sender = Sender(server.address)
        postgres_server.stop()
        try:
            sender.send(15)
            assert spooled(spool) == 15
            server.kill_everything()
        finally:
            postgres_server.start()
    assert logged(audit_db) == (0, 0, 0)
    # The next start ships the spool before any callback arrives.
    with run_gunicorn(deployment) as server:
        wait_until(all_logged(audit_db, 15), "the spool of the killed service not shipped")
        server.wait_for_workers(2)
        # SIGTERM: what was answered just before is shipped before the workers exit.
        sender = Sender(server.address)
        sender.send(25)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
    assert logged(audit_db) == (40, 40, 40)
    assert spooled(spool) == 0
