"""The audit log on SQLite and on a real PostgreSQL: migrations, idempotent shipping, the spool,
the drainer's observers, retention, the export, and the start-up errors of its URL."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from example_app import create_app, get_service
from example_app.audit_log import EXPORT_FIELDS, AuditLog, AuditRecord, ShippedBatch
from example_app.drainer import Drainer
from example_app.spool import Spool
from flask_friendcb import ConfigError
from flask_friendcb.testing import callback_query, friend_response_body, response_item

from .conftest import NOW, SDKAPPID, TOKEN, ExampleService, FrozenClock, example_config
from .servers import ROOT, free_port
from .services import PostgresServer

DAY_MS = 86_400_000

# The hand-written layer's audit tables (example_app before Alembic), as it created them.
LEGACY_SCHEMA = """
CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY, received_at_ms INTEGER NOT NULL, event_time_ms INTEGER NOT NULL,
    sdkappid TEXT NOT NULL, from_account TEXT NOT NULL, requester_account TEXT NOT NULL,
    client_ip TEXT NOT NULL, platform TEXT NOT NULL
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY, callback_id INTEGER NOT NULL REFERENCES callbacks (id),
    position INTEGER NOT NULL, received_at_ms INTEGER NOT NULL, from_account TEXT NOT NULL,
    to_account TEXT NOT NULL, action TEXT NOT NULL, remark TEXT NOT NULL,
    tag_name TEXT NOT NULL, result_code INTEGER NOT NULL, result_info TEXT NOT NULL,
    outcome TEXT NOT NULL, hook TEXT
);
CREATE INDEX decisions_by_time ON decisions (received_at_ms);
CREATE INDEX decisions_by_from ON decisions (from_account, id);
CREATE INDEX decisions_by_to ON decisions (to_account, id);
"""
# At NOW - 2 s and NOW - 1 s (conftest's NOW is 1_700_000_000). Ids left to the database
# (its sequence on PostgreSQL): the callbacks get 1 and 2.
_CALLBACK = (
    "INSERT INTO callbacks (received_at_ms, event_time_ms, sdkappid, from_account,"
    " requester_account, client_ip, platform) VALUES "
)
_DECISION = (
    "INSERT INTO decisions (callback_id, position, received_at_ms, from_account, to_account,"
    " action, remark, tag_name, result_code, result_info, outcome, hook) VALUES "
)
LEGACY_ROWS = [
    _CALLBACK + "(1699999998000, 1699999998000, '1400000000', 'bob', 'bob', '10.0.0.1', 'iOS')",
    _CALLBACK + "(1699999999000, 1699999999000, '1400000000', 'ann', 'ann', '10.0.0.2', 'Web')",
    _DECISION + "(1, 0, 1699999998000, 'bob', 'eve', 'Response_Action_Agree', 'hi', '', 38001,"
    " 'the requester is blocked', 'rejected', 'example_app.policies.blocklist')",
    _DECISION
    + "(1, 1, 1699999998000, 'bob', 'al', 'Response_Action_Reject', '', '', 0, '', 'allowed',"
    " 'example_app.policies.declining')",
    _DECISION + "(2, 0, 1699999999000, 'ann', 'cy', 'Response_Action_AgreeAndAdd', '', '', 0, '',"
    " 'no_decision', NULL)",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty audit database of each engine: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def log(audit_url: str) -> Iterator[AuditLog]:
    audit = AuditLog(audit_url)
    audit.upgrade()
    yield audit
    audit.close()


def record(
    from_account: str = "bob", *to_accounts: str, received_at_ms: int = NOW * 1000, **extra: Any
) -> AuditRecord:
    items: list[Any] = [
        {
            "to_account": to,
            "action": "Response_Action_Agree",
            "remark": extra.get("remark", ""),
            "tag_name": "",
            "result_code": 0,
            "result_info": "",
            "outcome": "no_decision",
            "hook": None,
        }
        for to in to_accounts or ("alice",)
    ]
    result: AuditRecord = {
        "record_id": uuid.uuid4().hex,
        "received_at_ms": received_at_ms,
        "event_time_ms": received_at_ms - 5,
        "sdkappid": "1400000000",
        "from_account": from_account,
        "requester_account": from_account,
        "client_ip": "127.0.0.1",
        "platform": "RESTAPI",
        "items": items,
    }
    if "command" in extra:
        result["command"] = extra["command"]
    return result


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def index_names(engine: sa.Engine, table: str) -> set[str]:
    return {index["name"] or "" for index in sa.inspect(engine).get_indexes(table)}


def wait_until(condition: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {within} s"
        time.sleep(0.05)


# -- migrations ------------------------------------------------------------------------------


def test_an_empty_database_is_upgraded_to_head(audit_url: str) -> None:
    audit = AuditLog(audit_url)
    assert audit.revision() is None
    audit.upgrade()
    try:
        assert audit.revision() == AuditLog.head() == "0005"
        assert {"callbacks", "decisions", "alembic_version"} <= table_names(audit.engine)
        assert {"callbacks_by_record", "callbacks_by_time"} <= index_names(
            audit.engine, "callbacks"
        )
        assert {
            "decisions_by_record",
            "decisions_by_time_counts",
            "decisions_by_from",
        } <= index_names(audit.engine, "decisions")
        assert audit.counts() == (0, 0)
        audit.upgrade()  # a second upgrade (another worker, a restart) changes nothing
        assert audit.revision() == "0005"
    finally:
        audit.close()


def test_the_previous_head_with_data_is_upgraded_with_the_data_kept(audit_url: str) -> None:
    audit = AuditLog(audit_url)
    audit.upgrade("0001")
    try:
        assert "record_id" not in {
            c["name"] for c in sa.inspect(audit.engine).get_columns("callbacks")
        }
        with audit.engine.begin() as db:
            for statement in LEGACY_ROWS:
                db.execute(sa.text(statement))
        old_columns = (
            "SELECT d.id, d.from_account, d.to_account, d.action, d.remark, d.result_code,"
            " d.result_info, d.outcome, d.hook, c.client_ip FROM decisions d"
            " JOIN callbacks c ON c.id = d.callback_id ORDER BY d.id"
        )
        with audit.engine.connect() as db:
            before = [dict(row) for row in db.execute(sa.text(old_columns)).mappings()]
        audit.upgrade()
        assert audit.revision() == "0005"
        assert audit.counts() == (2, 3)
        # Every old row kept as it was, read as a friend response with no wording.
        after = list(reversed(audit.latest()))
        assert [{key: row[key] for key in before[0]} for row in after] == before
        assert {(row["command"], row["wording"]) for row in after} == {
            ("Sns.CallbackPrevFriendResponse", "")
        }
        with audit.engine.connect() as db:
            ids = db.execute(sa.text("SELECT id, record_id FROM callbacks ORDER BY id")).all()
            decisions = db.execute(
                sa.text("SELECT callback_id, record_id FROM decisions ORDER BY id")
            ).all()
        assert [tuple(row) for row in ids] == [(1, "legacy-1"), (2, "legacy-2")]
        assert [tuple(row) for row in decisions] == [
            (1, "legacy-1"),
            (1, "legacy-1"),
            (2, "legacy-2"),
        ]
        # The upgraded log takes new records after the old ones, and prunes both.
        audit.ship([record("carol", "dan")])
        assert audit.counts() == (3, 4)
        assert audit.since(3)[0]["to_account"] == "dan"
        assert audit.prune(before_ms=NOW * 1000) == 2
        assert audit.counts() == (1, 1)
    finally:
        audit.close()


def test_0004_with_data_is_upgraded_to_the_whole_flow_and_back(audit_url: str) -> None:
    audit = AuditLog(audit_url)
    audit.upgrade("0004")
    try:
        columns = {c["name"] for c in sa.inspect(audit.engine).get_columns("decisions")}
        assert "command" not in columns
        assert "wording" not in columns
        with audit.engine.begin() as db:
            for statement in LEGACY_ROWS:
                db.execute(sa.text(statement))
        audit.upgrade()
        assert audit.revision() == "0005"
        assert "decisions_by_command" in index_names(audit.engine, "decisions")
        with audit.engine.connect() as db:
            commands = db.execute(sa.text("SELECT DISTINCT command FROM callbacks")).all()
        assert [tuple(row) for row in commands] == [("Sns.CallbackPrevFriendResponse",)]
        exported = list(audit.export())
        assert [row["command"] for row in exported] == ["Sns.CallbackPrevFriendResponse"] * 3
        assert [row["to_account"] for row in exported] == ["eve", "al", "cy"]
        # A request after the upgrade sits beside the old responses.
        request = record("mallory", "alice", command="Sns.CallbackPrevFriendAdd")
        request["items"][0]["wording"] = "add me"
        audit.ship([request])
        newest = audit.latest(limit=1)[0]
        assert (newest["command"], newest["wording"]) == ("Sns.CallbackPrevFriendAdd", "add me")
        # Down to 0004 (responses only): the request goes, the old rows stay.
        _downgrade(audit, "0004")
        assert audit.revision() == "0004"
        assert audit.counts() == (2, 3)
    finally:
        audit.close()


def _downgrade(audit: AuditLog, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from example_app.audit_log import MIGRATIONS

    with audit.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_a_database_of_the_hand_written_layer_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(LEGACY_SCHEMA)
        for statement in LEGACY_ROWS:
            db.execute(statement)
        db.commit()
    # The frozen clock: rows of 2023 are within the retention.
    app = create_app(example_config(str(path), FRIENDCB_CLOCK=FrozenClock(NOW)))
    store = get_service(app).store
    try:
        assert store.audit.revision() == "0005"
        assert store.counts() == (2, 3)
        assert [row["to_account"] for row in store.latest()] == ["cy", "al", "eve"]
    finally:
        store.close()


def test_flask_db_upgrade_migrates_the_configured_database(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "EXAMPLE_DATABASE_URL": postgres_url,
        "EXAMPLE_DATABASE": str(tmp_path / "local.sqlite3"),
        "FRIENDCB_SDKAPPID": "1400000001",
        "FRIENDCB_TOKEN": "t",
    }
    command = [sys.executable, "-m", "flask", "--app", "example_app", "db"]
    upgrade = subprocess.run(
        [*command, "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    current = subprocess.run(
        [*command, "current"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert "0005 (head)" in current.stdout, current.stdout + current.stderr
    audit = AuditLog(postgres_url)
    assert audit.revision() == "0005"
    audit.close()


def _search_statements(log: AuditLog, contains: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """The rows of the page's account search, and the SQL it ran (statement, parameters)."""
    ran: list[Any] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        ran.append((statement, parameters))

    sa.event.listen(log.engine, "before_cursor_execute", capture)
    try:
        rows = log.search(contains=contains, limit=500)
    finally:
        sa.event.remove(log.engine, "before_cursor_execute", capture)
    return rows, ran


SEARCH_ACCOUNTS = ["Bob_1", "bobby", "rob%cat", "alice", "BOBCAT", "ro_b", "nobody"]


# A text without three letters or digits in a row has no trigram to narrow the index with:
# the page's search reads it in slices.
@pytest.mark.parametrize(
    ("contains", "sliced"),
    [("bob", False), ("zzz", False), ("OB", True), ("b%c", True), ("o_b", True)],
)
def test_account_search_on_postgresql_reads_trigram_indexes(
    postgres_url: str, contains: str, sliced: bool
) -> None:
    log = AuditLog(postgres_url)
    log.upgrade()
    try:
        log.ship([record(f"from-{a}", f"to-{b}") for a in SEARCH_ACCOUNTS for b in SEARCH_ACCOUNTS])
        rows, ran = _search_statements(log, contains)
        # Case-insensitive, with % and _ taken literally: the same rows as a filter in Python.
        wanted = contains.lower()
        expected = sorted(
            (f"from-{a}", f"to-{b}")
            for a in SEARCH_ACCOUNTS
            for b in SEARCH_ACCOUNTS
            if wanted in f"from-{a}".lower() or wanted in f"to-{b}".lower()
        )
        assert sorted((row["from_account"], row["to_account"]) for row in rows) == expected
        # With its indexes, the page's search is one query whatever its time budget; a text
        # that trigrams cannot narrow is read in slices (here one holds the whole log).
        log._accounts_indexed()  # asked once, before the statements are counted
        ran_before = len(ran)
        sa.event.listen(log.engine, "before_cursor_execute", lambda *a: ran.append(a[2:4]))
        page = log.search_page(
            contains=contains, before_id=log.last_decision_id() + 1, limit=500, budget_s=0
        )
        assert (page.rows, page.next_before, page.partial) == (rows, None, False)
        # The sliced path asks for the oldest id first; the indexed path runs the search alone.
        asked_oldest = any("min(decisions.id)" in str(item[0]) for item in ran[ran_before:])
        assert asked_oldest == sliced
        # The planner takes the indexes it can: with a sequential scan priced out, the plan of
        # the very statement the search ran reads both trigram indexes.
        (statement, parameters) = next(item for item in ran if "ILIKE" in item[0].upper())
        with log.engine.connect() as db:
            db.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(
                str(row[0]) for row in db.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
        if not sliced:
            assert "decisions_from_trgm" in plan, plan
            assert "decisions_to_trgm" in plan, plan
    finally:
        log.close()


def test_without_pg_trgm_the_upgrade_warns_and_search_still_works(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that may create tables but not extensions (no CREATE on its database).
    url = postgres_server.new_database()
    name = sa.make_url(url).database
    role = f"plain_{name}"
    postgres_server.sql(f'CREATE ROLE "{role}" LOGIN')
    postgres_server.sql(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"', database=name)
    caplog.set_level(logging.WARNING, logger="example_app.audit")
    log = AuditLog(sa.make_url(url).set(username=role))
    try:
        log.upgrade()
        assert log.revision() == "0005"
        assert "pg_trgm" in caplog.text
        assert "InsufficientPrivilege" in caplog.text
        assert not {"decisions_from_trgm", "decisions_to_trgm"} & index_names(
            log.engine, "decisions"
        )
        log.ship([record("carol", "dan"), record("erin", "bobcat")])
        assert [row["to_account"] for row in log.search(contains="BOB")] == ["bobcat"]
        # Without them, the page's search reads slices of the log (here one holds it all).
        page = log.search_page(contains="BOB", before_id=log.last_decision_id() + 1)
        assert [row["to_account"] for row in page.rows] == ["bobcat"]
        assert (page.next_before, page.partial) == (None, False)
    finally:
        log.close()


# -- the URL at start-up ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a SQLAlchemy URL"),
        ("mysql://root:hunter2@db/audit", "only postgresql and sqlite are supported"),
        ("postgresql+nosuchdriver://u:hunter2@127.0.0.1/db", "driver that is not installed"),
    ],
)
def test_a_bad_url_is_one_line_naming_the_variable(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        create_app(example_config(str(tmp_path / "db"), EXAMPLE_DATABASE_URL=url))
    text = str(raised.value)
    assert text.startswith("EXAMPLE_DATABASE_URL: ")
    assert message in text
    assert "\n" not in text
    assert "hunter2" not in text


def test_an_unreachable_database_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://audit:hunter2@127.0.0.1:{free_port()}/audit"
    with pytest.raises(ConfigError) as raised:
        create_app(example_config(str(tmp_path / "db"), EXAMPLE_DATABASE_URL=url))
    text = str(raised.value)
    assert text.startswith("EXAMPLE_DATABASE_URL: cannot reach the audit database ")
    assert "\n" not in text
    assert "hunter2" not in text
    # python -m example_app (make run): that line on stderr, no traceback, a failing status.
    result = subprocess.run(
        [sys.executable, "-m", "example_app"],
        cwd=ROOT,
        env={"EXAMPLE_DATABASE_URL": url, "EXAMPLE_DATABASE": str(tmp_path / "db")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("example_app: ")]
    assert errors == [f"example_app: {text}"], result.stderr
    assert "Traceback" not in result.stderr


# -- shipping --------------------------------------------------------------------------------


def test_a_batch_shipped_twice_writes_each_row_once(log: AuditLog) -> None:
    batch = [record("bob", "a", "b"), record("ann", "c")]
    assert log.ship(batch) == ShippedBatch((batch[0]["record_id"], batch[1]["record_id"]), 3)
    log.ship(batch)
    log.ship([*batch[1:], record("cy", "d")])
    assert log.counts() == (3, 4)
    rows = log.latest()
    assert sorted(row["to_account"] for row in rows) == ["a", "b", "c", "d"]


def test_a_record_spooled_before_the_whole_flow_is_shipped_as_a_response(log: AuditLog) -> None:
    # A spool written by the previous version: no command, no wording, no pair accounts.
    old = record("bob", "alice")
    assert "command" not in old
    pair = record("dave", "farm01", command="Sns.CallbackBlackListAdd")
    pair["items"][0]["from_account"] = "erin"
    log.ship([old, pair])
    newest, oldest = log.latest()
    assert (oldest["command"], oldest["from_account"], oldest["wording"]) == (
        "Sns.CallbackPrevFriendResponse",
        "bob",
        "",
    )
    # A pair's own From_Account wins over the callback's.
    assert (newest["command"], newest["from_account"]) == ("Sns.CallbackBlackListAdd", "erin")
    assert log.blocked_by_users(0, 1) == [{"account": "farm01", "users": 1, "last_ms": NOW * 1000}]


def test_a_spool_replayed_twice_writes_each_row_once(log: AuditLog, tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool.sqlite3"))
    records = [record("bob", f"to{i}") for i in range(7)]
    for each in records:
        spool.append(each)
    # A drainer ships a batch, then dies before acknowledging it: its lease runs out and
    # another drainer takes the same batch again.
    first = Drainer(spool, log, batch=5, lease=0.2)
    claimed = spool.claim(5, lease_seconds=0.2)
    log.ship(claimed.records)
    assert log.counts() == (5, 5)
    time.sleep(0.3)
    second = Drainer(spool, log, batch=5, lease=0.2)
    while second.ship_once() == "shipped":
        pass
    assert spool.pending() == 0
    assert log.counts() == (7, 7)
    # And the whole spool once more, from a copy taken before it was drained.
    for each in records:
        spool.append(each)
    while first.ship_once() == "shipped":
        pass
    assert log.counts() == (7, 7)
    with log.engine.connect() as db:
        distinct = db.execute(sa.text("SELECT count(DISTINCT record_id) FROM callbacks")).scalar()
    assert distinct == 7
    # Written once because the second insert was a no-op, not because it was refused.
    with contextlib.closing(sqlite3.connect(spool.path)) as db:
        assert db.execute("SELECT count(*) FROM rejected").fetchone() == (0,)
    spool.close()


def test_hostile_text_is_stored_not_refused(log: AuditLog, tmp_path: Path) -> None:
    app = create_app(
        example_config(
            str(tmp_path / "db"), EXAMPLE_DATABASE_URL=str(log.engine.url.render_as_string(False))
        )
    )
    service = get_service(app)
    try:
        client = app.test_client()
        hostile = "a\x00b\ud800c" + "\u202e" * 10 + "x" * 5000
        body = json.dumps(
            friend_response_body(
                "bob", [response_item("nul\x00", "Response_Action_Reject", remark=hostile)]
            ),
            ensure_ascii=True,
        )
        response = client.post(
            f"/im/callback?{callback_query(SDKAPPID, token=TOKEN)}",
            data=body,
            content_type="application/json",
        )
        assert response.status_code == 200
        service.drainer.sync(timeout=10)
        (row,) = service.store.latest()
        assert row["to_account"] == "nul\ufffd"
        assert row["remark"].startswith("a\ufffdb\ufffdc")
        assert len(row["remark"]) == len(hostile)
    finally:
        service.store.close()


def test_observers_hear_of_each_batch_once_committed(log: AuditLog, tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool.sqlite3"))
    drainer = Drainer(spool, log, batch=2)
    heard: list[tuple[ShippedBatch, tuple[int, int]]] = []

    def observer(batch: ShippedBatch) -> None:
        heard.append((batch, log.counts()))  # already visible to another connection

    def failing(batch: ShippedBatch) -> None:
        raise RuntimeError("an observer's own bug")

    drainer.on_shipped += [failing, observer]
    records = [record("bob", "a"), record("bob", "b", "c"), record("ann", "d")]
    for each in records:
        spool.append(each)
    while drainer.ship_once() == "shipped":
        pass
    assert [batch.record_ids for batch, _ in heard] == [
        (records[0]["record_id"], records[1]["record_id"]),
        (records[2]["record_id"],),
    ]
    assert [batch.decisions for batch, _ in heard] == [3, 1]
    assert [counts for _, counts in heard] == [(2, 3), (3, 4)]
    spool.close()


def test_records_spooled_in_a_stream_are_shipped_in_gathered_batches(tmp_path: Path) -> None:
    """A record spooled alone is not shipped alone: the drainer lets the batch gather for
    ``linger`` seconds; a reader waiting for its own records does not wait for that."""
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    log.upgrade()
    spool = Spool(str(tmp_path / "spool.sqlite3"))
    sizes: list[int] = []
    # Received now: the drainers prune what is past the retention by the real clock.
    now_ms = int(time.time() * 1000)

    def gathered(linger: float) -> list[int]:
        sizes.clear()
        drainer = Drainer(spool, log, linger=linger)
        drainer.on_shipped.append(lambda batch: sizes.append(len(batch.record_ids)))
        try:
            for _ in range(20):
                drainer.appended(spool.append(record("bob", "a", received_at_ms=now_ms)))
                time.sleep(0.005)
            drainer.sync(timeout=5)
            wait_until(lambda: sum(sizes) == 20, "every record shipped")
        finally:
            drainer.stop()
        return list(sizes)

    try:
        assert len(gathered(linger=0.5)) <= 3
        assert len(gathered(linger=0.0)) > 3  # the cost the linger saves: about a batch a record
        drainer = Drainer(spool, log, linger=30.0)
        try:
            # The first record starts the drainer, which ships it and then lingers ...
            drainer.appended(spool.append(record("ann", "b", received_at_ms=now_ms)))
            wait_until(lambda: log.counts()[0] == 41, "the first record shipped")
            # ... so the next one would wait out the 30 s, unless its reader cuts it short.
            drainer.appended(spool.append(record("ann", "c", received_at_ms=now_ms)))
            started = time.monotonic()
            drainer.sync(timeout=5)
            assert time.monotonic() - started < 2
            assert log.counts()[0] == 42
        finally:
            drainer.stop()
    finally:
        spool.close()
        log.close()


# -- the spool's limit -----------------------------------------------------------------------


def test_a_spool_over_its_limit_is_a_loud_error_and_callbacks_are_still_answered(
    example: Callable[..., ExampleService], caplog: pytest.LogCaptureFixture
) -> None:
    service = example(EXAMPLE_AUDIT_SPOOL_LIMIT=3)
    state = get_service(service.app)
    with contextlib.closing(sqlite3.connect(service.database)) as db:
        db.execute("ALTER TABLE callbacks RENAME TO callbacks_away")
    with caplog.at_level(logging.WARNING, logger="example_app.audit"):
        for n in range(6):
            assert service.callback(f"user{n}", "alice") == [(0, "")]
        wait_until(lambda: any(r.levelno == logging.ERROR for r in caplog.records), "no error said")
        assert state.spool.pending() == 6
        with contextlib.closing(sqlite3.connect(service.database)) as db:
            db.execute("ALTER TABLE callbacks_away RENAME TO callbacks")
        wait_until(lambda: state.spool.pending() == 0, "the spool was not shipped")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once a minute, not once a callback
    assert "over EXAMPLE_AUDIT_SPOOL_LIMIT (3)" in errors[0]
    assert service.store.counts() == (6, 6)


# -- retention -------------------------------------------------------------------------------


def test_retention_prunes_old_callbacks_in_small_batches(log: AuditLog, tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool.sqlite3"))
    clock = FrozenClock(NOW)
    drainer = Drainer(spool, log, clock=clock, retention_days=90, prune_batch=4)
    old = [record("old", "x", "y", received_at_ms=NOW * 1000 - 91 * DAY_MS) for _ in range(10)]
    new = [record("new", "z", received_at_ms=NOW * 1000 - 89 * DAY_MS) for _ in range(3)]
    log.ship(old + new)
    assert log.counts() == (13, 23)
    assert drainer.prune() == 10
    assert log.counts() == (3, 3)
    assert {row["from_account"] for row in log.latest()} == {"new"}
    spool.close()


def test_retention_is_a_setting() -> None:
    from example_app.settings import ExampleSettings

    assert ExampleSettings().audit_retention_days == 90
    settings = ExampleSettings.from_config({"EXAMPLE_AUDIT_RETENTION_DAYS": "30"})
    assert settings.audit_retention_days == 30
    with pytest.raises(ConfigError, match=r"^EXAMPLE_AUDIT_RETENTION_DAYS"):
        ExampleSettings.from_config({"EXAMPLE_AUDIT_RETENTION_DAYS": "0"})


# -- export ----------------------------------------------------------------------------------


@pytest.fixture
def exported(example: Callable[..., ExampleService]) -> ExampleService:
    service = example()
    service.callback("bob", response_item("=cmd", remark="hi"), "alice")
    service.clock.now += 3600
    service.callback("carol", response_item("dan", "Response_Action_Reject"))
    get_service(service.app).drainer.sync()
    return service


def run_export(service: ExampleService, *args: str) -> Any:
    return service.app.test_cli_runner().invoke(args=["audit", "export", *args])


def test_export_writes_one_json_line_per_decision(exported: ExampleService) -> None:
    result = run_export(exported)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [tuple(line) for line in lines] == [EXPORT_FIELDS] * 3
    assert [(line["from_account"], line["to_account"]) for line in lines] == [
        ("bob", "=cmd"),
        ("bob", "alice"),
        ("carol", "dan"),
    ]
    assert lines[2]["policy"] == "declining"
    assert lines[2]["received_at_ms"] == NOW * 1000 + 3600 * 1000
    assert lines[0]["client_ip"] == "127.0.0.1"


def test_export_since_and_as_csv(exported: ExampleService) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 1800))
    result = run_export(exported, "--since", since, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(row["from_account"], row["to_account"], row["policy"]) for row in rows] == [
        ("carol", "dan", "declining")
    ]
    everything = list(csv.DictReader(io.StringIO(run_export(exported, "--format", "csv").output)))
    # A value a spreadsheet would run as a formula is quoted.
    assert everything[0]["to_account"] == "'=cmd"


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01", ""])
def test_export_refuses_a_bad_since(exported: ExampleService, since: str) -> None:
    result = run_export(exported, "--since", since)
    assert result.exit_code == 2
    assert "is not an ISO-8601 date or time" in result.output
    assert "Traceback" not in result.output
