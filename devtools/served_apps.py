"""WSGI apps for tests that run a real server in another process (gunicorn), by name:
``devtools.served_apps:flask_app()``.

All read the token from FRIENDCB_TEST_TOKEN and use the real clock.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from flask import Flask

from flask_friendcb import FriendCallbackBlueprint, FriendCallbackMiddleware, Reject
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SDKAPPID = 1400000000

friendcb = FriendCallbackBlueprint()


@friendcb.on_friend_response
def refuse_spam(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
    return Reject(38001, "spam") if item.to_account.startswith("spam") else None


def _other(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"other"]


def flask_app() -> Flask:
    app = Flask(__name__)
    app.config.update(FRIENDCB_SDKAPPID=SDKAPPID, FRIENDCB_TOKEN=os.environ["FRIENDCB_TEST_TOKEN"])
    app.register_blueprint(friendcb, url_prefix="/im")
    return app


def middleware_app() -> FriendCallbackMiddleware:
    return FriendCallbackMiddleware(
        _other,
        path="/im/callback",
        sdkappid=SDKAPPID,
        token=os.environ["FRIENDCB_TEST_TOKEN"],
        hooks=friendcb.hooks,
    )


def faulty_app() -> Flask:
    """A Flask app whose hooks fail in every way a hook can, for tests through gunicorn:
    ``boom...`` raises, ``junk...`` returns junk, ``slow...`` sleeps a second (past the 0.5 s
    deadline). Its other route, /hello, must not care."""
    blueprint = FriendCallbackBlueprint()

    @blueprint.on_friend_response
    def misbehave(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        if item.to_account.startswith("boom"):
            raise RuntimeError("the policy database is down")
        if item.to_account.startswith("junk"):
            return "allow, I suppose"  # type: ignore[return-value]
        if item.to_account.startswith("slow"):
            time.sleep(1.0)
        return None

    app = Flask(__name__)
    app.config.update(
        FRIENDCB_SDKAPPID=SDKAPPID,
        FRIENDCB_TOKEN=os.environ["FRIENDCB_TEST_TOKEN"],
        FRIENDCB_DEADLINE=0.5,
        FRIENDCB_ON_HOOK_ERROR="reject",
    )

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"app": "faulty"}

    app.register_blueprint(blueprint, url_prefix="/im")
    return app
