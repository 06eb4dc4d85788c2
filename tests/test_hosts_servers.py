"""The callback behind the servers of docs/deploying.md, each started for real on a free port of
127.0.0.1: what goes wrong with each one's defaults, and that the documented fix fixes it.

- waitress reads the whole body before the app: ``max_request_body_size`` bounds it.
- uWSGI's ``--http-socket`` closes every connection (``--http11-socket`` keeps it), and neither
  gives the app a chunked body.
- a2wsgi and asgiref (under uvicorn) do not mark the end of a chunked body: a wrapper that sets
  ``wsgi.input_terminated`` does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from flask_friendcb.testing import callback_query, friend_response_body

from .servers import ROOT, free_port, wait_for_port

TOKEN = "hosts-servers-token"
SDKAPPID = "1400000000"
LIMIT = 1 << 20  # FRIENDCB_MAX_CONTENT_LENGTH's default
BODY = json.dumps(friend_response_body("bob", ["spam1", "alice"])).encode()
EXPECTED = [
    {"To_Account": "spam1", "ResultCode": 38001, "ResultInfo": "spam"},
    {"To_Account": "alice", "ResultCode": 0, "ResultInfo": ""},
]


@contextlib.contextmanager
def server(command: Sequence[str], port: int) -> Iterator[int]:
    """Run ``command`` (a server that listens on ``port``) until the test is done."""
    env = {**os.environ, "FRIENDCB_TEST_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)

        def output() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            try:
                wait_for_port(port, process)
            except (RuntimeError, TimeoutError) as error:
                raise RuntimeError(f"{error}; its output:\n{output()}") from None
            try:
                yield port
            except BaseException:
                sys.stderr.write(f"the server's output:\n{output()}")
                raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def signed_target(token: str = TOKEN) -> str:
    return "/im/callback?" + callback_query(SDKAPPID, token=token, request_time=int(time.time()))


def head(target: str, *headers: str) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 4096) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def exchange(port: int, data: bytes, timeout: float = 30) -> tuple[int, Any]:
    """Send ``data`` (a whole request) on a new connection; the answer's status and JSON (or
    text when it is not JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer, and close, before it has read everything sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        text = response.read()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text.decode(errors="replace")


def post(port: int, body: bytes = BODY, token: str = TOKEN) -> tuple[int, Any]:
    target = signed_target(token)
    return exchange(port, head(target, f"Content-Length: {len(body)}") + body)


def post_chunked(port: int, body: bytes = BODY) -> tuple[int, Any]:
    return exchange(port, head(signed_target(), "Transfer-Encoding: chunked") + chunked(body))


# -- waitress ----------------------------------------------------------------------------------


def waitress(port: int, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "waitress",
        f"--listen=127.0.0.1:{port}",
        "--threads=2",
        *options,
        "--call",
        "tests.served_apps:flask_app",
    ]


def send_half_of_a_big_body(port: int, wait: float) -> bytes | None:
    """Headers announcing 5 MiB, a forged Sign, and 64 KiB of body; what the server answers
    within ``wait`` seconds (None: nothing; it is still reading)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        target = signed_target("a forged token")
        sock.sendall(head(target, f"Content-Length: {5 * LIMIT}") + b" " * 65536)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return None


def test_waitress_reads_the_whole_body_before_the_app() -> None:
    port = free_port()
    with server(waitress(port), port):
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})
        # A forged request over the library's limit: the app would refuse it from its query
        # and its Content-Length, but waitress calls the app only once it has the whole body.
        assert send_half_of_a_big_body(port, wait=2) is None
        status, answer = post(port, b" " * (5 * LIMIT), token="a forged token")
        assert (status, answer["ErrorCode"]) == (401, 38902)  # refused, after 5 MiB were read


def test_waitress_with_max_request_body_size_refuses_big_bodies_unread() -> None:
    port = free_port()
    # FRIENDCB_MAX_CONTENT_LENGTH + 1: waitress refuses a body of max_request_body_size itself.
    with server(waitress(port, f"--max-request-body-size={LIMIT + 1}"), port):
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})
        answer = send_half_of_a_big_body(port, wait=30)
        assert answer is not None
        assert answer.startswith(b"HTTP/1.1 413 ")
        # A body of exactly the library's limit still reaches the app, which decides.
        status, refusal = post(port, b" " * LIMIT, token="a forged token")
        assert (status, refusal["ErrorCode"]) == (401, 38902)


def ok() -> dict[str, Any]:
    return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


# -- uWSGI -------------------------------------------------------------------------------------


def uwsgi(port: int, socket_option: str, wsgi_file: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "uwsgi"),
        socket_option,
        f"127.0.0.1:{port}",
        "--wsgi-file",
        str(wsgi_file),
        "--master",
        "--processes=1",
        "--threads=2",
        "--die-on-term",
        "--disable-logging",
        "--need-app",
    ]


@pytest.fixture
def uwsgi_app(tmp_path: Path) -> Path:
    path = tmp_path / "uwsgi_app.py"
    path.write_text("from tests.served_apps import flask_app\n\napplication = flask_app()\n")
    return path


def two_requests_on_one_connection(port: int) -> list[int | str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results: list[int | str] = []
    try:
        for _ in range(2):
            try:
                connection.request(
                    "POST",
                    signed_target(),
                    body=BODY,
                    headers={"Content-Type": "application/json"},
                    # http.client reconnects on its own after a "Connection: close"; a server
                    # that closes without one shows here as an error.
                )
                response = connection.getresponse()
                response.read()
                results.append(response.status)
                if response.will_close:
                    results.append("closed")
                    break
            except (http.client.HTTPException, OSError) as error:
                results.append(type(error).__name__)
                break
    finally:
        connection.close()
    return results


def test_uwsgi_http_socket_closes_every_connection(uwsgi_app: Path) -> None:
    port = free_port()
    with server(uwsgi(port, "--http-socket", uwsgi_app), port):
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})
        results = two_requests_on_one_connection(port)
    assert results[0] == 200
    assert len(results) == 2  # the second request never got its answer on that connection
    assert results[1] != 200


def test_uwsgi_http11_socket_keeps_connections_alive(uwsgi_app: Path) -> None:
    port = free_port()
    with server(uwsgi(port, "--http11-socket", uwsgi_app), port):
        assert two_requests_on_one_connection(port) == [200, 200]


@pytest.mark.parametrize("socket_option", ["--http-socket", "--http11-socket"])
def test_uwsgi_gives_no_chunked_body(uwsgi_app: Path, socket_option: str) -> None:
    port = free_port()
    with server(uwsgi(port, socket_option, uwsgi_app), port):
        # A clear, protocol-shaped refusal rather than a read that waits forever.
        status, answer = post_chunked(port)
        assert (status, answer["ErrorCode"]) == (400, 38915)
        # The way out: a body with Content-Length (what nginx sends upstream by default).
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})


# -- a2wsgi and asgiref under uvicorn ----------------------------------------------------------

# The wrapper of docs/deploying.md: both adapters end wsgi.input at the end of the body, but
# do not say so, so the library cannot tell a chunked body it may read to the end.
ASGI_APP = """
from tests.served_apps import flask_app

def input_terminated(app):
    def wrapper(environ, start_response):
        environ["wsgi.input_terminated"] = True
        return app(environ, start_response)
    return wrapper

flask = flask_app()
wsgi = input_terminated(flask.wsgi_app) if {fixed} else flask.wsgi_app
{adapter}
"""

ADAPTERS = {
    "a2wsgi": "from a2wsgi import WSGIMiddleware\napplication = WSGIMiddleware(wsgi)\n",
    "asgiref": "from asgiref.wsgi import WsgiToAsgi\napplication = WsgiToAsgi(wsgi)\n",
}


@contextlib.contextmanager
def uvicorn(tmp_path: Path, adapter: str, *, fixed: bool) -> Iterator[int]:
    module = tmp_path / f"asgi_{adapter}_{'fixed' if fixed else 'plain'}.py"
    module.write_text(ASGI_APP.format(fixed=fixed, adapter=ADAPTERS[adapter]))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(tmp_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        f"{module.stem}:application",
    ]
    with server(command, port):
        yield port


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_asgi_adapters_do_not_mark_the_end_of_a_chunked_body(tmp_path: Path, adapter: str) -> None:
    with uvicorn(tmp_path, adapter, fixed=False) as port:
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})
        status, answer = post_chunked(port)
        assert (status, answer["ErrorCode"]) == (400, 38915)


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_marking_wsgi_input_terminated_reads_chunked_bodies(tmp_path: Path, adapter: str) -> None:
    with uvicorn(tmp_path, adapter, fixed=True) as port:
        assert post(port) == (200, {**ok(), "ResultItem": EXPECTED})
        assert post_chunked(port) == (200, {**ok(), "ResultItem": EXPECTED})
        # The library's limit holds on a chunked body too.
        status, answer = post_chunked(port, b" " * (LIMIT + 1))
        assert (status, answer["ErrorCode"]) == (413, 38914)


def test_asgiref_reads_the_whole_body_before_the_app_and_a2wsgi_does_not(
    tmp_path: Path,
) -> None:
    with uvicorn(tmp_path, "asgiref", fixed=True) as port:
        # WsgiToAsgi spools the whole body (no limit of its own) before it calls the app.
        assert send_half_of_a_big_body(port, wait=2) is None
    with uvicorn(tmp_path, "a2wsgi", fixed=True) as port:
        # a2wsgi streams it: the app refuses the forged query while the body is still coming.
        answer = send_half_of_a_big_body(port, wait=30)
        assert answer is not None
        assert answer.startswith((b"HTTP/1.1 401 ", b"HTTP/1.1 413 ")), answer[:40]
