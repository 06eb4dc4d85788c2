"""The four receivers the benchmark compares, all answering ``POST /im/callback``.

(a) and (b) are what an app would write without the library: they parse the JSON and answer OK
for every item, with no authentication and no validation. (c) and (d) are the library with a
token and one no-op hook, the way an app would use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from flask_friendcb import FriendCallbackBlueprint, FriendCallbackMiddleware
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

SDKAPPID = 1400000000
TOKEN = "bench-token-0123456789abcdef"
PATH = "/im/callback"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: The receivers, in the order the tables list them.
KINDS = ("a", "b", "c", "d", "e")
LABELS = {
    "a": "(a) raw WSGI",
    "b": "(b) bare Flask",
    "c": "(c) blueprint",
    "d": "(d) middleware",
    "e": "(e) example_app",
}
#: Receivers whose requests each come from a responder of their own (``body_bytes``'s salt):
#: example_app counts acceptances per responder and keeps every callback, as in service.
DISTINCT_BODIES = ("e",)


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "ResultItem": [
            {"To_Account": item["To_Account"], "ResultCode": 0, "ResultInfo": ""}
            for item in body["ResponseFriendItem"]
        ],
    }


def raw_wsgi_app() -> WSGIApp:
    """(a): a hand-written WSGI callable."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        data = json.dumps(_answer(body), separators=(",", ":")).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        )
        return [data]

    return app


def bare_flask_app() -> Flask:
    """(b): a hand-written Flask view."""
    app = Flask("bench_bare")

    @app.post(PATH)
    def callback() -> dict[str, Any]:
        return _answer(request.get_json())

    return app


def _noop_hook(item: FriendResponseItem, event: FriendResponseEvent) -> None:
    return None


def blueprint_app(token: str = TOKEN) -> Flask:
    """(c): the blueprint, with a token and one no-op hook."""
    friendcb = FriendCallbackBlueprint()
    friendcb.on_friend_response(_noop_hook)
    app = Flask("bench_blueprint")
    app.config.update(FRIENDCB_SDKAPPID=SDKAPPID, FRIENDCB_TOKEN=token)
    app.register_blueprint(friendcb, url_prefix="/im")
    return app


def _not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def middleware_app(token: str = TOKEN) -> FriendCallbackMiddleware:
    """(d): the middleware, with a token and one no-op hook, in front of another app."""
    wrapped = FriendCallbackMiddleware(_not_found, path=PATH, sdkappid=SDKAPPID, token=token)
    wrapped.on_friend_response(_noop_hook)
    return wrapped


def example_app(token: str = TOKEN) -> Flask:
    """(e): example_app as ``make run`` makes it (its four policies, the audit spool, the
    metrics), on a database of its own in a temporary folder; the velocity limit out of the
    way, so that every item is allowed as the other receivers allow it."""
    import tempfile

    from example_app import create_app

    folder = tempfile.mkdtemp(prefix="friendcb-bench-")
    return create_app(
        {
            "FRIENDCB_SDKAPPID": SDKAPPID,
            "FRIENDCB_TOKEN": token,
            "EXAMPLE_DATABASE": f"{folder}/bench.sqlite3",
            "EXAMPLE_VELOCITY_LIMIT": 1_000_000,
        }
    )


def build(kind: str) -> WSGIApp:
    """The WSGI callable of receiver ``kind`` ("a" to "e")."""
    builders: dict[str, Callable[[], Any]] = {
        "a": raw_wsgi_app,
        "b": bare_flask_app,
        "c": blueprint_app,
        "d": middleware_app,
        "e": example_app,
    }
    app: WSGIApp = builders[kind]()
    return app


# gunicorn entry points for the end-to-end run: `gunicorn bench.apps:bare` and so on.
def bare() -> Flask:
    return bare_flask_app()


def blueprint() -> Flask:
    return blueprint_app()
