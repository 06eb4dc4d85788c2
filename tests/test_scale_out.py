"""docs/scale-out.md's two instances, run as written: its lines, in a venv holding only
``pip install '.[example]'`` (``make deploy-venv``: no test tools), on loopback, against a real
PostgreSQL 15 and a real Redis. Two gunicorn instances with two gevent workers each.

The test changes only what a reader would: the addresses (free loopback ports, the fixtures'
servers), the token, and ``--no-control-socket`` (gunicorn's control socket has one path per
user, which two instances on one machine, or another checkout's tests, would fight over).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from example_app import PolicyCode
from flask_friendcb.testing import (
    blocklist_added_body,
    friend_add_body,
    friend_add_item,
    response_item,
)

from .conftest import SDKAPPID, TOKEN
from .example_support import send, send_body
from .live_events import live_stream
from .servers import ROOT, free_port, wait_for_port

DOC = ROOT / "docs" / "scale-out.md"
DEPLOY = ROOT / ".venv-deploy"
SECTION = "## Two instances on one PostgreSQL and one Redis"
VELOCITY_LIMIT = 5
# Within a second, as the issue asks.
WITHIN = 1.0


def documented_lines() -> list[str]:
    """The shell lines of the section's first ``sh`` block."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, f"{DOC.name} has no sh block under {SECTION!r}"
    return [line for line in match.group(1).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def deploy_venv() -> Path:
    """``.venv-deploy``, made (or brought up to date) by ``make deploy-venv``."""
    subprocess.run(["make", "--no-print-directory", "deploy-venv"], cwd=ROOT, check=True,
                   timeout=1800)  # fmt: skip
    python = DEPLOY / "bin" / "python"
    # What the documented install brings and nothing more: no test tools.
    for module in ("pytest", "hypothesis"):
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
        assert found.returncode != 0, f"{module} is in {DEPLOY.name}"
    return DEPLOY


@dataclass
class Deployment:
    env: dict[str, str]
    workdir: str
    addresses: list[str] = field(default_factory=list)

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [str(DEPLOY / "bin" / "flask"), "--app", "example_app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@contextlib.contextmanager
def deployed(postgres_url: str, redis_url: str, workdir: Path) -> Iterator[Deployment]:
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    deployment = Deployment(env, str(workdir))
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for line in documented_lines():
            words = shlex.split(line.removesuffix("&").strip())
            if words[0] == "python3":
                continue  # the venv: made by the fixture, with this line's install
            if words[0] == "export":
                env.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
                # Ours instead of the reader's: the fixtures' servers and the test token.
                env.update(
                    EXAMPLE_DATABASE_URL=postgres_url,
                    EXAMPLE_REDIS_URL=redis_url,
                    FRIENDCB_SDKAPPID=SDKAPPID,
                    FRIENDCB_TOKEN=TOKEN,
                    EXAMPLE_VELOCITY_LIMIT=str(VELOCITY_LIMIT),
                    # This machine's files (the spool beside it) in the test's folder, not in
                    # the checkout's instance folder.
                    EXAMPLE_DATABASE=str(workdir / "instance.sqlite3"),
                )
                continue
            assert words[0].startswith(".venv-deploy/bin/"), line
            words[0] = str(ROOT / words[0])
            if not line.endswith("&"):
                result = subprocess.run(
                    words, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
                )
                assert result.returncode == 0, f"{line}\n{result.stderr}"
                continue
            bind = words.index("--bind")
            address = f"127.0.0.1:{free_port()}"
            words[bind + 1] = address
            log_path = workdir / f"gunicorn-{len(processes)}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [*words[:-1], "--no-control-socket", words[-1]],
                    cwd=ROOT,  # the checkout, as the doc's relative paths say
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            processes.append((process, log_path))
            wait_for_port(int(address.split(":")[1]), process, timeout=60)
            deployment.addresses.append(address)
        assert len(deployment.addresses) == 2, "the doc starts two instances"
        yield deployment
    except BaseException:
        for _, log_path in processes:
            print(f"--- {log_path.name}\n{log_path.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_doc_starts_two_instances_of_two_gevent_workers_from_the_example_install() -> None:
    lines = documented_lines()
    assert lines[0] == "python3 -m venv .venv-deploy && .venv-deploy/bin/pip install '.[example]'"
    servers = [shlex.split(line.removesuffix("&")) for line in lines if "gunicorn" in line]
    assert len(servers) == 2
    for words in servers:
        assert words[words.index("--worker-class") + 1] == "gevent"
        assert words[words.index("--workers") + 1] == "2"
        assert words[-1] == "example_app:create_app()"
    exports = " ".join(line for line in lines if line.startswith("export "))
    assert "EXAMPLE_DATABASE_URL='postgresql+psycopg://" in exports
    assert "EXAMPLE_REDIS_URL='redis://" in exports


def get_json(address: str, path: str) -> dict[str, Any]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        body: dict[str, Any] = json.loads(reply.read())
    finally:
        connection.close()
    assert reply.status == 200, body
    return body


def test_two_instances_on_one_postgresql_and_one_redis(
    deploy_venv: Path, postgres_url: str, redis_url: str
) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="friendcb-scale-out-") as folder,
        deployed(postgres_url, redis_url, Path(folder)) as deployment,
    ):
        one, other = deployment.addresses
        answered_items = 0

        # Warm up: both workers of both instances have loaded the app (seconds each on a busy
        # machine), and each has answered a callback.
        for address in (one, other):
            for _ in range(4):
                host, port = address.split(":")
                connection = http.client.HTTPConnection(host, int(port), timeout=120)
                connection.request("GET", "/api/stats")
                assert connection.getresponse().status == 200
                connection.close()
            for i in range(4):
                assert send(address, f"warm{i}", response_item("x", "Response_Action_Reject")) == [
                    0
                ]
                answered_items += 1

        # A decision on one instance reaches the other's live page within a second.
        with live_stream(other) as page:
            assert page.status == 200
            page.next("stats", within=10)
            for round_ in range(3):
                sent = time.monotonic()
                assert send(
                    one, f"mallory{round_}", response_item("v", remark="www.x.example")
                ) == [PolicyCode.CONTENT]
                answered_items += 1
                event = page.decision(within=10, where={"from_account": f"mallory{round_}"})
                assert event.at - sent < WITHIN, f"{event.at - sent:.2f} s"

        # The velocity limit admits exactly its limit across both instances.
        def accept(i: int) -> int:
            return send((one, other)[i % 2], "busybot", response_item(f"fan{i}"))[0]

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(accept, range(3 * VELOCITY_LIMIT)))
        answered_items += len(codes)
        assert codes.count(0) == VELOCITY_LIMIT, codes
        assert codes.count(PolicyCode.VELOCITY) == 2 * VELOCITY_LIMIT

        # A blocklist entry added through one (the CLI, or the page's API) refuses the next
        # callback on the other.
        deployment.flask("blocklist", "add", "spammer", "--reason", "scale-out test")
        assert send(other, "alice", response_item("spammer")) == [PolicyCode.BLOCKLISTED]
        assert send(one, "alice", response_item("spammer")) == [PolicyCode.BLOCKLISTED]
        answered_items += 2
        # ... and at the request step too: the blocked account sends no friend request.
        for address in (one, other):
            answer = send_body(address, friend_add_body("spammer", [friend_add_item("bob")]))
            assert answer["ResultItem"][0]["ResultCode"] == PolicyCode.BLOCKLISTED
            answered_items += 1

        # Users of either instance blocklist an account: each instance's "blocked by users"
        # panel counts every one (from the shared audit log).
        send_body(one, blocklist_added_body([("u1", "farm07"), ("u2", "farm07")]))
        send_body(other, blocklist_added_body([("u3", "farm07")]))
        answered_items += 3
        for address in (one, other):
            deadline = time.monotonic() + 30
            while True:
                reported = get_json(address, "/api/reported")["accounts"]
                if reported or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert [(r["account"], r["users"]) for r in reported] == [("farm07", 3)]

        # The audit export has one line per answered item, once the spools are shipped.
        deadline = time.monotonic() + 30
        while True:
            lines = deployment.flask("audit", "export", "--format", "jsonl").splitlines()
            if len(lines) >= answered_items or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(lines) == answered_items
        rows = [json.loads(line) for line in lines]
        assert sum(row["to_account"] == "spammer" for row in rows) == 2
        commands = [row["command"] for row in rows]
        assert commands.count("Sns.CallbackPrevFriendAdd") == 2
        assert commands.count("Sns.CallbackBlackListAdd") == 3
