"""The apps built in process: the blueprint in a Flask app, the middleware around another
app, and example_app's config, each signed with :mod:`devtools.signing`'s identity."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask

from flask_friendcb import FriendCallbackBlueprint, FriendCallbackMiddleware

from .signing import PATH, SDKAPPID, TOKEN


def other_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The app a middleware wraps: says who it is and what it saw."""
    body = json.dumps(
        {"app": "other", "path": environ.get("PATH_INFO"), "method": environ["REQUEST_METHOD"]}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def flask_app(
    blueprint: FriendCallbackBlueprint | None = None, **config: Any
) -> tuple[Flask, FriendCallbackBlueprint]:
    """A Flask app with the blueprint at /im/callback; ``config`` overrides the defaults
    (a value of None removes the key)."""
    blueprint = blueprint or FriendCallbackBlueprint()
    app = Flask("test_app")
    settings: dict[str, Any] = {"FRIENDCB_SDKAPPID": int(SDKAPPID), "FRIENDCB_TOKEN": TOKEN}
    settings.update(config)
    app.config.update({key: value for key, value in settings.items() if value is not None})

    @app.route("/hello", methods=["GET", "POST"])
    def hello() -> dict[str, str]:
        return {"app": "flask"}

    app.register_blueprint(blueprint, url_prefix="/im")
    return app, blueprint


def middleware(**settings: Any) -> FriendCallbackMiddleware:
    """The middleware at /im/callback around :func:`other_app`; ``settings`` override the
    defaults."""
    options: dict[str, Any] = {"sdkappid": SDKAPPID, "token": TOKEN}
    options.update(settings)
    return FriendCallbackMiddleware(other_app, path=PATH, **options)


def example_config(database: str, **config: Any) -> dict[str, Any]:
    """example_app's config for a test: the test token, a database of its own."""
    return {
        "FRIENDCB_SDKAPPID": int(SDKAPPID),
        "FRIENDCB_TOKEN": TOKEN,
        "EXAMPLE_DATABASE": database,
        **config,
    }
