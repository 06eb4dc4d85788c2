"""The ASGI adapter in front of FastAPI, Starlette, Quart and Litestar, each served over real
HTTP by uvicorn and by hypercorn on a free port of 127.0.0.1 (the apps are
:mod:`devtools.asgi_apps`'): the callback decided by one module of hooks, plain and
``async def``, that a Flask blueprint uses as it is; the framework's own route untouched;
chunked bodies read, and refused at the limit; a forged request refused before its body.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.asgi_apps import FRAMEWORKS, flask_app
from flask_friendcb.testing import friend_response_body, signed_client

from .servers import free_port
from .test_hosts_servers import (
    BODY,
    LIMIT,
    chunked,
    exchange,
    head,
    ok,
    post,
    post_chunked,
    server,
    signed_target,
)

ITEMS = ["spam1", "bot2", "alice"]
DECIDED = [
    {"To_Account": "spam1", "ResultCode": 38001, "ResultInfo": "spam"},
    {"To_Account": "bot2", "ResultCode": 38002, "ResultInfo": "bot"},
    {"To_Account": "alice", "ResultCode": 0, "ResultInfo": ""},
]
SHARED_BODY = json.dumps(friend_response_body("bob", ITEMS)).encode()


def command(server_name: str, framework: str, port: int) -> list[str]:
    target = f"devtools.asgi_served:{framework}"
    if server_name == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            target,
        ]
    return [
        sys.executable,
        "-m",
        "hypercorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        target,
    ]


@contextlib.contextmanager
def serving(server_name: str, framework: str) -> Iterator[int]:
    port = free_port()
    with server(command(server_name, framework, port), port):
        yield port


def get(port: int, path: str) -> tuple[int, object]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    return exchange(port, request.encode())


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_the_callback_in_front_of_each_framework(server_name: str, framework: str) -> None:
    with serving(server_name, framework) as port:
        # The hooks module a Flask blueprint uses: a plain hook and an async one.
        assert post(port, SHARED_BODY) == (200, {**ok(), "ResultItem": DECIDED})
        assert post_chunked(port, SHARED_BODY) == (200, {**ok(), "ResultItem": DECIDED})
        # The framework's own route, and its 404, are its own.
        assert get(port, "/hello") == (200, {"app": framework})
        assert get(port, "/nowhere")[0] == 404
        # A chunked body one byte over the limit, refused at the limit.
        status, answer = post_chunked(port, b" " * (LIMIT + 1))
        assert (status, answer["ErrorCode"]) == (413, 38914)
        # Not POST: a 405 in the protocol's shape, from the receiver, not the framework.
        status, answer = get(port, "/im/callback")
        assert (status, answer["ErrorCode"]) == (405, 38920)
        assert post(port, BODY, token="forged")[0] == 401


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_a_forged_request_is_refused_before_its_body_arrives(server_name: str) -> None:
    with serving(server_name, "fastapi") as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # A chunked body begun and never ended, under a forged Sign: answered all the same.
            sock.sendall(
                head(signed_target("a forged token"), "Transfer-Encoding: chunked")
                + chunked(b" " * 65536)[:-5]
            )
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:60]


def test_a_flask_blueprint_decides_with_the_same_hooks_module() -> None:
    response = signed_client(flask_app()).callback(friend_response_body("bob", ITEMS))
    assert response.status_code == 200
    assert response.json == {**ok(), "ResultItem": DECIDED}


@pytest.mark.parametrize("server_name", ["uvicorn", "hypercorn"])
def test_fifty_concurrent_callbacks_meet_a_slow_hook_and_the_server_keeps_serving(
    server_name: str,
) -> None:
    # Hooks that sleep 10 s past a 0.5 s deadline, async and plain, met by fifty callbacks at
    # once over real connections: each is answered at the deadline, and FastAPI's own route
    # answers meanwhile.
    bodies = [
        json.dumps(friend_response_body(f"u{n}", ["spam", ("slow-async", "slow-plain")[n % 2]]))
        for n in range(50)
    ]

    def one(body: str) -> tuple[float, tuple[int, object]]:
        started = time.monotonic()
        answer = post(port, body.encode())
        return time.monotonic() - started, answer

    with serving(server_name, "slow") as port, ThreadPoolExecutor(max_workers=51) as pool:
        started = time.monotonic()
        callbacks = [pool.submit(one, body) for body in bodies]
        time.sleep(0.2)  # the hooks are sleeping now
        hello_started = time.monotonic()
        assert get(port, "/hello") == (200, {"app": "fastapi"})
        hello = time.monotonic() - hello_started
        results = [future.result(timeout=30) for future in callbacks]
        total = time.monotonic() - started
    assert hello < 0.5, hello
    assert total < 5, total  # fifty 0.5 s deadlines side by side, not ten-second sleeps
    for took, (status, answer) in results:
        assert status == 200
        codes = [item["ResultCode"] for item in answer["ResultItem"]]  # type: ignore[index]
        assert codes == [38001, 0]  # the slow item falls to the error policy: allowed
        assert took < 4
