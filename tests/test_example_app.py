"""example_app as a whole: configuration, start-up, the audit log, and `python -m example_app`
(what `make run` runs), whose printed commands get an answer."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import multiprocessing
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from example_app import PolicyCode, config_from_env, create_app, get_service
from example_app.settings import ExampleSettings, is_loopback
from example_app.store import Store
from flask_friendcb import ConfigError
from flask_friendcb.testing import (
    callback_query,
    friend_response_body,
    response_item,
    signed_client,
)

from .conftest import NOW, SDKAPPID, TOKEN, ExampleService, example_config, serving
from .servers import ROOT, free_port, wait_for_port

BuildExample = Callable[..., ExampleService]


# -- configuration ---------------------------------------------------------------------------


def test_config_from_env_decodes_json_and_fills_dev_defaults() -> None:
    config = config_from_env(
        {
            "FRIENDCB_SDKAPPID": "1400000042",
            "FRIENDCB_TOKEN": "abc",
            "FRIENDCB_MAX_SKEW": "30",
            "OTHER": "x",
        }
    )
    assert config == {
        "FRIENDCB_SDKAPPID": 1400000042,
        "FRIENDCB_TOKEN": "abc",
        "FRIENDCB_MAX_SKEW": 30,
    }
    defaults = config_from_env({})
    assert defaults["FRIENDCB_SDKAPPID"] == 1400000000
    assert defaults["FRIENDCB_TOKEN"]


def test_config_from_env_keeps_digit_tokens_and_example_values_as_text() -> None:
    config = config_from_env(
        {
            "FRIENDCB_TOKEN": "123456",
            "EXAMPLE_PASSWORD": "007",
            "EXAMPLE_BANNED_WORDS": '["not", "json"]',
        }
    )
    assert config["FRIENDCB_TOKEN"] == "123456"
    assert config["EXAMPLE_PASSWORD"] == "007"
    assert config["EXAMPLE_BANNED_WORDS"] == '["not", "json"]'
    assert config_from_env({"FRIENDCB_TOKEN": '["new", "old"]'})["FRIENDCB_TOKEN"] == [
        "new",
        "old",
    ]


def test_unset_development_defaults_are_announced_with_the_console_url(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="example_app"):
        create_app({**config_from_env({}), "EXAMPLE_DATABASE": str(tmp_path / "db")})
    messages = [record.getMessage() for record in caplog.records]
    # One line, not one per key: every `flask --app example_app ...` command prints it.
    assert len(messages) == 1, messages
    warning = messages[0]
    assert warning.startswith("the development token is in use (FRIENDCB_TOKEN is unset")
    assert "https://<this host>/im/callback" in warning
    assert "Before a Friend Request Is Responded" in warning
    assert "Before a Friend Is Added" in warning


def test_a_development_sdkappid_alone_is_announced_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = {
        **config_from_env({"FRIENDCB_TOKEN": "real"}),
        "EXAMPLE_DATABASE": str(tmp_path / "db"),
    }
    with caplog.at_level(logging.WARNING, logger="example_app"):
        create_app(config)
    messages = [record.getMessage() for record in caplog.records]
    warning = next(m for m in messages if m.startswith("the development SdkAppid is in use"))
    assert "https://<this host>/im/callback" in warning


def test_settings_are_read_from_strings_with_defaults() -> None:
    settings = ExampleSettings.from_config(
        {
            "EXAMPLE_PORT": "8080",
            "EXAMPLE_VELOCITY_LIMIT": "5",
            "EXAMPLE_VELOCITY_WINDOW": "30.5",
            "EXAMPLE_BANNED_WORDS": " Casino , ,\uff33\uff30\uff21\uff2d, casino",
            "EXAMPLE_PASSWORD": "",
        }
    )
    assert (settings.port, settings.velocity_limit, settings.velocity_window) == (8080, 5, 30.5)
    assert settings.banned_words == ("casino", "spam")
    assert settings.password is None
    assert ExampleSettings.from_config({}) == ExampleSettings()
    assert ExampleSettings().velocity_limit == 20
    assert ExampleSettings().velocity_window == 60


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("EXAMPLE_PORT", "0"),
        ("EXAMPLE_PORT", "http"),
        ("EXAMPLE_VELOCITY_LIMIT", "0"),
        ("EXAMPLE_VELOCITY_LIMIT", "2.5"),
        ("EXAMPLE_VELOCITY_WINDOW", "-1"),
        ("EXAMPLE_VELOCITY_WINDOW", "inf"),
        ("EXAMPLE_BANNED_WORDS", 42),
    ],
)
def test_invalid_settings_name_their_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{key}"):
        ExampleSettings.from_config({key: value})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])  # noqa: S104
def test_a_non_loopback_host_needs_a_password(host: str) -> None:
    with pytest.raises(ConfigError, match=r"^EXAMPLE_PASSWORD: is required"):
        ExampleSettings.from_config({"EXAMPLE_HOST": host})
    password = "a long enough password"
    assert ExampleSettings.from_config({"EXAMPLE_HOST": host, "EXAMPLE_PASSWORD": password})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.1", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- audit log -------------------------------------------------------------------------------


def test_every_callback_and_decision_is_audited(example: BuildExample) -> None:
    service = example()
    service.clock.now += 0.25
    service.blocklist.add("eve", "")
    body = friend_response_body(
        "bob",
        [
            response_item("eve"),
            response_item("alice", "Response_Action_Agree", remark="Al", tag_name="Work"),
            response_item("carol", "Response_Action_Reject"),
        ],
        requester_account="bob-admin",
        event_time_ms=1_699_999_999_123,
    )
    response = signed_client(service.app).callback(body, ClientIP="203.0.113.9", OptPlatform="iOS")
    assert response.status_code == 200
    get_service(service.app).drainer.sync()  # written behind the answer
    with contextlib.closing(sqlite3.connect(service.database)) as db:
        db.row_factory = sqlite3.Row
        (callback,) = db.execute("SELECT * FROM callbacks").fetchall()
        decisions = db.execute("SELECT * FROM decisions ORDER BY position").fetchall()
    record_id = callback["record_id"]
    assert re.fullmatch("[0-9a-f]{32}", record_id)
    assert {d["record_id"] for d in decisions} == {record_id}
    assert dict(callback) == {
        "record_id": record_id,
        "id": 1,
        "command": "Sns.CallbackPrevFriendResponse",
        "received_at_ms": NOW * 1000 + 250,
        "event_time_ms": 1_699_999_999_123,
        "sdkappid": SDKAPPID,
        "from_account": "bob",
        "requester_account": "bob-admin",
        "client_ip": "203.0.113.9",
        "platform": "iOS",
    }
    assert [
        (
            d["to_account"],
            d["action"],
            d["remark"],
            d["tag_name"],
            d["result_code"],
            d["result_info"],
            d["outcome"],
            d["hook"],
        )
        for d in decisions
    ] == [
        (
            "eve",
            "Response_Action_AgreeAndAdd",
            "",
            "",
            PolicyCode.BLOCKLISTED,
            "the requester is blocked",
            "rejected",
            "example_app.policies.blocklist",
        ),
        ("alice", "Response_Action_Agree", "Al", "Work", 0, "", "no_decision", None),
        (
            "carol",
            "Response_Action_Reject",
            "",
            "",
            0,
            "",
            "allowed",
            "example_app.policies.declining",
        ),
    ]
    assert {(d["callback_id"], d["received_at_ms"], d["from_account"]) for d in decisions} == {
        (1, NOW * 1000 + 250, "bob")
    }


def test_a_callback_with_no_items_is_audited_too(example: BuildExample) -> None:
    service = example()
    assert service.callback("bob") == []
    assert service.store.counts() == (1, 0)


def test_refused_requests_write_no_audit_row(example: BuildExample) -> None:
    service = example()
    client = signed_client(service.app)
    assert client.callback(token="forged").status_code == 401
    assert client.callback(b"not json").status_code == 400
    assert service.store.counts() == (0, 0)


def test_the_audit_log_survives_a_restart(example: BuildExample) -> None:
    first = example()
    first.callback("bob", "alice")
    first.blocklist.add("eve", "spam")
    first.store.close()
    second = example()
    assert second.store.counts() == (1, 1)
    assert [entry.account for entry in second.blocklist.entries()] == ["eve"]
    assert second.app.secret_key == first.app.secret_key
    with contextlib.closing(sqlite3.connect(second.database)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _open_store(path: str) -> None:
    """Open the store at ``path``; in a child process, an error is a non-zero exit code (and a
    traceback on the captured stderr)."""
    Store(path).secret_key()


def test_workers_starting_at_once_on_a_new_database_all_open_it(tmp_path: Path) -> None:
    # gunicorn starts its workers together and each creates the app, hence the store, on the
    # same new file: both want it to themselves to switch it to WAL mode, and SQLite answers
    # one of them "locked" at once rather than let them wait on each other. Two workers, as
    # the documented command starts, forked together, round after round.
    context = multiprocessing.get_context("fork")
    for round_ in range(100):
        path = str(tmp_path / f"new{round_}.sqlite3")
        workers = [context.Process(target=_open_store, args=(path,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert [worker.exitcode for worker in workers] == [0, 0]
        with contextlib.closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_failing_audit_database_still_answers_tencent_and_keeps_the_record(
    example: BuildExample, caplog: pytest.LogCaptureFixture
) -> None:
    service = example()
    state = get_service(service.app)
    with contextlib.closing(sqlite3.connect(service.database)) as db:
        db.execute("ALTER TABLE decisions RENAME TO decisions_away")
    with caplog.at_level(logging.WARNING, logger="example_app.audit"):
        assert service.callback("bob", "alice", response_item("x", remark="www.a.com")) == [
            (0, ""),
            (PolicyCode.CONTENT, "the remark holds a link"),
        ]
        assert service.callback("bob") == []
        deadline = time.monotonic() + 10
        while not any("is unavailable" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning of the outage"
            time.sleep(0.05)
        assert state.spool.pending() == 2
        with contextlib.closing(sqlite3.connect(service.database)) as db:
            db.execute("ALTER TABLE decisions_away RENAME TO decisions")
        deadline = time.monotonic() + 20
        while state.spool.pending():
            assert time.monotonic() < deadline, "the spool was not shipped"
            time.sleep(0.05)
    assert service.store.counts() == (2, 2)
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if "is unavailable" in m]) == 1
    assert len([m for m in said if "is back:" in m]) == 1


# -- over HTTP -------------------------------------------------------------------------------


def test_signed_callbacks_over_http_are_decided_and_audited(tmp_path: Path) -> None:
    database = str(tmp_path / "http.sqlite3")
    app = create_app(example_config(database, EXAMPLE_VELOCITY_LIMIT=2))

    def post(body: dict[str, object], token: str = TOKEN) -> tuple[int, dict[str, object]]:
        connection = http.client.HTTPConnection(*address.split(":"), timeout=10)
        try:
            connection.request(
                "POST",
                f"/im/callback?{callback_query(SDKAPPID, token=token)}",
                body=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
            reply = connection.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            connection.close()

    with serving(app) as address:
        status, answer = post(friend_response_body("bob", ["a", "b", "c"]))
        assert status == 200
        assert [i["ResultCode"] for i in answer["ResultItem"]] == [0, 0, PolicyCode.VELOCITY]
        status, answer = post(friend_response_body("bob", ["d"]), token="forged")
        assert (status, answer["ErrorCode"]) == (401, 38902)
    assert Store(database).counts() == (1, 3)


# -- python -m example_app -------------------------------------------------------------------


def test_make_run_prints_commands_that_work(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "EXAMPLE_PORT": str(port), "EXAMPLE_DATABASE": str(tmp_path / "db")}
    env.pop("FRIENDCB_TOKEN", None)
    env.pop("FRIENDCB_SDKAPPID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        started = time.monotonic()
        while not any(line.startswith("curl ") for line in lines):
            assert time.monotonic() - started < 30, lines
            lines.append(process.stdout.readline())
        assert f"Callback URL: http://127.0.0.1:{port}/im/callback\n" in lines
        assert f"Operator page: http://127.0.0.1:{port}/\n" in lines
        wait_for_port(port, process)

        curl = next(line for line in lines if line.startswith("curl "))
        answer = subprocess.run(
            shlex.split(curl), capture_output=True, text=True, timeout=30, check=True
        )
        result = json.loads(answer.stdout)
        assert result["ActionStatus"] == "OK"
        assert [item["ResultCode"] for item in result["ResultItem"]] == [PolicyCode.CONTENT, 0]

        send = next(line.strip() for line in lines if "friendcb send" in line)
        command = shlex.split(send)
        assert command[0] == ".venv/bin/flask"
        answer = subprocess.run(
            [sys.executable, "-m", "flask", *command[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        status, _, text = answer.stdout.partition(" ")
        assert status == "200"
        assert json.loads(text)["ResultItem"] == [
            {
                "To_Account": "spammer1",
                "ResultCode": PolicyCode.CONTENT,
                "ResultInfo": "the remark holds a link",
            }
        ]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert Store(str(tmp_path / "db")).counts() == (2, 3)
