"""The requests the benchmark sends: a Tencent-like body of N items, signed, as a WSGI environ."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask_friendcb.protocol import ResponseAction
from flask_friendcb.testing import callback_query, friend_response_body, response_item

from .apps import PATH, SDKAPPID, TOKEN

_ACTIONS = tuple(ResponseAction)


def body_bytes(items: int, salt: str = "") -> bytes:
    """A friend-response body with ``items`` items, cycling through the three actions."""
    body = friend_response_body(
        f"responder{salt}",
        [
            response_item(
                f"user{salt}_{index}",
                _ACTIONS[index % len(_ACTIONS)],
                remark=f"remark {index}",
                tag_name="friends",
            )
            for index in range(items)
        ],
        event_time_ms=1_700_000_000_000,
    )
    return json.dumps(body, separators=(",", ":")).encode()


def signed_query(request_time: int | None = None) -> str:
    """The query string Tencent sends, signed with the benchmark's token at ``request_time``
    (now by default)."""
    seconds = int(time.time()) if request_time is None else request_time
    return callback_query(SDKAPPID, token=TOKEN, request_time=seconds, client_ip="10.0.0.1")


def environ_factory(body: bytes, query: str) -> Callable[[], dict[str, Any]]:
    """A function that returns a fresh environ for one POST of ``body`` (only the input stream
    is new: everything else is prepared once)."""
    template: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }

    def make() -> dict[str, Any]:
        environ = template.copy()
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    return make


class Captured:
    """A ``start_response`` that keeps the status and headers."""

    __slots__ = ("headers", "status")

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = status
        self.headers = headers
        return None


def call(app: Any, environ: dict[str, Any]) -> tuple[str, bytes]:
    """Call a WSGI app the way a server does; returns the status line and the body."""
    start_response = Captured()
    result: Iterable[bytes] = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return start_response.status, data
