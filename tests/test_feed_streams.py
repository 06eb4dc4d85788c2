"""Live streams never starve callbacks: a cap per process (503 with Retry-After beyond it), a
reader that stops reading is cut off, and the deployment that keeps the operator page off the
callback route's connections (``example_app.wsgi``: each half in its own gunicorn).

The starvation itself is reproduced first, at small scale: gunicorn's gevent worker takes
``--worker-connections`` connections (1,000 by default: 2,100 streams filled both workers of
the documented command); here 4 per worker, and a dozen streams.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from example_app import create_app
from example_app.wsgi import callback_app, operator_app
from flask_friendcb.testing import (
    callback_query,
    friend_response_body,
    response_item,
    signed_client,
)

from .conftest import SDKAPPID, TOKEN, example_config, serving
from .example_support import documented_gunicorn_command, serve_example
from .live_events import live_stream
from .servers import gunicorn

#: Tencent's timeout: a callback not answered within it goes through unchecked.
TENCENT_TIMEOUT = 2.0
#: Connections per gevent worker in the small-scale runs, and streams opened against them.
WORKER_CONNECTIONS = 4
STREAMS = 12


def get(address: str, path: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body; a live stream's body is not read (it would last minutes)."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        streaming = reply.getheader("Content-Type", "").startswith("text/event-stream")
        return reply.status, dict(reply.getheaders()), b"" if streaming else reply.read()
    finally:
        connection.close()


def answered_in_time(address: str) -> bool:
    """Whether one signed callback is answered (200) within Tencent's 2 s."""
    body = json.dumps(friend_response_body("alice", [response_item("bob")]))
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TENCENT_TIMEOUT)
    try:
        connection.request(
            "POST",
            f"/im/callback?{callback_query(SDKAPPID, token=TOKEN)}",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        reply.read()
        return reply.status == 200
    except TimeoutError:
        return False
    finally:
        connection.close()


@dataclass
class Streams:
    """Clients of ``/events``: those served (200), turned away (503), and still waiting."""

    served: int = 0
    turned_away: int = 0
    waiting: int = 0


@contextlib.contextmanager
def open_streams(address: str, count: int) -> Iterator[Streams]:
    """``count`` clients that ask for ``/events`` and keep the connection; a client turned
    away (503) closes, as a browser's EventSource does."""
    host, port = address.split(":")
    clients: list[socket.socket] = []
    streams = Streams()
    # Both workers up first: gunicorn listens before its workers have loaded the app (seconds
    # on a busy machine).
    for _ in range(4):
        assert get(address, "/api/stats", timeout=60)[0] == 200
    try:
        for _ in range(count):
            client = socket.create_connection((host, int(port)), timeout=10)
            client.sendall(f"GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            clients.append(client)
        # The workers accept what they can: wait until every client is answered, or nothing
        # changed for a few seconds.
        pending = list(clients)
        for client in pending:
            client.setblocking(False)
        deadline = time.monotonic() + 20
        changed = time.monotonic()
        while pending and time.monotonic() < deadline and time.monotonic() - changed < 3:
            time.sleep(0.2)
            for client in pending[:]:
                try:
                    head = client.recv(4096)
                except BlockingIOError:
                    continue
                pending.remove(client)
                changed = time.monotonic()
                if head.startswith(b"HTTP/1.1 503"):
                    streams.turned_away += 1
                    client.close()
                else:
                    assert head.startswith(b"HTTP/1.1 200"), head[:40]
                    streams.served += 1
        streams.waiting = len(pending)
        yield streams
    finally:
        for client in clients:
            client.close()


# -- in process --------------------------------------------------------------------------------


def test_streams_beyond_the_cap_are_told_to_come_back_later(tmp_path: Path) -> None:
    app = create_app(example_config(str(tmp_path / "db.sqlite3"), EXAMPLE_MAX_STREAMS=2))
    with serving(app) as address, live_stream(address) as one, live_stream(address) as two:
        assert (one.status, two.status) == (200, 200)
        status, headers, body = get(address, "/events")
        assert status == 503
        assert headers["Retry-After"].isdigit()
        assert headers["Content-Type"] == "application/json"
        assert "too many live streams" in json.loads(body)["error"]
        # The other routes are not capped.
        assert get(address, "/api/stats")[0] == 200
        two.close()
        # The server learns that the page went away at its next write (a heartbeat).
        deadline = time.monotonic() + 20
        while (status := get(address, "/events")[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200


def test_a_reader_that_stops_reading_is_cut_off(tmp_path: Path) -> None:
    app = create_app(
        example_config(
            str(tmp_path / "db.sqlite3"), EXAMPLE_MAX_STREAMS=1, EXAMPLE_STREAM_SEND_TIMEOUT=1
        )
    )
    with serving(app) as address:
        host, port = address.split(":")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((host, int(port)))
        stalled.sendall(f"GET /events HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
        try:
            time.sleep(0.5)
            assert get(address, "/events")[0] == 503  # the stalled page holds the one slot
            # Decisions the stalled page never reads, until more waits than the buffers hold.
            client = signed_client(app)
            items = [response_item(f"u{i}", remark="r" * 90) for i in range(20)]
            deadline = time.monotonic() + 60
            status = 503
            while status != 200 and time.monotonic() < deadline:
                for _ in range(5):
                    response = client.callback(
                        friend_response_body("bulk", items, event_time_ms=int(time.time() * 1000))
                    )
                    assert response.status_code == 200
                status = get(address, "/events")[0]
            assert status == 200, "the stalled reader still holds its slot"
        finally:
            stalled.close()


def test_the_split_entry_points_answer_only_their_half(tmp_path: Path) -> None:
    config = example_config(str(tmp_path / "db.sqlite3"))
    callbacks = callback_app(config)
    pages = operator_app(config)
    with serving(callbacks) as callback_address, serving(pages) as page_address:
        assert answered_in_time(callback_address)
        assert get(callback_address, "/")[0] == 404
        assert get(callback_address, "/events")[0] == 404
        assert get(callback_address, "/api/stats")[0] == 404
        assert get(page_address, "/")[0] == 200
        assert get(page_address, "/api/stats")[0] == 200
        host, port = page_address.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(
            "POST",
            f"/im/callback?{callback_query(SDKAPPID, token=TOKEN)}",
            body=json.dumps(friend_response_body("alice", [response_item("bob")])),
            headers={"Content-Type": "application/json"},
        )
        assert connection.getresponse().status == 404
        connection.close()


# -- under gunicorn, at small scale ------------------------------------------------------------


def small_scale_args() -> list[str]:
    # A short graceful timeout: stopping the server does not wait for the open streams.
    return [
        "--worker-connections", str(WORKER_CONNECTIONS),
        "--keep-alive", "1",
        "--graceful-timeout", "3",
    ]  # fmt: skip


def test_without_a_cap_open_streams_starve_the_callbacks(tmp_path: Path) -> None:
    """The fault reproduced: every connection of the gevent workers holds a stream."""
    with (
        serve_example(
            str(tmp_path / "db.sqlite3"),
            env={"EXAMPLE_MAX_STREAMS": "100000"},
            args=small_scale_args(),
        ) as address,
        open_streams(address, STREAMS) as streams,
    ):
        assert streams.served == 2 * WORKER_CONNECTIONS
        assert streams.waiting == STREAMS - streams.served
        assert not answered_in_time(address)


def test_with_the_cap_callbacks_are_answered_while_pages_are_turned_away(tmp_path: Path) -> None:
    with (
        serve_example(
            str(tmp_path / "db.sqlite3"),
            env={"EXAMPLE_MAX_STREAMS": str(WORKER_CONNECTIONS // 2)},
            args=small_scale_args(),
        ) as address,
        open_streams(address, STREAMS) as streams,
    ):
        assert 0 < streams.served <= 2 * (WORKER_CONNECTIONS // 2)
        assert streams.turned_away == STREAMS - streams.served
        for _ in range(5):
            assert answered_in_time(address)


@pytest.mark.parametrize("cap", ["100000", None])
def test_the_page_in_its_own_process_never_takes_the_callbacks_connections(
    tmp_path: Path, cap: str | None
) -> None:
    """The documented split: the operator page under one gunicorn, the callback route under
    another; however many streams the page's process holds (capped or not), callbacks are
    answered."""
    command = documented_gunicorn_command()
    command.pop()  # the app
    bind = command.index("--bind")
    del command[bind : bind + 2]
    env = {
        "FRIENDCB_SDKAPPID": SDKAPPID,
        "FRIENDCB_TOKEN": TOKEN,
        "EXAMPLE_DATABASE": str(tmp_path / "db.sqlite3"),
        **({"EXAMPLE_MAX_STREAMS": cap} if cap else {}),
    }
    args = [*command, *small_scale_args()]
    with (
        gunicorn("example_app.wsgi:callback_app()", env=env, args=args) as callbacks,
        gunicorn("example_app.wsgi:operator_app()", env=env, args=args) as pages,
        open_streams(pages, STREAMS) as streams,
    ):
        assert streams.served > 0
        for _ in range(5):
            assert answered_in_time(callbacks)


@pytest.mark.parametrize(
    "headers",
    [
        {"Last-Event-ID": "x" * 5000},
        {"Last-Event-ID": "12~99-100"},
        {"Last-Event-ID": "-1"},
        {"Last-Event-ID": "1~" + ".".join(["0-0"] * 50)},
    ],
)
def test_a_last_event_id_not_of_ours_starts_the_stream_from_now(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    app = create_app(example_config(str(tmp_path / "db.sqlite3")))
    client = signed_client(app)
    before = friend_response_body(
        "early", [response_item("x")], event_time_ms=int(time.time() * 1000)
    )
    assert client.callback(before).status_code == 200
    with serving(app) as address, live_stream(address, headers=headers) as page:
        assert page.status == 200
        page.next("stats", within=10)
        later = friend_response_body(
            "later", [response_item("y")], event_time_ms=int(time.time() * 1000)
        )
        assert client.callback(later).status_code == 200
        # The first decision it shows is the one made after it opened.
        assert page.next("decision", within=10).json["from_account"] == "later"
