"""The WSGI adapter: the callback for any WSGI application, and the environ plumbing the Flask
adapter shares.

It knows how to read a WSGI request and send a WSGI response, and nothing of the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wsgi import get_content_length

from .config import Settings
from .errors import BodyReadError, ConfigError
from .handler import BodyReader, CallbackHandler, CallbackResponse
from .hooks import HookDecorators, HookRegistry

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

# Reads from wsgi.input are done in pieces, so a slow client costs time, not a big buffer.
_CHUNK = 64 * 1024


def respond(
    handler: CallbackHandler, environ: WSGIEnvironment, body: bytes | None = None
) -> CallbackResponse:
    """Run ``handler`` on the request in ``environ``; ``body`` is the request's body when the
    host application has already read it from ``wsgi.input``."""
    if body is not None:
        return handler.handle(
            environ.get("REQUEST_METHOD", ""),
            _query_text(environ.get("QUERY_STRING", "")),
            len(body),
            lambda limit: body[:limit],
        )
    content_length = get_content_length(environ)
    return handler.handle(
        environ.get("REQUEST_METHOD", ""),
        _query_text(environ.get("QUERY_STRING", "")),
        content_length,
        _body_reader(environ, content_length),
    )


def _query_text(raw: str) -> str:
    # WSGI hands the query over as latin-1 text of the raw bytes; undo that to get UTF-8 text.
    if raw.isascii():
        return raw
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")


def _body_reader(environ: WSGIEnvironment, content_length: int | None) -> BodyReader:
    def read(limit: int) -> bytes:
        if content_length is None and not environ.get("wsgi.input_terminated"):
            if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                return b""  # HTTP: no Content-Length and no chunking means no body.
            # A chunked body on a server that does not end the stream itself: a read could
            # wait forever on a client that never stops sending.
            raise BodyReadError("this server cannot read a chunked body; send Content-Length")
        stream = environ["wsgi.input"]
        chunks = []
        remaining = limit
        while remaining > 0:
            chunk = stream.read(min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    return read


class FriendCallbackMiddleware(HookDecorators):
    """Answers Tencent's friend-response callback in front of any WSGI application.

    POSTs (and every other method, refused with a 405) to ``path`` are answered here; every
    other request goes to ``wsgi_app`` untouched::

        application = FriendCallbackMiddleware(
            django_application, path="/im/callback", sdkappid=1400000000, token="..."
        )

        @application.on_friend_response
        def no_spam(item, event): ...

    Settings are the Flask config keys in lower case without the ``FRIENDCB_`` prefix
    (``max_skew=30``); they are validated here, and a bad one raises
    :class:`~flask_friendcb.errors.ConfigError` naming it. ``hooks`` shares a registry, such
    as a blueprint's (``hooks=friendcb.hooks``). The signals of :mod:`flask_friendcb.signals`
    are sent with the middleware as sender.
    """

    def __init__(
        self,
        wsgi_app: WSGIApplication,
        *,
        path: str,
        sdkappid: int | str,
        token: str | list[str] | tuple[str, ...] | None = None,
        allow_unsigned: bool = False,
        hooks: HookRegistry | None = None,
        app: Flask | None = None,
        **settings: Any,
    ) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError("path", f"must be a str starting with '/', got {path!r}")
        if app is not None and not callable(getattr(app, "app_context", None)):
            raise ConfigError(
                "app", f"must be a Flask app, whose context hooks run in; got {app!r}"[:200]
            )
        self.wsgi_app = wsgi_app
        self.path = path
        #: The Flask app whose context the hooks run in, or ``None``.
        self.app = app
        self.hooks = hooks if hooks is not None else HookRegistry()
        self.settings = Settings.from_options(
            {"sdkappid": sdkappid, "token": token, "allow_unsigned": allow_unsigned, **settings}
        )
        self.handler = CallbackHandler.signalled(self.settings, self.hooks, self)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path != self.path:
            if path is not None and path == self.settings.openapi_route:
                return self._openapi(environ, start_response)
            return self.wsgi_app(environ, start_response)
        if self.app is None:
            response = respond(self.handler, environ)
        else:
            with self.app.app_context():
                response = respond(self.handler, environ)
        start_response(
            response.status_line,
            [*response.headers, ("Content-Length", str(len(response.body)))],
        )
        # HEAD: the headers a GET would get, and no body (HTTP forbids one).
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [response.body]

    def _openapi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # The opt-in route (openapi_route=...): the OpenAPI document of the callback path.
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            headers = [("Allow", "GET, HEAD"), ("Content-Length", "0")]
            start_response("405 Method Not Allowed", headers)
            return [b""]
        from .openapi import openapi_json

        body = openapi_json(
            environ.get("SCRIPT_NAME", "") + self.path,
            sdkappid=self.settings.sdkappid,
            signed=bool(self.settings.tokens),
        )
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]


__all__ = ["FriendCallbackMiddleware", "respond"]
