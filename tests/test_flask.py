"""Flask conventions: state, several apps, app factories, CSRF, signals, logging."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

from flask_friendcb import (
    FriendCallbackBlueprint,
    FriendCallbackState,
    FriendResponseAnswer,
    FriendResponseEvent,
    Reject,
)
from flask_friendcb.signals import answer_decided, event_received
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query, sign, signed_client

from .conftest import NOW, SDKAPPID, TOKEN, FrozenClock, flask_app


def test_state_lives_in_app_extensions() -> None:
    app, blueprint = flask_app()
    state = app.extensions["friendcb"]
    assert isinstance(state, FriendCallbackState)
    assert state.blueprint is blueprint
    assert state.hooks is blueprint.hooks
    assert state.settings.sdkappid == SDKAPPID


def test_the_one_line_mount_gives_the_route() -> None:
    app, _ = flask_app()
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules["/im/callback"] == "friendcb.callback"


def test_custom_rule_and_name() -> None:
    blueprint = FriendCallbackBlueprint("tencent", rule="/tim")
    app = Flask(__name__)
    app.config.update(FRIENDCB_SDKAPPID=SDKAPPID, FRIENDCB_TOKEN=TOKEN)
    app.register_blueprint(blueprint, url_prefix="/hooks")
    assert signed_client(app).callback(SAMPLE_REQUEST).status_code == 200
    assert any(rule.rule == "/hooks/tim" for rule in app.url_map.iter_rules())


def test_one_blueprint_serves_two_apps_each_with_its_own_config() -> None:
    blueprint = FriendCallbackBlueprint()
    hits = []

    @blueprint.on_friend_response
    def record(item: Any, event: FriendResponseEvent) -> None:
        hits.append(event.sdkappid)

    first, _ = flask_app(blueprint, FRIENDCB_SDKAPPID=1400000001, FRIENDCB_TOKEN="one")
    second, _ = flask_app(blueprint, FRIENDCB_SDKAPPID=1400000002, FRIENDCB_TOKEN="two")
    assert signed_client(first).callback().status_code == 200
    assert signed_client(second).callback().status_code == 200
    assert hits == ["1400000001", "1400000002"]
    # Each app refuses the other's SdkAppid and token.
    query = callback_query(1400000002, token="two")
    assert first.test_client().post(f"/im/callback?{query}", json=SAMPLE_REQUEST).status_code == 403
    query = callback_query(1400000002, token="one")
    assert (
        second.test_client().post(f"/im/callback?{query}", json=SAMPLE_REQUEST).status_code == 401
    )


def test_hooks_declared_before_the_app_exists_run() -> None:
    blueprint = FriendCallbackBlueprint()

    @blueprint.on_friend_response
    def early(item: Any, event: Any) -> Reject:
        return Reject(38001, "early")

    def create_app() -> Flask:
        app, _ = flask_app(blueprint)
        return app

    answer = signed_client(create_app()).callback(SAMPLE_REQUEST).json
    assert answer is not None
    assert [item["ResultCode"] for item in answer["ResultItem"]] == [38001, 38001]


def test_hooks_declared_after_registration_run_too() -> None:
    app, blueprint = flask_app()
    blueprint.on_friend_response(lambda item, event: Reject(38002, "late"))
    answer = signed_client(app).callback(SAMPLE_REQUEST).json
    assert answer is not None
    assert answer["ResultItem"][0]["ResultCode"] == 38002


def test_a_second_callback_blueprint_on_one_app_is_an_error() -> None:
    app, _ = flask_app()
    with pytest.raises(RuntimeError, match="already has a FriendCallbackBlueprint"):
        app.register_blueprint(FriendCallbackBlueprint("another"), url_prefix="/other")


def test_the_same_blueprint_under_two_urls() -> None:
    app, blueprint = flask_app()
    app.register_blueprint(blueprint, url_prefix="/legacy", name="friendcb_legacy")
    client = signed_client(app)
    assert client.callback(path="/im/callback").status_code == 200
    assert client.callback(path="/legacy/callback").status_code == 200


def test_nested_in_a_parent_blueprint() -> None:
    parent = Blueprint("api", __name__, url_prefix="/api")
    parent.register_blueprint(FriendCallbackBlueprint(), url_prefix="/im")
    app = Flask(__name__)
    app.config.update(FRIENDCB_SDKAPPID=SDKAPPID, FRIENDCB_TOKEN=TOKEN)
    app.register_blueprint(parent)
    response = signed_client(app).callback(SAMPLE_REQUEST)
    assert response.status_code == 200
    assert response.request.path == "/api/im/callback"


def test_signed_client_needs_the_blueprint() -> None:
    with pytest.raises(RuntimeError, match="no FriendCallbackBlueprint is registered"):
        signed_client(Flask(__name__))


@pytest.mark.parametrize("order", ["csrf-first", "csrf-after"])
def test_callback_works_in_an_app_with_csrf_protection(order: str) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="s", FRIENDCB_SDKAPPID=SDKAPPID, FRIENDCB_TOKEN=TOKEN)

    @app.post("/form")
    def form() -> str:
        return "saved"

    if order == "csrf-first":
        CSRFProtect(app)
    app.register_blueprint(FriendCallbackBlueprint(), url_prefix="/im")
    if order == "csrf-after":
        CSRFProtect(app)
    assert signed_client(app).callback(SAMPLE_REQUEST).status_code == 200
    # The rest of the app is still protected.
    assert app.test_client().post("/form").status_code == 400


def test_signals_report_events_and_answers_with_the_app_as_sender() -> None:
    app, blueprint = flask_app()
    blueprint.on_friend_response(
        lambda item, event: Reject(38003, "x") if item.to_account == "id2" else None
    )
    received: list[tuple[Any, FriendResponseEvent]] = []
    decided: list[tuple[Any, FriendResponseEvent, FriendResponseAnswer]] = []

    def on_event(sender: Any, event: FriendResponseEvent) -> None:
        received.append((sender, event))

    def on_answer(sender: Any, event: FriendResponseEvent, answer: FriendResponseAnswer) -> None:
        decided.append((sender, event, answer))

    other, _ = flask_app(FriendCallbackBlueprint())
    with event_received.connected_to(on_event, app), answer_decided.connected_to(on_answer, app):
        signed_client(app).callback(SAMPLE_REQUEST)
        signed_client(other).callback(SAMPLE_REQUEST)  # another sender: not heard
    assert len(received) == 1
    assert received[0][0] is app
    assert received[0][1].from_account == "id"
    ((sender, event, answer),) = decided
    assert sender is app
    assert event is received[0][1]
    assert [(r.to_account, r.result_code) for r in answer.results] == [("id1", 0), ("id2", 38003)]
    assert [r.to_account for r in answer.blocked] == ["id2"]


def test_a_failing_signal_receiver_costs_nothing_but_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = flask_app()

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    with (
        caplog.at_level(logging.ERROR),
        event_received.connected_to(broken, app),
        answer_decided.connected_to(broken, app),
    ):
        response = signed_client(app).callback(SAMPLE_REQUEST)
    assert response.status_code == 200
    assert sum("observer" in r.getMessage() for r in caplog.records) == 2


def test_signals_are_not_sent_for_refused_callbacks() -> None:
    app, _ = flask_app()
    heard = []
    with event_received.connected_to(lambda sender, **kw: heard.append(kw), app):
        signed_client(app).callback(SAMPLE_REQUEST, token="wrong")
        signed_client(app).callback(b"[]")
    assert heard == []


def test_refusals_are_logged_with_reason_but_never_the_token_or_sign(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FrozenClock()
    app, _ = flask_app(FRIENDCB_CLOCK=clock)
    client = app.test_client()
    good_sign = sign(TOKEN, NOW)
    queries = [
        callback_query(SDKAPPID, token=TOKEN, request_time=NOW - 125),
        callback_query(SDKAPPID, token=TOKEN, request_time=NOW, Sign=good_sign[:-1] + "0"),
        callback_query(SDKAPPID, token=TOKEN, request_time=NOW, SdkAppid="1"),
        callback_query(SDKAPPID, token=TOKEN, request_time="x" + good_sign),
    ]
    with caplog.at_level(logging.DEBUG):
        statuses = [
            client.post(f"/im/callback?{q}", json=SAMPLE_REQUEST).status_code for q in queries
        ]
        responses = [
            client.post(f"/im/callback?{q}", json=SAMPLE_REQUEST).get_data(as_text=True)
            for q in queries
        ]
    assert statuses == [401, 401, 403, 401]
    messages = [record.getMessage() for record in caplog.records]
    assert any("125 s behind" in m for m in messages)
    assert any("Sign does not match" in m for m in messages)
    for text in messages + responses:
        assert TOKEN not in text
        assert good_sign not in text
        assert good_sign[:-1] not in text
        assert good_sign[:16] not in text
    refusal = next(r for r in caplog.records if "125 s behind" in r.getMessage())
    assert refusal.levelno == logging.WARNING
    assert refusal.friendcb_status == 401  # type: ignore[attr-defined]


def test_the_host_apps_max_content_length_does_not_apply() -> None:
    app, _ = flask_app(MAX_CONTENT_LENGTH=10)
    assert signed_client(app).callback(SAMPLE_REQUEST).status_code == 200


def test_other_routes_of_the_app_are_untouched() -> None:
    app, _ = flask_app()
    client = app.test_client()
    assert client.get("/hello").json == {"app": "flask"}
    assert client.post("/hello", data="not json").json == {"app": "flask"}
    assert client.get("/missing").status_code == 404


def test_unsigned_mode_accepts_callbacks_without_sign() -> None:
    app, _ = flask_app(FRIENDCB_TOKEN=None, FRIENDCB_ALLOW_UNSIGNED=True)
    query = callback_query(SDKAPPID)
    response = app.test_client().post(f"/im/callback?{query}", data=json.dumps(SAMPLE_REQUEST))
    assert response.status_code == 200
    # SdkAppid is still checked.
    query = callback_query(1)
    assert app.test_client().post(f"/im/callback?{query}", json=SAMPLE_REQUEST).status_code == 403


def test_decisions_are_logged_with_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    app, blueprint = flask_app()

    @blueprint.on_friend_response
    def no_id2(item: Any, event: Any) -> Reject | None:
        return Reject(38007, "x") if item.to_account == "id2" else None

    with caplog.at_level(logging.INFO, logger="flask_friendcb"):
        signed_client(app).callback(SAMPLE_REQUEST)
    (blocked,) = [r for r in caplog.records if r.getMessage().startswith("blocked")]
    assert blocked.levelno == logging.INFO
    assert "To_Account 'id2', ResultCode 38007" in blocked.getMessage()
    assert blocked.friendcb_to_account == "id2"  # type: ignore[attr-defined]
    assert blocked.friendcb_from_account == "id"  # type: ignore[attr-defined]
    assert blocked.friendcb_result_code == 38007  # type: ignore[attr-defined]
    assert blocked.friendcb_outcome == "rejected"  # type: ignore[attr-defined]
    assert blocked.friendcb_hook.endswith("no_id2")  # type: ignore[attr-defined]
    assert blocked.friendcb_action == "Response_Action_Reject"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.getMessage().startswith("allowed")]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="flask_friendcb"):
        signed_client(app).callback(SAMPLE_REQUEST)
    (allowed,) = [r for r in caplog.records if r.getMessage().startswith("allowed")]
    assert allowed.levelno == logging.DEBUG
    assert allowed.friendcb_outcome == "no_decision"  # type: ignore[attr-defined]


def test_a_failing_receiver_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    app, _ = flask_app()
    heard: list[str] = []

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("metrics down")

    def audit(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs["event"].from_account)

    async def coroutine(sender: Any, **kwargs: Any) -> None:
        heard.append("never")

    with (
        caplog.at_level(logging.ERROR),
        answer_decided.connected_to(broken, app),
        answer_decided.connected_to(coroutine, app),
        answer_decided.connected_to(audit, app),
    ):
        assert signed_client(app).callback(SAMPLE_REQUEST).status_code == 200
    assert heard == ["id"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed" in m for m in messages) == 1
    assert sum("async" in m for m in messages) == 1


@pytest.mark.parametrize("reader", ["get_json", "get_data", "form"])
def test_a_body_the_host_app_read_first_still_reaches_the_callback(reader: str) -> None:
    app, _ = flask_app()

    @app.before_request
    def peek() -> None:
        from flask import request

        if reader == "get_json":
            request.get_json(silent=True)
        elif reader == "get_data":
            request.get_data()
        else:
            request.form.get("x")

    response = signed_client(app).callback(SAMPLE_REQUEST)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.json["ResultItem"]) == 2
    too_big = dict(SAMPLE_REQUEST, Padding="x" * (1 << 20))
    assert signed_client(app).callback(too_big).status_code == 413
