"""example_app under gunicorn, run with the command docs/example.md documents, and a client that
sends it signed callbacks over HTTP as Tencent would."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shlex
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from flask_friendcb.testing import callback_query, friend_response_body

from .servers import ROOT, gunicorn
from .signing import SDKAPPID, TOKEN

#: The page whose "Deployment" section holds example_app's gunicorn command.
EXAMPLE_PAGE = ROOT / "docs" / "example.md"


def documented_gunicorn_command() -> list[str]:
    """The gunicorn command of the example service's deployment section (docs/example.md),
    as arguments."""
    page = EXAMPLE_PAGE.read_text(encoding="utf-8")
    match = re.search(r"^\s*(?:\.venv/bin/)?(gunicorn --worker-class .+)$", page, re.MULTILINE)
    assert match, f"{EXAMPLE_PAGE.name} documents no gunicorn command"
    return shlex.split(match.group(1))[1:]


@contextlib.contextmanager
def serve_example(
    database: str, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[str]:
    """example_app under gunicorn as documented, on 127.0.0.1 and a free port, with the test
    token and ``database``; yields "127.0.0.1:port"."""
    command = documented_gunicorn_command()
    app = command.pop()
    # The test picks the address itself (the helper binds a free loopback port).
    bind = command.index("--bind")
    del command[bind : bind + 2]
    environment = {
        "FRIENDCB_SDKAPPID": SDKAPPID,
        "FRIENDCB_TOKEN": TOKEN,
        "EXAMPLE_DATABASE": database,
        **(env or {}),
    }
    with gunicorn(app, env=environment, args=[*command, *args]) as address:
        yield address


def documented_workers() -> int:
    """How many workers the documented command starts."""
    command = documented_gunicorn_command()
    return int(command[command.index("--workers") + 1])


def access_log_args(path: Path) -> list[str]:
    """gunicorn arguments for an access log at ``path`` that holds only each request's worker
    pid: enough to see which workers served, and no Sign in a file."""
    return ["--access-logfile", str(path), "--access-logformat", "%(p)s"]


def workers_seen(path: Path) -> set[str]:
    """The pids of the workers that have answered, from an access log of
    :func:`access_log_args`."""
    return set(path.read_text().split()) if path.exists() else set()


def wait_for_workers(address: str, access_log: Path, count: int, *, within: float = 60) -> None:
    """Send requests that change nothing (``GET /api/stats``), one connection each, until
    ``count`` workers have answered: gunicorn listens before its workers have loaded the app,
    and a worker's first request waits for that."""
    deadline = time.monotonic() + within
    host, port = address.split(":")
    while len(workers_seen(access_log)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(workers_seen(access_log))} of {count} workers answered")
        connection = http.client.HTTPConnection(host, int(port), timeout=within)
        try:
            connection.request("GET", "/api/stats")
            reply = connection.getresponse()
            reply.read()
        finally:
            connection.close()
        assert reply.status == 200, reply.status
        time.sleep(0.02)


def send(
    address: str,
    from_account: str,
    *items: Any,
    client_ip: str = "127.0.0.1",
    platform: str = "RESTAPI",
) -> list[int]:
    """Post one signed friend-response callback to example_app at ``address``; each item's
    ResultCode."""
    answer = send_body(
        address, friend_response_body(from_account, list(items)), client_ip, platform
    )
    return [item["ResultCode"] for item in answer["ResultItem"]]


def send_body(
    address: str, body: dict[str, Any], client_ip: str = "127.0.0.1", platform: str = "RESTAPI"
) -> dict[str, Any]:
    """Post ``body`` (any friend callback's: ``friend_add_body(...)``,
    ``blocklist_added_body(...)``) signed under its own command to example_app at
    ``address``; the answer."""
    query = callback_query(
        SDKAPPID,
        token=TOKEN,
        command=body["CallbackCommand"],
        client_ip=client_ip,
        opt_platform=platform,
    )
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            f"/im/callback?{query}",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        answer: dict[str, Any] = json.loads(reply.read())
    finally:
        connection.close()
    assert reply.status == 200, answer
    return answer
