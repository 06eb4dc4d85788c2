"""``make chaos``: the two-instance deployment (docs/scale-out.md) under signed load, with faults
injected in turn, and one table of what was answered against what the audit log holds.

Everything runs on loopback: a throwaway PostgreSQL 15 and Redis (Debian's servers), two
gunicorn instances of example_app with two gevent workers each, and a load of signed callbacks
from a few client threads, each callback with a From_Account of its own (``chaos-<phase>-<n>``):
that unique id is how an answered callback is found in the audit log, and a duplicate seen. The
callbacks take turns across the friend flow: a response, a request, a blocklist addition (an
after-callback).

Faults, one per phase: none, the database down (stopped, then started again), the database
slow (a lock on the audit table held by another session), Redis down, a worker killed with
SIGKILL, an instance restarted (SIGTERM, then started again). A client that cannot connect to
one instance tries the other, as a load balancer would.

Columns: requests sent; answered (HTTP 200); answers over 2 s (Tencent's timeout); 5xx; records
spooled (appended to the instances' local spools during the phase); shipped (the phase's
callbacks in the audit database at the end); lost (answered, not in the audit log); duplicated
(in the log more than once).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
import psycopg

from devtools.servers import ROOT, free_port, wait_for_port
from devtools.services import PostgresServer, RedisServer
from devtools.signing import SDKAPPID, TOKEN
from example_app.feed import postgres_conninfo
from example_app.spool import journal_lines
from flask_friendcb.testing import (
    blocklist_added_body,
    callback_query,
    friend_add_body,
    friend_response_body,
    response_item,
)

#: Tencent's timeout.
DEADLINE = 2.0
#: A client gives up on an answer after this long (it then counts as not answered).
CLIENT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Plan:
    """How long each phase lasts, when its fault starts and how long an outage lasts."""

    phase_seconds: float
    fault_at: float
    outage_seconds: float
    clients: int
    pause: float  # seconds each client waits between two callbacks


FULL = Plan(phase_seconds=30, fault_at=3, outage_seconds=20, clients=8, pause=0.05)
SMALL = Plan(phase_seconds=5, fault_at=1, outage_seconds=2.5, clients=4, pause=0.05)


@dataclass
class Row:
    """One phase's line of the table."""

    fault: str
    requests: int = 0
    answered: int = 0
    over_2s: int = 0
    server_errors: int = 0
    spooled: int = 0
    shipped: int = 0
    lost: int = 0
    duplicated: int = 0
    answered_ids: set[str] = field(default_factory=set)


class Instance:
    """example_app under gunicorn (gevent, two workers), as docs/scale-out.md starts it."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.spool = folder / f"{name}.spool.sqlite3"
        self.env = {
            **env,
            "EXAMPLE_DATABASE": str(folder / f"{name}.sqlite3"),
            "EXAMPLE_AUDIT_SPOOL": str(self.spool),
        }
        self.log_path = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn",
            "--worker-class", "gevent", "--workers", "2",
            "--bind", self.address,
            "--graceful-timeout", "10",
            "--no-control-socket",
            "example_app:create_app()",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        wait_for_port(self.port, self.process, timeout=60)
        # gunicorn listens before its workers have loaded the app: one request each.
        for _ in range(4):
            _get(self.address, "/api/stats")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill_a_worker(self) -> None:
        assert self.process is not None
        workers = psutil.Process(self.process.pid).children()
        os.kill(workers[0].pid, signal.SIGKILL)

    def spooled(self) -> int:
        """Records ever appended to this instance's spool: those moved into its table, and
        those still in its journal."""
        if not self.spool.exists():
            return 0
        with contextlib.closing(sqlite3.connect(self.spool, timeout=10)) as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'spool'").fetchone()
        return (int(row[0]) if row else 0) + journal_lines(str(self.spool))

    def pending(self) -> int:
        if not self.spool.exists():
            return 0
        with contextlib.closing(sqlite3.connect(self.spool, timeout=10)) as db:
            (count,) = db.execute("SELECT count(*) FROM spool").fetchone()
        return int(count) + journal_lines(str(self.spool))


def _get(address: str, path: str) -> int:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        reply.read()
        return reply.status
    finally:
        connection.close()


class Load:
    """Client threads sending signed callbacks to the instances in turn until stopped."""

    def __init__(self, instances: list[Instance], plan: Plan) -> None:
        self.instances = instances
        self.plan = plan
        self.row = Row("")
        self.prefix = ""
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, row: Row, prefix: str) -> None:
        self.row, self.prefix = row, prefix
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), daemon=True)
            for i in range(self.plan.clients)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)

    def _client(self, index: int) -> None:
        turn = index
        while not self._stop.is_set():
            responder = f"{self.prefix}{next(self._numbers)}"
            first = self.instances[turn % len(self.instances)]
            second = self.instances[(turn + 1) % len(self.instances)]
            turn += 1
            started = time.monotonic()
            status = self._send(first, responder, turn)
            if status is None:
                # Not answered: the balancer's other instance, as a new callback (the first
                # may still have been recorded, and Tencent never resends a "before" callback).
                responder = f"{self.prefix}{next(self._numbers)}"
                status = self._send(second, responder, turn)
            elapsed = time.monotonic() - started
            with self._lock:
                self.row.requests += 1
                if status == 200:
                    self.row.answered += 1
                    self.row.answered_ids.add(responder)
                    self.row.over_2s += elapsed > DEADLINE
                elif status is not None and status >= 500:
                    self.row.server_errors += 1
            self._stop.wait(self.plan.pause)

    @staticmethod
    def _send(instance: Instance, responder: str, turn: int) -> int | None:
        """The answer's status; ``None`` when the instance could not be reached or did not
        answer. ``turn`` picks the command: a response, a request, a blocklist addition."""
        kinds = (
            lambda: friend_response_body(
                responder, [response_item("chaos-friend", "Response_Action_Agree")]
            ),
            lambda: friend_add_body(responder, ["chaos-friend"]),
            lambda: blocklist_added_body([(responder, "chaos-friend")]),
        )
        wire = kinds[turn % len(kinds)]()
        body = json.dumps(wire)
        query = callback_query(SDKAPPID, token=TOKEN, command=wire["CallbackCommand"])
        host, port = instance.address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=CLIENT_TIMEOUT)
        try:
            connection.request(
                "POST",
                f"/im/callback?{query}",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            reply = connection.getresponse()
            reply.read()
            return reply.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()


@dataclass
class Deployment:
    postgres: PostgresServer
    redis: RedisServer
    database_url: str
    instances: list[Instance]


def faults(plan: Plan) -> list[tuple[str, Callable[[Deployment], None]]]:
    """Each phase's fault: a function run ``plan.fault_at`` seconds into the phase, which
    returns once the fault is over."""

    def none(_: Deployment) -> None:
        return

    def database_down(deployment: Deployment) -> None:
        deployment.postgres.stop()
        time.sleep(plan.outage_seconds)
        deployment.postgres.start()

    def database_slow(deployment: Deployment) -> None:
        # Another session holds the audit tables' lock: every insert waits for it.
        database = deployment.database_url.rsplit("/", 1)[1]
        deployment.postgres.sql(
            "BEGIN; LOCK TABLE callbacks, decisions IN EXCLUSIVE MODE;"
            f" SELECT pg_sleep({plan.outage_seconds}); COMMIT;",
            database,
        )

    def redis_down(deployment: Deployment) -> None:
        deployment.redis.stop()
        time.sleep(plan.outage_seconds)
        deployment.redis.start()

    def worker_killed(deployment: Deployment) -> None:
        deployment.instances[0].kill_a_worker()

    def instance_restarted(deployment: Deployment) -> None:
        deployment.instances[1].stop()
        deployment.instances[1].start()

    return [
        ("none", none),
        (f"database down {plan.outage_seconds:g} s", database_down),
        (f"database slow {plan.outage_seconds:g} s (lock)", database_slow),
        (f"Redis down {plan.outage_seconds:g} s", redis_down),
        ("a worker killed (SIGKILL)", worker_killed),
        ("an instance restarted", instance_restarted),
    ]


@contextlib.contextmanager
def deployment(folder: Path) -> Iterator[Deployment]:
    """PostgreSQL, Redis and two instances, stopped afterwards."""
    # PostgreSQL runs as Debian's `postgres` when this runs as root: it must reach its folder.
    folder.chmod(0o755)
    (folder / "pg").mkdir()
    (folder / "redis").mkdir()
    postgres = PostgresServer(folder / "pg")
    redis = RedisServer(folder / "redis")
    instances: list[Instance] = []
    try:
        postgres.start()
        redis.start()
        database_url = postgres.new_database()
        env = {
            **os.environ,
            "FRIENDCB_SDKAPPID": SDKAPPID,
            "FRIENDCB_TOKEN": TOKEN,
            "EXAMPLE_DATABASE_URL": database_url,
            "EXAMPLE_REDIS_URL": redis.url,
            "EXAMPLE_SECRET_KEY": "chaos-run-secret-key",
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "example_app", "db", "upgrade"],
            cwd=ROOT,
            env={**env, "EXAMPLE_DATABASE": str(folder / "migrate.sqlite3")},
            check=True,
            capture_output=True,
            timeout=120,
        )
        instances = [Instance(name, env, folder) for name in ("one", "two")]
        for instance in instances:
            instance.start()
        yield Deployment(postgres, redis, database_url, instances)
    finally:
        for instance in instances:
            instance.stop()
        redis.stop()
        postgres.stop()


def run(plan: Plan, *, log: IO[str] | None = None) -> list[Row]:
    """Every phase in turn; the table's rows."""
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="friendcb-chaos-") as name,
        deployment(Path(name)) as deployed,
    ):
        load = Load(deployed.instances, plan)
        for index, (fault, inject) in enumerate(faults(plan)):
            row = Row(fault)
            rows.append(row)
            spooled = sum(instance.spooled() for instance in deployed.instances)
            load.start(row, f"chaos-{index}-")
            time.sleep(plan.fault_at)
            started = time.monotonic()
            inject(deployed)
            time.sleep(max(0.0, plan.phase_seconds - plan.fault_at - (time.monotonic() - started)))
            load.stop()
            row.spooled = sum(instance.spooled() for instance in deployed.instances) - spooled
            if log is not None:
                print(f"  {fault}: {row.answered} of {row.requests} answered", file=log, flush=True)
        _wait_for_the_spools(deployed.instances, timeout=max(60.0, plan.outage_seconds * 3))
        _count_the_log(deployed.database_url, rows)
    return rows


def _wait_for_the_spools(instances: list[Instance], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(instance.pending() for instance in instances) and time.monotonic() < deadline:
        time.sleep(0.5)


def _count_the_log(database_url: str, rows: list[Row]) -> None:
    conninfo = postgres_conninfo(database_url)
    assert conninfo is not None
    with psycopg.connect(conninfo) as db:
        counts: dict[str, int] = dict(
            db.execute(
                "SELECT from_account, count(*) FROM callbacks"
                " WHERE from_account LIKE 'chaos-%%' GROUP BY from_account"
            ).fetchall()
        )
    for index, row in enumerate(rows):
        prefix = f"chaos-{index}-"
        mine = {account: n for account, n in counts.items() if account.startswith(prefix)}
        row.shipped = len(mine)
        row.lost = len(row.answered_ids - mine.keys())
        row.duplicated = sum(n - 1 for n in mine.values())


HEADERS = (
    "fault", "requests", "answered", "answers over 2 s", "5xx",
    "records spooled", "shipped", "lost", "duplicated",
)  # fmt: skip


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + " |",
    ]
    for row in rows:
        values = (
            row.requests, row.answered, row.over_2s, row.server_errors,
            row.spooled, row.shipped, row.lost, row.duplicated,
        )  # fmt: skip
        lines.append(f"| {row.fault} | " + " | ".join(f"{v:,}" for v in values) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--small", action="store_true", help="a run of about a minute")
    args = parser.parse_args(argv)
    plan = SMALL if args.small else FULL
    print(
        f"chaos: {len(faults(plan))} phases of {plan.phase_seconds:g} s, {plan.clients} clients",
        flush=True,
    )
    rows = run(plan, log=sys.stdout)
    print(table(rows))
    bad = any(row.lost or row.duplicated for row in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
