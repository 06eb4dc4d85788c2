"""Other callbacks on the same URL: pass-through, handlers, and handler failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from flask_friendcb import CallbackContext

from .conftest import SDKAPPID, Receiver

OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
JOIN = "Group.CallbackAfterNewMemberJoin"


def post_command(receiver: Receiver, body: dict[str, Any], **query: Any) -> Any:
    answer = receiver.post(
        {"CallbackCommand": JOIN, **body},
        receiver.query(CallbackCommand=JOIN, **query),
    )
    assert answer.status == 200
    return answer.json


def test_unhandled_commands_get_the_plain_ok(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="flask_friendcb"):
        assert post_command(receiver, {"GroupId": "g"}) == OK
    assert any("no handler" in record.getMessage() for record in caplog.records)


def test_unhandled_commands_are_still_authenticated(receiver: Receiver) -> None:
    answer = receiver.post(
        {"CallbackCommand": JOIN}, receiver.query(token="wrong", CallbackCommand=JOIN)
    )
    assert answer.status == 401


def test_a_handler_gets_body_and_context_and_extends_the_answer(receiver: Receiver) -> None:
    seen: list[tuple[dict[str, Any], CallbackContext]] = []

    @receiver.hooks.on_command(JOIN)
    def joined(body: dict[str, Any], context: CallbackContext) -> dict[str, Any]:
        seen.append((body, context))
        return {"Extra": [1, 2]}

    answer = post_command(receiver, {"GroupId": "g1"}, ClientIP="198.51.100.7", OptPlatform="Web")
    assert answer == {**OK, "Extra": [1, 2]}
    ((body, context),) = seen
    assert body == {"CallbackCommand": JOIN, "GroupId": "g1"}
    assert context == CallbackContext(SDKAPPID, JOIN, "198.51.100.7", "Web")


def test_a_handler_returning_none_gives_the_plain_ok(receiver: Receiver) -> None:
    receiver.hooks.on_command(JOIN)(lambda body, context: None)
    assert post_command(receiver, {}) == OK


@pytest.mark.parametrize(
    "failure",
    [
        lambda body, context: 1 / 0,
        lambda body, context: ["not", "a", "mapping"],
        lambda body, context: {"NaN": float("nan")},
        lambda body, context: {"Set": {1, 2}},
    ],
    ids=["raises", "list", "nan", "unserialisable"],
)
def test_a_failing_handler_gives_the_plain_ok_and_a_log(
    receiver: Receiver, failure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.hooks.on_command(JOIN)(failure)
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        assert post_command(receiver, {}) == OK
    record = next(r for r in caplog.records if "failed" in r.getMessage())
    assert record.exc_info is not None
