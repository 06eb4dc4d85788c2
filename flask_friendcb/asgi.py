"""The ASGI adapter: the callback in front of any ASGI 3 application (FastAPI, Starlette, Quart,
Litestar, or a plain ASGI callable), on the event loop.

It knows how to read an ASGI request and send an ASGI response, and nothing of the protocol:
the pipeline is the framework-free :meth:`~flask_friendcb.handler.CallbackHandler.handle_async`.
It imports no web framework.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from .config import Settings
from .errors import BodyReadError, ConfigError
from .handler import JSON_HEADERS, AsyncBodyReader, CallbackHandler, CallbackResponse
from .hooks import Deadline, HookDecorators, HookRegistry, first_step

#: An ASGI scope and message, and the callables of ASGI 3; loose, as frameworks type them
#: each their own way.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

#: Seconds a client has to send the whole body, once the query is authenticated.
DEFAULT_BODY_TIMEOUT = 10.0

# JSON_HEADERS as ASGI sends them.
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


class FriendCallbackASGI(HookDecorators):
    """Answers Tencent's friend callbacks in front of any ASGI application.

    HTTP requests to ``path`` (POSTs, and every other method, refused with a 405) are answered
    here; every other request, websockets and ``lifespan`` go to ``asgi_app`` untouched::

        app = FastAPI()
        application = FriendCallbackASGI(
            app, path="/im/callback", sdkappid=1400000000, token="..."
        )

        @application.on_friend_response
        async def no_spam(item, event): ...

    Settings, their :class:`~flask_friendcb.errors.ConfigError`\\ s, ``hooks`` and the signals
    are those of :class:`~flask_friendcb.wsgi.FriendCallbackMiddleware` (the signals are sent
    with this object as sender, from the event loop). ``async def`` hooks and observers are
    awaited on the loop; plain ones, and ``on_command`` handlers, run in a worker thread; the
    deadline holds for both. The body is read only once the query is authenticated, at most
    ``max_content_length`` bytes of it (a larger one, chunked or not, is refused at the limit,
    never buffered whole), and within ``body_timeout`` seconds.
    """

    def __init__(
        self,
        asgi_app: ASGIApp,
        /,
        *,
        path: str,
        sdkappid: int | str,
        token: str | list[str] | tuple[str, ...] | None = None,
        allow_unsigned: bool = False,
        hooks: HookRegistry | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        **settings: Any,
    ) -> None:
        if not callable(asgi_app):
            raise ConfigError("asgi_app", f"must be an ASGI application, got {asgi_app!r}"[:200])
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError("path", f"must be a str starting with '/', got {path!r}")
        if (
            isinstance(body_timeout, bool)
            or not isinstance(body_timeout, (int, float))
            or not math.isfinite(body_timeout)
            or body_timeout <= 0
        ):
            raise ConfigError(
                "body_timeout", f"must be a number of seconds more than 0, got {body_timeout!r}"
            )
        self.asgi_app = asgi_app
        self.path = path
        #: Seconds a client has to send the whole body.
        self.body_timeout = float(body_timeout)
        self.hooks = hooks if hooks is not None else HookRegistry()
        self.settings = Settings.from_options(
            {"sdkappid": sdkappid, "token": token, "allow_unsigned": allow_unsigned, **settings}
        )
        self.handler = CallbackHandler.signalled(self.settings, self.hooks, self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.asgi_app(scope, receive, send)
            return
        path = _app_path(scope)
        if path != self.path:
            if path == self.settings.openapi_route:
                await self._openapi(scope, send)
            else:
                await self.asgi_app(scope, receive, send)
            return
        method = scope.get("method", "")
        response = await self.handler.handle_async(
            method,
            _query_text(scope.get("query_string", b"")),
            _content_length(scope.get("headers", ())),
            _body_reader(receive, self.body_timeout),
        )
        await _send(send, response, head=method == "HEAD")

    async def _openapi(self, scope: Scope, send: Send) -> None:
        # The opt-in route (openapi_route=...): the OpenAPI document of the callback path.
        method = scope.get("method", "")
        if method not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        from .openapi import openapi_json

        body = openapi_json(
            scope.get("root_path", "") + self.path,
            sdkappid=self.settings.sdkappid,
            signed=bool(self.settings.tokens),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _app_path(scope: Scope) -> str:
    # ASGI's path is the whole path; under a mount (root_path), the part below the mount is
    # the application's.
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _query_text(raw: bytes) -> str:
    # ASGI hands the query over as the raw bytes; the parser wants UTF-8 text.
    if raw.isascii():
        return raw.decode("ascii")
    return raw.decode("utf-8", "replace")


def _content_length(headers: Any) -> int | None:
    """The declared length, or ``None`` for a chunked body or an unusable value (the server
    delimits the body either way: it is then read up to the limit and one byte more)."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return None
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            # Past 18 digits, more than any limit (and int() refuses 4,300 and more).
            length = int(value) if len(value) <= 18 else sys.maxsize
    return length


def _body_reader(receive: Receive, timeout: float) -> AsyncBodyReader:
    async def read(limit: int) -> bytes:
        # A body the server already holds is read in the first step, with no deadline to keep;
        # the time the client has is counted from that first step.
        ended, body = first_step(_receive_body(receive, limit))
        if ended:
            return cast(bytes, body)
        deadline = Deadline(timeout)
        try:
            late, body = await deadline.resume(body)
        finally:
            deadline.close()
        if late:
            raise BodyReadError(f"the body did not arrive within {timeout:g} s")
        return cast(bytes, body)

    return read


async def _receive_body(receive: Receive, limit: int) -> bytes:
    # Message by message, stopping once past the limit: the rest is never received.
    chunks = []
    received = 0
    while received < limit:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            raise BodyReadError("the client went away while sending the body")
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            received += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


async def _send(send: Send, response: CallbackResponse, *, head: bool) -> None:
    if response.headers is JSON_HEADERS:
        headers = [_JSON_CONTENT_TYPE]
    else:
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers
        ]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    # HEAD: the headers a GET would get, and no body (HTTP forbids one).
    await send({"type": "http.response.body", "body": b"" if head else response.body})


__all__ = ["DEFAULT_BODY_TIMEOUT", "FriendCallbackASGI"]
