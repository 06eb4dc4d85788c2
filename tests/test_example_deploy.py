"""example_app deployed as the README says: gunicorn, gevent workers, one SQLite file.

Several worker processes write the same database at once: no audit row is lost, the velocity
limit holds across them, and a live stream served by one worker shows what another decided.
"""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from example_app import PolicyCode
from example_app.store import Store
from flask_friendcb.testing import response_item

from .example_support import (
    access_log_args,
    documented_gunicorn_command,
    send,
    serve_example,
    workers_seen,
)

# Bounded: at most this many callbacks, from this many client threads.
MAX_CALLBACKS = 600
BATCH = 60
CLIENTS = 8


def next_event(reply: http.client.HTTPResponse, name: str, *, within: float) -> dict[str, str]:
    """The next Server-Sent Event called ``name``, as its fields."""
    deadline = time.monotonic() + within
    event: dict[str, str] = {}
    while True:
        assert time.monotonic() < deadline, f"no {name} event within {within} s"
        line = reply.readline().decode().rstrip("\n")
        if line:
            key, _, value = line.partition(": ")
            event[key] = value
        elif event.get("event") == name:
            return event
        else:
            event = {}


def test_the_documented_command_runs_two_gevent_workers() -> None:
    command = documented_gunicorn_command()
    assert command[command.index("--worker-class") + 1] == "gevent"
    assert command[command.index("--workers") + 1] == "2"
    assert command[-1] == "example_app:create_app()"


def test_two_workers_writing_at_once_lose_no_audit_row(tmp_path: Path) -> None:
    database = str(tmp_path / "audit.sqlite3")
    access = tmp_path / "access.log"
    sent = 0
    with (
        serve_example(database, args=access_log_args(access)) as address,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):
        # Batches until both workers have answered some: which one accepts is the kernel's
        # choice, so the first batch may all go to one.
        while sent < MAX_CALLBACKS and (sent == 0 or len(workers_seen(access)) < 2):
            batch = range(sent, sent + BATCH)
            answers = list(
                pool.map(
                    lambda i: send(
                        address,
                        f"user{i}",
                        f"friend{i}",
                        response_item(f"other{i}", "Response_Action_Reject"),
                    ),
                    batch,
                )
            )
            assert answers == [[0, 0]] * BATCH
            sent += BATCH
            time.sleep(0.2)  # let gunicorn flush its access log
    assert len(workers_seen(access)) == 2, f"one worker served all {sent} callbacks"
    assert Store(database).counts() == (sent, 2 * sent)


def test_the_velocity_limit_holds_across_workers(tmp_path: Path) -> None:
    database = str(tmp_path / "velocity.sqlite3")
    access = tmp_path / "access.log"
    limit = 20
    spanned = 0
    with (
        serve_example(
            database,
            env={"EXAMPLE_VELOCITY_LIMIT": str(limit)},
            args=access_log_args(access),
        ) as address,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):
        # Rounds, each with a responder of its own, until one round was served by both
        # workers: twice the limit of acceptances at once, of which exactly the limit pass.
        for round_ in range(MAX_CALLBACKS // (2 * limit)):
            offset = access.stat().st_size if access.exists() else 0
            bot = f"bot{round_}"
            codes = list(
                pool.map(lambda i, bot=bot: send(address, bot, f"v{i}")[0], range(2 * limit))
            )
            assert sorted(codes) == [0] * limit + [PolicyCode.VELOCITY] * limit
            time.sleep(0.2)  # let gunicorn flush its access log
            with access.open() as log:
                log.seek(offset)
                if len(set(log.read().split())) == 2:
                    spanned += 1
                    break
    assert spanned, "no round was served by both workers"
    rows = Store(database).latest(account=bot, limit=100)
    assert sum(row["result_code"] == 0 for row in rows) == limit


def test_a_live_stream_shows_a_callback_another_process_decided(tmp_path: Path) -> None:
    database = str(tmp_path / "live.sqlite3")
    with serve_example(database) as address:
        host, port = address.split(":")
        stream = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            stream.request("GET", "/events", headers={"Accept": "text/event-stream"})
            reply = stream.getresponse()
            assert reply.status == 200
            assert reply.getheader("Content-Type", "").startswith("text/event-stream")
            assert reply.readline() == b"retry: 2000\n"
            assert send(address, "mallory", response_item("x", remark="www.spam.com")) == [
                PolicyCode.CONTENT
            ]
            event = next_event(reply, "decision", within=10)
        finally:
            stream.close()
    data = json.loads(event["data"])
    assert event["id"] == str(data["id"])
    assert (data["from_account"], data["to_account"]) == ("mallory", "x")
    assert (data["blocked"], data["policy"], data["result_code"]) == (True, "content", 38003)
