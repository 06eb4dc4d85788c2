"""The WSGI middleware: its path only, everything else untouched, hooks shared or its own, run
in a Flask app's context when given one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask, current_app, g, has_app_context
from werkzeug.test import Client

from flask_friendcb import ConfigError, FriendCallbackBlueprint, FriendCallbackMiddleware, Reject
from flask_friendcb.signals import answer_decided, event_received
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query

from .conftest import NOW, PATH, SDKAPPID, TOKEN, FrozenClock, flask_app, middleware, other_app


def signed_url(path: str = PATH) -> str:
    return f"{path}?{callback_query(SDKAPPID, token=TOKEN, request_time=NOW)}"


def test_every_other_request_passes_through_untouched() -> None:
    client = Client(middleware(clock=FrozenClock()))
    for method, path in [("GET", "/"), ("POST", "/other"), ("POST", PATH + "/"), ("GET", "/im")]:
        response = client.open(path, method=method, data=b"\xff not json")
        assert response.status_code == 200
        assert response.json == {"app": "other", "path": path, "method": method}


def test_the_path_is_answered_by_the_middleware() -> None:
    client = Client(middleware(clock=FrozenClock()))
    response = client.post(signed_url(), json=SAMPLE_REQUEST)
    assert response.status_code == 200
    assert response.json["ActionStatus"] == "OK"
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert client.get(PATH).status_code == 405


def test_its_own_decorators_return_the_function() -> None:
    wrapped = middleware(clock=FrozenClock())

    def hook(item: Any, event: Any) -> Reject:
        return Reject(38004, "no")

    assert wrapped.on_friend_response(hook) is hook
    response = Client(wrapped).post(signed_url(), json=SAMPLE_REQUEST)
    assert [i["ResultCode"] for i in response.json["ResultItem"]] == [38004, 38004]


def test_it_shares_a_blueprints_hooks() -> None:
    blueprint = FriendCallbackBlueprint()
    clock = FrozenClock()
    wrapped = FriendCallbackMiddleware(
        other_app, path=PATH, sdkappid=SDKAPPID, token=TOKEN, hooks=blueprint.hooks, clock=clock
    )

    @blueprint.on_friend_response(actions=["Response_Action_Reject"])
    def declines(item: Any, event: Any) -> Reject:
        return Reject(38005, "shared")

    app, _ = flask_app(blueprint, FRIENDCB_CLOCK=clock)
    for client in (Client(wrapped), app.test_client()):
        response = client.post(signed_url(), json=SAMPLE_REQUEST)
        assert [i["ResultCode"] for i in response.json["ResultItem"]] == [0, 38005]


def test_it_wraps_a_flask_app() -> None:
    app, _ = flask_app()
    app.wsgi_app = FriendCallbackMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, path="/tencent", sdkappid=SDKAPPID, token=TOKEN, clock=FrozenClock()
    )
    client = app.test_client()
    assert client.post(signed_url("/tencent"), json=SAMPLE_REQUEST).status_code == 200
    assert client.get("/hello").json == {"app": "flask"}


def test_signals_are_sent_with_the_middleware_as_sender() -> None:
    wrapped = middleware(clock=FrozenClock())
    heard: list[tuple[str, Any]] = []
    with (
        event_received.connected_to(lambda s, **kw: heard.append(("event", s)), wrapped),
        answer_decided.connected_to(lambda s, **kw: heard.append(("answer", s)), wrapped),
    ):
        Client(wrapped).post(signed_url(), json=SAMPLE_REQUEST)
    assert heard == [("event", wrapped), ("answer", wrapped)]


def test_on_command_works_on_the_middleware() -> None:
    wrapped = middleware(clock=FrozenClock())

    @wrapped.on_command("Group.CallbackBeforeSendMsg")
    def moderate(body: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "ErrorCode": 1,
            "ErrorInfo": f"blocked {body['From_Account']} via {context.opt_platform}",
        }

    query = callback_query(
        SDKAPPID,
        token=TOKEN,
        request_time=NOW,
        command="Group.CallbackBeforeSendMsg",
        opt_platform="Android",
    )
    response = Client(wrapped).post(f"{PATH}?{query}", data=json.dumps({"From_Account": "eve"}))
    assert response.json == {
        "ActionStatus": "OK",
        "ErrorCode": 1,
        "ErrorInfo": "blocked eve via Android",
    }


def reads_current_app(blueprint: FriendCallbackBlueprint) -> list[str]:
    """A hook shared through the blueprint that blocks by a list in the app's config, read
    through ``current_app``; returns the names of the apps it ran in."""
    ran_in: list[str] = []

    @blueprint.on_friend_response
    def banned_by_config(item: Any, event: Any) -> Reject | None:
        ran_in.append(current_app.name)  # raises outside an app context
        g.seen = item.to_account  # g, too, is the app's
        if item.to_account in current_app.config["BANNED"]:
            return Reject(38001, "banned")
        return None

    return ran_in


def wrap_with_shared_hooks(host: Flask, blueprint: FriendCallbackBlueprint, **options: Any) -> None:
    host.wsgi_app = FriendCallbackMiddleware(  # type: ignore[method-assign]
        host.wsgi_app,
        path="/tencent",
        sdkappid=SDKAPPID,
        token=TOKEN,
        hooks=blueprint.hooks,
        clock=FrozenClock(),
        **options,
    )


def test_given_the_app_it_runs_hooks_in_the_apps_context() -> None:
    blueprint = FriendCallbackBlueprint()
    ran_in = reads_current_app(blueprint)
    app, _ = flask_app(blueprint, FRIENDCB_CLOCK=FrozenClock(), BANNED=["id1"])
    wrap_with_shared_hooks(app, blueprint, app=app)
    for url in (signed_url("/tencent"), signed_url()):  # the middleware, then the blueprint
        response = app.test_client().post(url, json=SAMPLE_REQUEST)
        assert [i["ResultCode"] for i in response.json["ResultItem"]] == [38001, 0]
    assert ran_in == ["test_app"] * 4


def test_without_the_app_a_hook_needing_it_fails_and_the_error_policy_decides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What app= is for: a middleware runs before Flask, outside any app context.
    blueprint = FriendCallbackBlueprint()
    ran_in = reads_current_app(blueprint)
    app, _ = flask_app(blueprint, FRIENDCB_CLOCK=FrozenClock(), BANNED=["id1"])
    wrap_with_shared_hooks(app, blueprint)
    response = app.test_client().post(signed_url("/tencent"), json=SAMPLE_REQUEST)
    assert [i["ResultCode"] for i in response.json["ResultItem"]] == [0, 0]
    assert ran_in == []
    assert "Working outside of application context" in caplog.text


def test_the_context_is_pushed_for_each_callback_and_popped_after() -> None:
    blueprint = FriendCallbackBlueprint()
    contexts: list[Any] = []
    blueprint.on_friend_response(lambda item, event: contexts.append(g._get_current_object()))
    app, _ = flask_app(blueprint, FRIENDCB_CLOCK=FrozenClock())
    wrapped = FriendCallbackMiddleware(
        other_app, path=PATH, sdkappid=SDKAPPID, token=TOKEN, hooks=blueprint.hooks, app=app,
        clock=FrozenClock(),
    )  # fmt: skip
    client = Client(wrapped)
    for _ in range(2):
        assert client.post(signed_url(), json=SAMPLE_REQUEST).status_code == 200
    assert len(contexts) == 4
    assert contexts[0] is contexts[1]  # one context per callback: both items share its g
    assert contexts[1] is not contexts[2]  # a fresh one for the next callback
    assert not has_app_context()  # popped


@pytest.mark.parametrize("app", ["not an app", object(), other_app])
def test_app_must_be_a_flask_app(app: Any) -> None:
    with pytest.raises(ConfigError, match="app: must be a Flask app"):
        middleware(app=app)
