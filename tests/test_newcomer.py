"""What a new user meets first, tried as they would: the README's install section and quick
start, its example commands, and `make run` when something is wrong."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app import PolicyCode
from example_app.__main__ import reachable_host
from flask_friendcb.cli import send_command
from flask_friendcb.testing import friend_response_body, response_item, signed_client

from .servers import ROOT, free_port, wait_for_port

README = (ROOT / "README.md").read_text()


def readme_section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.DOTALL | re.MULTILINE)
    assert match is not None, f"the README has a {title!r} section"
    return match.group(1)


# -- the quick start -------------------------------------------------------------------------


def quick_start_code() -> str:
    match = re.search(r"```python\n(.*?)```", readme_section("Quick start"), re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_quick_start_runs_as_printed_and_blocks_a_banned_requester() -> None:
    namespace: dict[str, Any] = {"__name__": "readme_quick_start"}
    exec(compile(quick_start_code(), "README.md (Quick start)", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    assert isinstance(app, Flask)
    # Without the names, a hook's NameError lets the banned requester in (the error policy).
    banned = sorted(namespace.get("BANNED", ["spammer1"]))[0]
    staff = sorted(namespace.get("STAFF", ["support"]))[0]
    client = signed_client(app)  # signs with the app's own settings: the quick start's token
    body = friend_response_body(
        "bob", [banned, response_item("alice", "Response_Action_Agree"), "carol"]
    )
    response = client.callback(body, path="/im/callback")
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.json["ResultItem"]
    assert [(r["To_Account"], r["ResultCode"]) for r in results] == [
        (banned, 38001),
        ("alice", 0),
        ("carol", 0),
    ]
    assert results[0]["ResultInfo"] == "requester is banned"
    # A staff member's acceptance is decided by the second hook (decisive Allow).
    staff_answer = client.callback(friend_response_body(staff, ["dave"]), path="/im/callback")
    assert [r["ResultCode"] for r in staff_answer.json["ResultItem"]] == [0]
    # The token is the quick start's: a callback signed with another is refused.
    assert client.callback(body, token="another token").status_code == 401


# -- the install section: make dist ----------------------------------------------------------


def test_install_section_names_what_works() -> None:
    install = readme_section("Install")
    # The documentation site's quick start says the same.
    quick_start = (ROOT / "docs" / "quickstart.md").read_text()
    for text in (install, quick_start):
        assert "pip install .  " in text
        assert "git+" in text
        assert "make dist" in text
        assert "pip install flask-friendcb\n" not in text  # not on PyPI yet
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^dist:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None, "the Makefile has a dist target"
    assert "-m build" in recipe.group(1)
    assert "twine check" in recipe.group(1)


def test_a_wheel_and_an_sdist_build_and_pass_twine_check(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    # The same command as `make dist`, into a directory of the test's own.
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheels = sorted(out.glob("*.whl"))
    sdists = sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1
    assert len(sdists) == 1
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels + sdists)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2, check.stdout
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert "flask_friendcb/py.typed" in names
    assert not [name for name in names if name.startswith(("tests/", "example_app/"))]
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        text = wheel.read(metadata).decode()
    assert "Description-Content-Type: text/markdown" in text
    assert "## Quick start" in text  # the README is the long description
    with tarfile.open(sdists[0]) as sdist:
        members = {Path(name).name for name in sdist.getnames()}
    assert {"README.md", "LICENSE", "setup.cfg", "pyproject.toml"} <= members


def test_pip_builds_the_package_from_a_git_url(tmp_path: Path) -> None:
    # The README's third install line, with this checkout as the repository.
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    line = next(line for line in readme_section("Install").splitlines() if "git+" in line)
    requirement = shlex.split(line)[2].replace("REPOSITORY_URL", ROOT.as_uri())
    requirement = requirement.replace("COMMIT", commit)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            requirement,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert [path.name for path in tmp_path.glob("*.whl")] == [
        "flask_friendcb-0.1.0-py3-none-any.whl"
    ]


# -- the CLI table ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["README.md", "docs/cli.md"])
def test_the_cli_table_lists_every_option_of_send(page: str) -> None:
    row = next(
        line
        for line in (ROOT / page).read_text().splitlines()
        if line.startswith("| `flask friendcb send")
    )
    options = [opt for param in send_command.params for opt in param.opts]
    assert "--client-ip" in options  # what the newcomer missed
    assert "--platform" in options
    missing = [opt for opt in options if f"{opt} " not in row and f"{opt}]" not in row]
    assert missing == [], missing


# -- python -m example_app (make run) --------------------------------------------------------


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "EXAMPLE_DATABASE": str(tmp_path / "example.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    for key in ("FRIENDCB_TOKEN", "FRIENDCB_SDKAPPID", "EXAMPLE_HOST", "EXAMPLE_PASSWORD"):
        if key not in extra:
            env.pop(key, None)
    return env


def run_and_fail(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "example_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def own_lines(stderr: str) -> list[str]:
    # The lines example_app itself writes, without the log records of its start-up.
    return [line for line in stderr.splitlines() if line.startswith("example_app: ")]


def test_a_busy_port_fails_at_once_with_one_line_and_no_url(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_and_fail(run_env(tmp_path, EXAMPLE_PORT=str(port)))
    assert result.returncode == 1
    assert result.stdout == ""  # no URL, no curl line that would reach the other server
    assert "Traceback" not in result.stderr
    assert own_lines(result.stderr) == [
        f"example_app: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(set EXAMPLE_HOST or EXAMPLE_PORT)"
    ]


@pytest.mark.parametrize(
    ("host", "code", "message"),
    [
        ("http://0.0.0.0", 2, "example_app: EXAMPLE_HOST: must be an IP address or a host name"),
        ("127.0.0.1:8000", 2, "example_app: EXAMPLE_HOST: must be an IP address or a host name"),
        # A well-formed address this machine does not have (TEST-NET-1): the bind fails.
        ("192.0.2.1", 1, "example_app: cannot listen on 192.0.2.1:"),
    ],
)
def test_a_bad_example_host_is_one_line_and_no_traceback(
    tmp_path: Path, host: str, code: int, message: str
) -> None:
    env = run_env(
        tmp_path, EXAMPLE_HOST=host, EXAMPLE_PASSWORD="a passphrase", EXAMPLE_PORT=str(free_port())
    )
    result = run_and_fail(env)
    assert result.returncode == code
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = own_lines(result.stderr)
    assert line.startswith(message), line


@contextmanager
def example_server(env: dict[str, str]) -> Iterator[list[str]]:
    """``python -m example_app``; yields the lines it printed, up to its curl line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "example_app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        started = time.monotonic()
        while not any(line.startswith("curl ") for line in lines):
            assert time.monotonic() - started < 60, lines
            line = process.stdout.readline()
            assert line or process.poll() is None, lines
            lines.append(line)
        wait_for_port(int(env["EXAMPLE_PORT"]), process)
        yield lines
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_password_mode_prints_a_reachable_url(tmp_path: Path) -> None:
    port = free_port()
    env = run_env(
        tmp_path,
        EXAMPLE_HOST="0.0.0.0",  # noqa: S104  (what the README's password mode means)
        EXAMPLE_PASSWORD="a passphrase",
        EXAMPLE_PORT=str(port),
    )
    with example_server(env) as lines:
        text = "".join(lines)
        assert "0.0.0.0:" not in text
        assert "http://0.0.0.0" not in text
        assert lines[0].startswith("Listening on all interfaces (0.0.0.0, port")
        assert f"Callback URL: http://127.0.0.1:{port}/im/callback\n" in lines
        assert any(line.startswith(f"Operator page: http://127.0.0.1:{port}/ ") for line in lines)
        # The printed curl line reaches the server (on loopback).
        curl = next(line for line in lines if line.startswith("curl "))
        answer = subprocess.run(
            shlex.split(curl), capture_output=True, text=True, timeout=30, check=True
        )
        assert json.loads(answer.stdout)["ActionStatus"] == "OK"


@pytest.mark.parametrize(
    ("host", "printed", "everywhere"),
    [
        ("0.0.0.0", "127.0.0.1", True),  # noqa: S104
        ("::", "[::1]", True),
        ("127.0.0.1", "127.0.0.1", False),
        ("::1", "[::1]", False),
        ("192.0.2.10", "192.0.2.10", False),
        ("localhost", "localhost", False),
    ],
)
def test_reachable_host(host: str, printed: str, everywhere: bool) -> None:
    assert reachable_host(host) == (printed, everywhere)


def test_count_25_trips_the_velocity_limit_as_the_readme_says(tmp_path: Path) -> None:
    port = free_port()
    env = run_env(tmp_path, EXAMPLE_PORT=str(port))
    try_it = README[README.index("### Try it") :]
    commands = [
        " ".join(block.replace("\\\n", " ").split())
        for block in re.findall(r"```console\n(.*?)```", try_it, re.DOTALL)
        if "friendcb send" in block
    ]
    # The line above it in the README first, then the --count 25 one, both as printed.
    assert len(commands) >= 2
    assert "--count 25" in commands[1]
    # The documentation site's page of the example gives the same command.
    assert "--from bob --to carol --count 25" in (ROOT / "docs" / "example.md").read_text()
    with example_server(env):
        outputs = []
        for command in commands[:2]:
            args = shlex.split(command.replace(":5000/", f":{port}/"))
            assert args[0] == ".venv/bin/flask"
            result = subprocess.run(
                [sys.executable, "-m", "flask", *args[1:]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            outputs.append(result.stdout.splitlines())
    codes = []
    for line in outputs[1]:
        status, _, text = line.partition(" ")
        assert status == "200", line
        codes.extend(item["ResultCode"] for item in json.loads(text)["ResultItem"])
    assert codes == [0] * 20 + [PolicyCode.VELOCITY] * 5
