"""The Flask adapter: a blueprint whose one route is the callback.

It reads the app's ``FRIENDCB_*`` config once, at registration, keeps the app's receiver in
``app.extensions["friendcb"]``, turns Flask's request into the handler's inputs and the
handler's answer into a Flask response, and sends the signals with the app as sender. The
protocol itself lives in the handler.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, request, url_for
from flask.sansio.app import App
from flask.sansio.blueprints import BlueprintSetupState

from .cli import add_commands
from .config import Settings
from .handler import CallbackHandler
from .hooks import HookDecorators, HookRegistry
from .state import (
    EXTENSION_KEY,
    FriendCallbackState,
    callback_paths,
    callback_view,
    get_state,
    is_callback_endpoint,
)

if TYPE_CHECKING:
    from flask.wrappers import Response

# Every method is routed to the view, so that a GET gets the protocol's JSON 405 rather than
# Flask's HTML one. Flask wants a list; _accept_every_method then lifts it, for methods no list
# can foresee (PROPFIND, QUERY, any token a client makes up).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


class FriendCallbackBlueprint(HookDecorators, Blueprint):
    """Receives Tencent Cloud Chat's ``Sns.CallbackPrevFriendResponse`` callback.

    ::

        friendcb = FriendCallbackBlueprint()

        @friendcb.on_friend_response
        def no_banned_requesters(item, event):
            if item.to_account in BANNED:
                return Reject(38001, "requester is banned")

        app.register_blueprint(friendcb, url_prefix="/im")   # POST /im/callback

    Hooks live on the blueprint, so they can be declared before any app exists, and one
    blueprint can serve several apps, each with its own config. Registering it reads and
    validates the app's ``FRIENDCB_*`` config, raising
    :class:`~flask_friendcb.errors.ConfigError` naming the key at fault.
    """

    def __init__(
        self,
        name: str = "friendcb",
        import_name: str = __name__,
        *,
        rule: str = "/callback",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, import_name, **kwargs)
        #: The route's rule, below the blueprint's ``url_prefix``.
        self.rule = rule
        #: The hook registry; pass it to a middleware as ``hooks=`` to share the hooks.
        self.hooks = HookRegistry()
        self.add_url_rule(
            rule,
            "callback",
            callback_view,
            methods=_METHODS,
            provide_automatic_options=False,
        )
        self.record(_accept_every_method)
        self.url_value_preprocessor(_exempt_callbacks)
        self.record(_add_openapi_route)
        add_commands(self.cli)

    def register(self, app: App, options: dict[str, Any]) -> None:
        """Called by ``app.register_blueprint``: reads and validates the app's ``FRIENDCB_*``
        config on the first registration, and refuses a second callback blueprint."""
        state = app.extensions.get(EXTENSION_KEY)
        if state is None:
            app.extensions[EXTENSION_KEY] = _create_state(app, self)
        elif state.blueprint is not self:
            raise RuntimeError(
                f"this app already has a FriendCallbackBlueprint ({state.blueprint.name!r}); "
                "register one per app, under as many URLs as needed"
            )
        super().register(app, options)


def _create_state(app: App, blueprint: FriendCallbackBlueprint) -> FriendCallbackState:
    settings = Settings.from_flask_config(app.config)
    handler = CallbackHandler.signalled(settings, blueprint.hooks, app)
    return FriendCallbackState(blueprint, settings, handler)


def openapi_view() -> Response:
    """The opt-in route (``FRIENDCB_OPENAPI_ROUTE``): the OpenAPI document of the callback
    route registered beside it."""
    from .openapi import openapi_json

    settings = get_state(current_app).settings
    body = openapi_json(
        url_for(".callback"), sdkappid=settings.sdkappid, signed=bool(settings.tokens)
    )
    return current_app.response_class(body, mimetype="application/json")


def _accept_every_method(setup: BlueprintSetupState) -> None:
    # Runs at each registration, after the callback rule is added: a rule without methods
    # matches every method, so routing never answers the callback path with its own HTML 405.
    for rule in setup.app.url_map.iter_rules():
        if setup.app.view_functions.get(rule.endpoint) is callback_view:
            rule.methods = None


def _add_openapi_route(setup: BlueprintSetupState) -> None:
    # Runs at each registration, after register() has read the app's settings.
    route = setup.app.extensions[EXTENSION_KEY].settings.openapi_route
    if route is not None:
        setup.add_url_rule(route, "openapi", openapi_view, methods=["GET"])


# The endpoints each app has exempted: an app's extensions are all set up by its first
# request (Flask refuses before_request functions, and with them CSRFProtect and Limiter,
# after it), so the exemptions are made once, at an endpoint's first request.
_exempted: weakref.WeakKeyDictionary[Any, set[str | None]] = weakref.WeakKeyDictionary()
_exempted_lock = threading.Lock()


def _exempt_callbacks(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Flask runs URL value preprocessors before any before_request function, so exempting here
    # works whether CSRFProtect or a Limiter was set up before or after this blueprint was
    # registered.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    done = _exempted.get(app)
    if done is not None and endpoint in done:
        return
    settings = app.extensions[EXTENSION_KEY].settings
    if settings.csrf_exempt:
        _exempt_from_csrf(app)
    if settings.limiter_exempt:
        _exempt_from_limiter(app)
    with _exempted_lock:
        _exempted.setdefault(app, set()).add(endpoint)


def _exempt_from_csrf(app: Any) -> None:
    # Tencent cannot send a CSRF token. FRIENDCB_CSRF_EXEMPT = False opts out.
    csrf = app.extensions.get("csrf")
    if csrf is not None and hasattr(csrf, "exempt"):
        csrf.exempt(app.blueprints[request.blueprint or ""])


# The Limiters whose request filter already skips callback routes: a filter is added once per
# Limiter, on the first callback it sees, and then holds for every app the Limiter serves.
_filtered_limiters: weakref.WeakSet[Any] = weakref.WeakSet()
_filter_lock = threading.Lock()


def _exempt_from_limiter(app: Any) -> None:
    # Tencent calls from a few egress IPs, and a throttled callback (an HTML 429) lets the
    # request through unchecked; forged requests are refused before their body is read, so
    # they need no limit of their own. FRIENDCB_LIMITER_EXEMPT = False opts out.
    limiters = app.extensions.get("limiter")
    if not limiters:
        return
    # Flask-Limiter keeps the set of the Limiters initialised on the app.
    found = limiters if isinstance(limiters, Collection) else (limiters,)
    for limiter in found:
        if limiter in _filtered_limiters or not hasattr(limiter, "request_filter"):
            continue
        with _filter_lock:
            if limiter not in _filtered_limiters:
                limiter.request_filter(_is_exempt_callback)
                _filtered_limiters.add(limiter)


def _is_exempt_callback() -> bool:
    # A Limiter's request filter, called before it evaluates any limit of any request of the
    # apps it serves: True skips every limit (default, application, meta, blueprint, route).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state: FriendCallbackState | None = app.extensions.get(EXTENSION_KEY)
    return (
        state is not None
        and state.settings.limiter_exempt
        and app.view_functions.get(request.endpoint) is callback_view
    )


__all__ = [
    "EXTENSION_KEY",
    "FriendCallbackBlueprint",
    "FriendCallbackState",
    "callback_paths",
    "get_state",
    "is_callback_endpoint",
]
