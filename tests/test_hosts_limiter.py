"""A host app with Flask-Limiter: Tencent's callbacks are never throttled, forged requests use
no quota, and FRIENDCB_LIMITER_EXEMPT = False puts the callback back under the limits."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from flask_friendcb import ConfigError, FriendCallbackBlueprint, FriendCallbackMiddleware
from flask_friendcb.testing import callback_query, friend_response_body, signed_client

from .conftest import SDKAPPID, TOKEN, FrozenClock, serving

# The host's own limits: two requests a minute per client by default, five a minute for the
# whole application. Tencent sends far more than that from a few egress IPs.
DEFAULT_LIMITS = ["2 per minute"]
APPLICATION_LIMITS = ["5 per minute"]


def limiter() -> Limiter:
    return Limiter(
        get_remote_address,
        default_limits=DEFAULT_LIMITS,
        application_limits=APPLICATION_LIMITS,
        storage_uri="memory://",
    )


def host_app(order: str, clock: FrozenClock, **config: Any) -> Flask:
    """A host app with a limited /hello route and the blueprint at /im/callback; ``order``
    says whether the Limiter is set up before or after the blueprint is registered."""
    app = Flask("limited_host")
    app.config.update(
        FRIENDCB_SDKAPPID=int(SDKAPPID), FRIENDCB_TOKEN=TOKEN, FRIENDCB_CLOCK=clock, **config
    )

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    blueprint = FriendCallbackBlueprint()
    if order == "limiter-first":
        limiter().init_app(app)
        app.register_blueprint(blueprint, url_prefix="/im")
    elif order == "blueprint-first":
        app.register_blueprint(blueprint, url_prefix="/im")
        limiter().init_app(app)
    else:  # Limiter(app=...) at construction, after the blueprint
        app.register_blueprint(blueprint, url_prefix="/im")
        Limiter(
            get_remote_address,
            app=app,
            default_limits=DEFAULT_LIMITS,
            application_limits=APPLICATION_LIMITS,
            storage_uri="memory://",
        )
    return app


ORDERS = ["limiter-first", "blueprint-first", "limiter-constructed-with-app"]


@pytest.mark.parametrize("order", ORDERS)
def test_tencent_callbacks_pass_a_host_with_default_and_application_limits(
    order: str, clock: FrozenClock
) -> None:
    app = host_app(order, clock)
    client = signed_client(app)
    statuses = [client.callback().status_code for _ in range(8)]
    assert statuses == [200] * 8  # past both the default (2) and the application (5) limit
    # The host's own route is still limited: the callbacks used none of its quota.
    plain = app.test_client()
    assert [plain.get("/hello").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("order", ORDERS)
def test_forged_requests_use_no_quota(order: str, clock: FrozenClock) -> None:
    app = host_app(order, clock)
    client = signed_client(app)
    forged = [client.callback(token="a guessed token").status_code for _ in range(6)]
    assert forged == [401] * 6
    # The application limit (5 a minute) is untouched: the host still gets its 2 requests,
    # and Tencent's real callbacks all get through.
    plain = app.test_client()
    assert [plain.get("/hello").status_code for _ in range(2)] == [200, 200]
    assert [client.callback().status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("order", ORDERS)
def test_the_opt_out_restores_limiting(order: str, clock: FrozenClock) -> None:
    app = host_app(order, clock, FRIENDCB_LIMITER_EXEMPT=False)
    client = signed_client(app)
    first = [client.callback() for _ in range(3)]
    assert [r.status_code for r in first] == [200, 200, 429]
    assert first[2].mimetype == "text/html"  # Flask-Limiter's own answer, not the protocol's


def test_the_opt_out_reads_environment_strings(clock: FrozenClock) -> None:
    app = host_app("limiter-first", clock, FRIENDCB_LIMITER_EXEMPT="false")
    client = signed_client(app)
    assert [client.callback().status_code for _ in range(3)] == [200, 200, 429]


def test_the_exemption_covers_nested_and_renamed_registrations(clock: FrozenClock) -> None:
    app = Flask("nested_host")
    app.config.update(FRIENDCB_SDKAPPID=int(SDKAPPID), FRIENDCB_TOKEN=TOKEN, FRIENDCB_CLOCK=clock)
    the_limiter = limiter()
    the_limiter.init_app(app)
    parent = Blueprint("api", __name__)
    # A limit on the parent blueprint applies to what is nested in it, the callback included,
    # unless the callback is exempt.
    the_limiter.limit("1 per minute")(parent)
    friendcb = FriendCallbackBlueprint()
    parent.register_blueprint(friendcb, url_prefix="/im")
    app.register_blueprint(parent, url_prefix="/api")
    app.register_blueprint(friendcb, url_prefix="/tencent", name="tencent")
    client = signed_client(app)
    for path in ("/api/im/callback", "/tencent/callback"):
        assert [client.callback(path=path).status_code for _ in range(4)] == [200] * 4, path


def test_one_limiter_shared_by_two_apps_honours_each_apps_setting(clock: FrozenClock) -> None:
    shared = limiter()
    apps = []
    for exempt in (True, False):
        app = Flask(f"shared_{exempt}")
        app.config.update(
            FRIENDCB_SDKAPPID=int(SDKAPPID),
            FRIENDCB_TOKEN=TOKEN,
            FRIENDCB_CLOCK=clock,
            FRIENDCB_LIMITER_EXEMPT=exempt,
        )
        app.register_blueprint(FriendCallbackBlueprint(), url_prefix="/im")
        shared.init_app(app)
        apps.append(app)
    exempt_app, limited_app = apps
    assert [signed_client(exempt_app).callback().status_code for _ in range(4)] == [200] * 4
    limited = [signed_client(limited_app).callback().status_code for _ in range(3)]
    assert limited[-1] == 429


def test_through_a_real_server(clock: FrozenClock) -> None:
    app = host_app("blueprint-first", clock)
    body = json.dumps(friend_response_body("bob", ["alice"]))
    with serving(app) as base_url:
        host, port = base_url.split(":")

        def post(token: str) -> int:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                query = callback_query(SDKAPPID, token=token, request_time=int(clock()))
                connection.request(
                    "POST",
                    f"/im/callback?{query}",
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                return connection.getresponse().status
            finally:
                connection.close()

        assert [post("forged") for _ in range(3)] == [401] * 3
        assert [post(TOKEN) for _ in range(6)] == [200] * 6


def test_a_bad_opt_out_value_names_its_key(clock: FrozenClock) -> None:
    with pytest.raises(ConfigError, match=r"^FRIENDCB_LIMITER_EXEMPT: must be True or False"):
        host_app("limiter-first", clock, FRIENDCB_LIMITER_EXEMPT="sometimes")


def test_the_middleware_refuses_the_flask_only_setting() -> None:
    # The middleware runs outside Flask, where no Flask-Limiter can reach it.
    with pytest.raises(ConfigError, match=r"^limiter_exempt: unknown setting"):
        FriendCallbackMiddleware(
            lambda environ, start_response: [],
            path="/im/callback",
            sdkappid=SDKAPPID,
            token=TOKEN,
            limiter_exempt=False,
        )
