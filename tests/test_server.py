"""Over real HTTP servers on loopback: gunicorn in another process, Werkzeug in a thread.

These check what only a real server shows: chunked bodies, a declared length far past the
limit that must not be waited for, and several callbacks on one kept-alive connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest

from flask_friendcb.testing import SAMPLE_REQUEST, callback_query

from .conftest import FrozenClock, build_receiver, serving
from .servers import gunicorn

TOKEN = "gunicorn-test-token"
SDKAPPID = 1400000000
SPAM_BODY = dict(
    SAMPLE_REQUEST,
    ResponseFriendItem=[
        {"To_Account": "spam-farm-7", "ResponseAction": "Response_Action_AgreeAndAdd"},
        {"To_Account": "alice", "ResponseAction": "Response_Action_Agree"},
    ],
)


def signed_path() -> str:
    return f"/im/callback?{callback_query(SDKAPPID, token=TOKEN)}"


def post(
    connection: http.client.HTTPConnection,
    body: bytes,
    path: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
) -> tuple[int, dict[str, object]]:
    chunks: object = (
        iter([body[i : i + 1000] for i in range(0, len(body), 1000)]) if chunked else body
    )
    connection.request(
        "POST",
        path or signed_path(),
        body=chunks,  # type: ignore[arg-type]
        headers={"Content-Type": "application/json", **(headers or {})},
        encode_chunked=chunked,
    )
    reply = connection.getresponse()
    assert reply.getheader("Content-Type") == "application/json"
    return reply.status, json.loads(reply.read())


@pytest.fixture(
    scope="module", params=["tests.served_apps:flask_app()", "tests.served_apps:middleware_app()"]
)
def gunicorn_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The callback under gunicorn with threads (keep-alive capable), once per adapter."""
    with gunicorn(
        request.param,
        env={"FRIENDCB_TEST_TOKEN": TOKEN},
        args=["--worker-class", "gthread", "--threads", "4", "--keep-alive", "5"],
    ) as address:
        yield address


@contextlib.contextmanager
def connect(address: str) -> Iterator[http.client.HTTPConnection]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def test_gunicorn_answers_signed_callbacks(gunicorn_server: str) -> None:
    with connect(gunicorn_server) as connection:
        status, body = post(connection, json.dumps(SPAM_BODY).encode())
    assert status == 200
    assert body["ResultItem"] == [
        {"To_Account": "spam-farm-7", "ResultCode": 38001, "ResultInfo": "spam"},
        {"To_Account": "alice", "ResultCode": 0, "ResultInfo": ""},
    ]


def test_gunicorn_keeps_the_connection_for_several_callbacks(gunicorn_server: str) -> None:
    statuses = []
    with connect(gunicorn_server) as connection:
        for body in [SPAM_BODY, b"not json", SAMPLE_REQUEST, {"x": 1}, SAMPLE_REQUEST]:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            statuses.append(post(connection, data)[0])
            # The same socket served every request: the server kept the connection open.
            assert connection.sock is not None
    assert statuses == [200, 400, 200, 400, 200]


def test_gunicorn_reads_chunked_bodies_and_refuses_long_ones(gunicorn_server: str) -> None:
    with connect(gunicorn_server) as connection:
        status, _ = post(connection, json.dumps(SAMPLE_REQUEST).encode(), chunked=True)
    assert status == 200
    huge = json.dumps(dict(SAMPLE_REQUEST, Padding="x" * (1 << 20))).encode()
    with connect(gunicorn_server) as connection:
        status, body = post(connection, huge, chunked=True)
    assert status == 413
    assert body["ErrorCode"] == 38914


def test_gunicorn_refuses_a_forged_callback(gunicorn_server: str) -> None:
    path = f"/im/callback?{callback_query(SDKAPPID, token='guessed')}"
    with connect(gunicorn_server) as connection:
        status, body = post(connection, json.dumps(SAMPLE_REQUEST).encode(), path)
    assert status == 401
    assert body["ErrorInfo"] == "Sign does not match the callback token"


@pytest.mark.parametrize("kind", ["blueprint", "middleware"])
def test_a_declared_length_past_the_limit_is_refused_without_waiting_for_the_body(
    kind: str,
) -> None:
    receiver = build_receiver(kind, FrozenClock(time.time()))
    with serving(receiver.wsgi) as address:
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            query = receiver.query()
            sock.sendall(
                f"POST /im/callback?{query} HTTP/1.1\r\nHost: {address}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{".encode()
            )
            started = time.monotonic()
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            assert time.monotonic() - started < 3
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["ErrorCode"] == 38914


@pytest.mark.parametrize("kind", ["blueprint", "middleware"])
def test_werkzeug_server_reads_chunked_bodies(kind: str) -> None:
    receiver = build_receiver(kind, FrozenClock(time.time()))
    with serving(receiver.wsgi) as address:
        query = receiver.query()
        with connect(address) as connection:
            status, _ = post(
                connection,
                json.dumps(SAMPLE_REQUEST).encode(),
                f"/im/callback?{query}",
                chunked=True,
            )
        assert status == 200
        huge = json.dumps(dict(SAMPLE_REQUEST, Padding="x" * (1 << 20))).encode()
        with connect(address) as connection:
            status, body = post(connection, huge, f"/im/callback?{query}", chunked=True)
        assert status == 413
        assert body["ErrorCode"] == 38914
