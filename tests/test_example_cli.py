"""The service as a new user drives it from a terminal: `flask --app example_app ...` with bad
settings (one line, status 1, never a traceback or a secret), the blocklist commands agreeing
with the page's API, and an export whose CSV reads back as its JSONL."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.cli import cli as flask_cli

from example_app import create_app
from example_app.accounts import ACCOUNT_MAX_BYTES, account_problem
from example_app.cli import read_csv_export
from example_app.service import get_service
from flask_friendcb import ConfigError
from flask_friendcb.testing import response_item, signed_client

from .conftest import ExampleService, example_config
from .servers import free_port

BuildExample = Callable[..., ExampleService]
PASSWORD = "correct horse battery"


# -- bad settings: one line ------------------------------------------------------------------


@pytest.fixture
def in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory an empty folder of its own (what a command leaves there shows)."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def flask_command(env: dict[str, str], *args: str) -> Any:
    """``flask --app example_app ARGS`` as a terminal runs it, with ``env`` added."""
    runner = CliRunner()
    base = {"FRIENDCB_SDKAPPID": "1400000001", "FRIENDCB_TOKEN": "a token for the cli tests"}
    return runner.invoke(flask_cli, ["--app", "example_app", *args], env={**base, **env})


def bad_settings(folder: Path) -> list[tuple[dict[str, str], str, str]]:
    unreachable = f"postgresql+psycopg://op:hunter2-secret@127.0.0.1:{free_port()}/audit"
    database = str(folder / "example.sqlite3")
    return [
        (
            {"EXAMPLE_DATABASE_URL": "mysql://op:hunter2-secret@db/audit"},
            "EXAMPLE_DATABASE_URL",
            "",
        ),
        (
            {"EXAMPLE_DATABASE_URL": unreachable, "EXAMPLE_DATABASE": database},
            "EXAMPLE_DATABASE_URL",
            "",
        ),
        ({"EXAMPLE_PASSWORD": "short", "EXAMPLE_DATABASE": database}, "EXAMPLE_PASSWORD", ""),
        (
            {"EXAMPLE_DATABASE": str(folder / "no" / "such" / "dir" / "x.sqlite3")},
            "EXAMPLE_DATABASE",
            "does not exist",
        ),
        ({"EXAMPLE_DATABASE": ":memory:"}, "EXAMPLE_DATABASE", "must be the path of a file"),
        ({"EXAMPLE_DATABASE": str(folder)}, "EXAMPLE_DATABASE", "is a folder"),
        (
            {"EXAMPLE_DATABASE": str(folder / "not-a-database.sqlite3")},
            "EXAMPLE_DATABASE",
            "cannot open",
        ),
        # The policies' files beside the database, unusable: not policies that quietly allow.
        (
            {"EXAMPLE_DATABASE": str(folder / "blocklist-taken" / "example.sqlite3")},
            "EXAMPLE_DATABASE",
            "blocklist.sqlite3' is a folder",
        ),
        (
            {"EXAMPLE_DATABASE": str(folder / "velocity-taken" / "example.sqlite3")},
            "EXAMPLE_DATABASE",
            "velocity.lmdb'",
        ),
    ]


@pytest.mark.parametrize("case", range(9))
@pytest.mark.parametrize("command", [["audit", "export"], ["blocklist", "list"], ["db", "current"]])
def test_a_bad_setting_is_one_line_and_status_1(
    in_empty_folder: Path, tmp_path: Path, case: int, command: list[str]
) -> None:
    (tmp_path / "not-a-database.sqlite3").write_bytes(b"this is no SQLite file at all" * 100)
    (tmp_path / "blocklist-taken" / "blocklist.sqlite3").mkdir(parents=True)
    (tmp_path / "velocity-taken" / "velocity.lmdb").mkdir(parents=True)
    env, key, words = bad_settings(tmp_path)[case]
    result = flask_command(env, *command)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {key}: "), lines
    assert words in lines[0]
    assert "Traceback" not in result.output + result.stderr
    assert "hunter2-secret" not in result.output + result.stderr
    assert result.stdout == ""
    # Nothing made on the way: no folder for a typo, no ":memory:" files here.
    assert not (tmp_path / "no").exists()
    assert list(in_empty_folder.iterdir()) == []


def test_a_folder_named_with_url_characters_is_a_folder_like_any_other(tmp_path: Path) -> None:
    # "?" starts a URL's query and "%41" is an escape: in a path, they are the folder's name.
    folder = tmp_path / "odd?name%41 #é"
    folder.mkdir()
    database = folder / "example.sqlite3"
    result = flask_command({"EXAMPLE_DATABASE": str(database)}, "audit", "export")
    assert result.exit_code == 0, result.output
    assert database.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == [folder.name]


def test_outside_the_cli_a_bad_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^EXAMPLE_DATABASE: the folder .* does not exist"):
        create_app(example_config(str(tmp_path / "missing" / "db.sqlite3")))
    assert not (tmp_path / "missing").exists()


def test_a_cli_call_warns_once_about_the_development_defaults(
    in_empty_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"EXAMPLE_DATABASE": str(tmp_path / "example.sqlite3")}
    with caplog.at_level(logging.WARNING, logger="example_app"):
        result = CliRunner().invoke(
            flask_cli,
            ["--app", "example_app", "blocklist", "list"],
            env={**env, "FRIENDCB_SDKAPPID": None, "FRIENDCB_TOKEN": None},
        )
    assert result.exit_code == 0, result.output
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("the development token is in use")


def test_a_misspelt_setting_is_named_with_the_one_meant(
    in_empty_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "EXAMPLE_DATABASE": str(tmp_path / "example.sqlite3"),
        "EXAMPLE_VELOCITY_LIMITS": "2",
        "EXAMPLE_NOTHING_LIKE_IT": "1",
    }
    with caplog.at_level(logging.WARNING, logger="example_app"):
        result = flask_command(env, "blocklist", "list")
    assert result.exit_code == 0, result.output
    warnings = [record.getMessage() for record in caplog.records]
    assert (
        "EXAMPLE_VELOCITY_LIMITS is not a setting of example_app, and has no effect "
        "(did you mean EXAMPLE_VELOCITY_LIMIT?)"
    ) in warnings
    assert "EXAMPLE_NOTHING_LIKE_IT is not a setting of example_app, and has no effect" in warnings


# -- one account rule for the CLI, the API and the page --------------------------------------


@pytest.mark.parametrize(
    "account",
    ["a" * (ACCOUNT_MAX_BYTES + 1), "x" * 5000, "账" * 11, "", "bad\ud800"],
)
def test_the_cli_and_the_api_refuse_the_same_accounts_with_the_same_words(
    example: BuildExample, account: str
) -> None:
    service = example()
    problem = account_problem(account)
    assert problem is not None
    client = service.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    page = client.get("/").get_data(as_text=True)
    assert f'data-account-max-bytes="{ACCOUNT_MAX_BYTES}"' in page
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    if "\ud800" not in account:  # a test client cannot send a lone surrogate as JSON text
        api = client.post(
            "/api/blocklist", json={"account": account}, headers={"X-CSRFToken": token}
        )
        assert api.status_code == 400
        assert api.json["fields"] == {"account": [problem]}
    cli = service.app.test_cli_runner().invoke(args=["blocklist", "add", account])
    assert cli.exit_code == 2, cli.output
    assert problem in cli.output
    assert service.blocklist.entries() == []


def test_an_account_of_exactly_32_bytes_is_blocked_by_both(example: BuildExample) -> None:
    service = example()
    account = "账" * 10 + "ab"  # 32 bytes
    assert account_problem(account) is None
    cli = service.app.test_cli_runner().invoke(args=["blocklist", "add", account])
    assert (cli.exit_code, cli.output) == (0, f"blocked {account}\n")


def test_list_has_a_header_and_shows_edge_spaces_and_backslashes(example: BuildExample) -> None:
    service = example()
    runner = service.app.test_cli_runner()
    for account in (" eve ", "ali\u200bce", "back\\slash"):
        assert runner.invoke(args=["blocklist", "add", account]).exit_code == 0
    lines = runner.invoke(args=["blocklist", "list"]).output.splitlines()
    assert lines[0] == "account\tadded (UTC)\treason"
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "\\x20eve\\x20",
        "ali\\u200bce",
        "back\\\\slash",
    ]


def test_removing_an_account_as_list_shows_it_says_how_to_type_it(example: BuildExample) -> None:
    service = example()
    runner = service.app.test_cli_runner()
    assert runner.invoke(args=["blocklist", "add", "ali\u200bce"]).exit_code == 0
    shown = runner.invoke(args=["blocklist", "list"]).output.splitlines()[1].split("\t")[0]
    refused = runner.invoke(args=["blocklist", "remove", shown])
    assert refused.exit_code == 1
    assert "in bash: blocklist remove $'ali\\u200bce'" in refused.output
    # A plain typo gets no such hint.
    typo = runner.invoke(args=["blocklist", "remove", "bob"])
    assert typo.output.strip() == "Error: bob is not on the blocklist"
    assert runner.invoke(args=["blocklist", "remove", "ali\u200bce"]).exit_code == 0


def test_adding_a_listed_account_keeps_its_reason_unless_told(example: BuildExample) -> None:
    service = example()
    runner = service.app.test_cli_runner()
    assert runner.invoke(args=["blocklist", "add", "eve", "--reason", "bot farm"]).exit_code == 0
    again = runner.invoke(args=["blocklist", "add", "eve", "--reason", "oops"])
    assert again.exit_code == 0
    assert again.output == (
        "eve is already blocked (since 2023-11-14T22:13:20Z, reason: bot farm); unchanged "
        "(--replace gives it this reason)\n"
    )
    assert [entry.reason for entry in service.blocklist.entries()] == ["bot farm"]
    replaced = runner.invoke(args=["blocklist", "add", "eve", "--reason", "spam", "--replace"])
    assert (replaced.exit_code, replaced.output) == (0, "reason replaced for eve\n")
    assert [entry.reason for entry in service.blocklist.entries()] == ["spam"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("account=eve", "application/x-www-form-urlencoded"),
        ("not json", "application/json"),
        ('["eve"]', "application/json"),
        ('"eve"', "application/json"),
        ("", "application/json"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_api_says_what_body_it_wants(
    example: BuildExample, body: str, content_type: str, method: str
) -> None:
    client = example().app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    page = client.get("/").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = client.open(
        "/api/blocklist",
        method=method,
        data=body,
        headers={"X-CSRFToken": token, "Content-Type": content_type},
    )
    assert response.status_code == 400
    assert response.json["error"].startswith(
        'the body must be a JSON object sent as application/json: {"account": '
    )
    assert "Missing data" not in response.get_data(as_text=True)


# -- headers ---------------------------------------------------------------------------------


def test_only_a_refusal_carries_rate_limit_headers(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD, EXAMPLE_LOGIN_LIMIT="2/minute")
    client = service.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    fine = client.get("/api/stats", auth=("op", PASSWORD))
    assert fine.status_code == 200
    assert not [name for name, _ in fine.headers.items() if name.lower().startswith("x-ratelimit")]
    assert "Retry-After" not in fine.headers
    for n in range(2):
        assert client.get("/api/stats", auth=("op", f"guess-{n}")).status_code == 401
    for path in ("/api/stats", "/"):
        refused = client.get(path, auth=("op", "guess-2"))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 61


def test_the_default_login_limit_is_ten_wrong_passwords_a_minute(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD)
    client = service.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    codes = [client.get("/api/stats", auth=("op", f"guess-{n}")).status_code for n in range(11)]
    assert codes == [401] * 10 + [429]


def test_the_callback_skips_the_operator_pipeline(example: BuildExample) -> None:
    service = example(EXAMPLE_PASSWORD=PASSWORD)
    client = signed_client(service.app)
    response = client.callback()
    assert response.status_code == 200
    assert response.json["ActionStatus"] == "OK"
    # No session cookie, no security headers, no limiter: those serve the page's people.
    for header in ("Set-Cookie", "Content-Security-Policy", "X-Frame-Options", "Vary"):
        assert header not in response.headers, header
    assert response.headers["Content-Type"] == "application/json"
    head = service.app.test_client().head("/im/callback")
    assert head.status_code == 405
    assert head.data == b""
    assert head.headers["Allow"] == "POST"


# -- export ----------------------------------------------------------------------------------


def test_a_csv_export_reads_back_as_the_jsonl_export(example: BuildExample) -> None:
    service = example()
    hostile = [
        "=cmd|' /C calc'!A0",
        "+1",
        "-1",
        "@sum",
        "\tx",
        "'quoted",
        "''",
        "line\nbreak",
        'a "quote", a comma',
        "plain",
    ]
    service.callback("bob", *(response_item(account) for account in hostile))
    service.callback("carol", response_item("dan", "Response_Action_Reject"))
    service.callback("eve", response_item("x", remark="see www.example.com"))
    get_service(service.app).drainer.sync()
    runner = service.app.test_cli_runner()
    jsonl = runner.invoke(args=["audit", "export"])
    csv_out = runner.invoke(args=["audit", "export", "--format", "csv"])
    assert jsonl.exit_code == csv_out.exit_code == 0
    expected = [json.loads(line) for line in jsonl.output.splitlines()]
    assert len(expected) == len(hostile) + 2
    # Empty fields stay empty (an allowed item has no result_info, an undecided one no policy).
    assert any(row["result_info"] == "" and row["policy"] == "" for row in expected)
    assert list(read_csv_export(io.StringIO(csv_out.output))) == expected
    # And a spreadsheet still gets no formula.
    cells = csv_out.output.splitlines()
    assert ",'=cmd|" in cells[1]
    assert ",'," not in csv_out.output
    assert not [line for line in cells if line.endswith(",'")]


def test_no_memory_named_files_at_the_root_of_the_repo() -> None:
    root = Path(__file__).resolve().parent.parent
    assert not [name for name in os.listdir(root) if name.startswith(":memory:")]
