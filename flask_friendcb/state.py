"""What a Flask app holds once the blueprint is registered, and the view that serves from it.

The blueprint creates this state; the CLI and the testing kit only read it. Keeping it apart
from :mod:`flask_friendcb.blueprint` lets them read it without importing the blueprint, which
imports them (it adds the ``flask friendcb`` commands): no module imports one that imports it
back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, current_app, request

from .config import Settings
from .handler import JSON_HEADERS, CallbackHandler
from .hooks import HookRegistry
from .wsgi import respond

if TYPE_CHECKING:
    from flask.wrappers import Response

#: The key of the per-app state in ``app.extensions``.
EXTENSION_KEY = "friendcb"


@dataclass(frozen=True)
class FriendCallbackState:
    """What one Flask app holds in ``app.extensions["friendcb"]``."""

    #: The :class:`~flask_friendcb.FriendCallbackBlueprint` registered on the app.
    blueprint: Blueprint
    #: The app's validated ``FRIENDCB_*`` settings.
    settings: Settings
    #: The app's receiver, which answers every callback.
    handler: CallbackHandler

    @property
    def hooks(self) -> HookRegistry:
        """The blueprint's hooks, shared by every app it is registered on."""
        return self.handler.hooks


def get_state(app: Flask) -> FriendCallbackState:
    """The app's friend-callback state; a clear error when the blueprint is not registered."""
    try:
        state: FriendCallbackState = app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "no FriendCallbackBlueprint is registered on this app; "
            "call app.register_blueprint(friendcb) first"
        ) from None
    return state


def callback_paths(app: Flask) -> list[str]:
    """The URL paths at which ``app`` answers callbacks (one per registration)."""
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if app.view_functions.get(rule.endpoint) is callback_view
    ]


def is_callback_endpoint(endpoint: str | None, app: Flask | None = None) -> bool:
    """Whether ``endpoint`` (``request.endpoint``) is a callback route of ``app`` (the current
    app by default), under whatever name and nesting the blueprint was registered with.

    For a host's app-wide ``before_request`` guard, which must let Tencent through::

        @app.before_request
        def require_login():
            if is_callback_endpoint(request.endpoint):
                return None  # authenticated by its Sign
            ...
    """
    if endpoint is None:
        return False
    target = app if app is not None else current_app
    return target.view_functions.get(endpoint) is callback_view


def callback_view() -> Response:
    """The callback route: hands the request to the app's handler."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    state: FriendCallbackState = app.extensions[EXTENSION_KEY]
    current = request._get_current_object()  # type: ignore[attr-defined]
    # Werkzeug caches its stream once something (a before_request function, an extension) has
    # read the body; wsgi.input is spent by then, and only Werkzeug's copy holds the body.
    body = current.get_data(cache=True) if "stream" in current.__dict__ else None
    answer = respond(state.handler, current.environ, body)
    response: Response
    if answer.headers is JSON_HEADERS:  # a content type alone is cheaper set as one
        response = app.response_class(
            answer.body, status=answer.status, content_type="application/json"
        )
    else:
        response = app.response_class(answer.body, status=answer.status, headers=answer.headers)
    return response


__all__ = ["EXTENSION_KEY", "FriendCallbackState", "callback_paths", "callback_view", "get_state"]
