"""Tencent's callback in front of the operator app: answered by the library's own handler (the
one the blueprint registered, with the ``FRIENDCB_*`` settings it read), in the app's context,
without the operator pipeline.

The operator app runs Talisman, Flask-Limiter, the session and the CSRF check on every request
it routes; they serve people, not Tencent, and cost more than the callback itself. The callback
path keeps everything the callback needs: the same handler, hooks, signals (the audit record,
the metrics) and answers as the blueprint's route, and ``current_app`` and ``g`` for the hooks
and observers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask

from flask_friendcb.blueprint import callback_paths, get_state
from flask_friendcb.wsgi import respond

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class CallbackFirst:
    """WSGI: ``app``'s callback paths answered by its friend-callback handler directly; every
    other request goes to ``wsgi_app`` (the app's own pipeline) untouched."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.handler = get_state(app).handler
        self.paths = frozenset(callback_paths(app))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in self.paths:
            return self.wsgi_app(environ, start_response)
        # The app's context, as the blueprint's route has: hooks and observers read
        # current_app and g.
        with self.app.app_context():
            answer = respond(self.handler, environ)
        start_response(
            answer.status_line,
            [*answer.headers, ("Content-Length", str(len(answer.body)))],
        )
        # HEAD: the headers a GET would get, and no body (HTTP forbids one).
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [answer.body]


def serve_callbacks_first(app: Flask) -> None:
    """Put :class:`CallbackFirst` in front of ``app``'s pipeline (once every route is
    registered)."""
    app.wsgi_app = CallbackFirst(app, app.wsgi_app)  # type: ignore[method-assign]
