"""Wire behaviour, the same table for both adapters: in process, and over a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from flask_friendcb import ErrorCode, Reject, ResponseAction
from flask_friendcb.testing import SAMPLE_REQUEST, callback_query, sign

from .conftest import NOW, OLD_TOKEN, SDKAPPID, TOKEN, Answer, Receiver

SEED_RESPONSE = {
    "ActionStatus": "OK",
    "ErrorCode": 0,
    "ErrorInfo": "",
    "ResultItem": [
        {"To_Account": "id1", "ResultCode": 0, "ResultInfo": ""},
        {"To_Account": "id2", "ResultCode": 0, "ResultInfo": ""},
    ],
}


def assert_protocol_shape(answer: Answer) -> None:
    """Every answer: JSON, the three envelope fields, a code that is 0 or in Tencent's range."""
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json
    assert body["ActionStatus"] in ("OK", "FAIL")
    assert isinstance(body["ErrorInfo"], str)
    code = body["ErrorCode"]
    assert type(code) is int
    assert code == 0 if body["ActionStatus"] == "OK" else 38000 <= code <= 39000


def test_seed_sample_gets_the_seed_response(receiver: Receiver) -> None:
    answer = receiver.post(SAMPLE_REQUEST)
    assert answer.status == 200
    assert answer.json == SEED_RESPONSE
    assert_protocol_shape(answer)


def test_seed_sample_over_a_real_server(served_receiver: Receiver) -> None:
    answer = served_receiver.post(SAMPLE_REQUEST)
    assert answer.status == 200
    assert answer.json == SEED_RESPONSE


def q(**params: Any) -> Callable[[Receiver], str]:
    """A signed query at the receiver's clock, with ``params`` added or replaced."""
    return lambda r: r.query(**params)


def raw(text: str) -> Callable[[Receiver], str]:
    """A query string sent exactly as written; NOW and SIGN(t) placeholders are filled in."""

    def build(r: Receiver) -> str:
        now = int(r.clock())
        result = text.replace("{now}", str(now)).replace("{sign}", sign(TOKEN, now))
        return result.replace("{app}", SDKAPPID)

    return build


def signed_at(seconds: int, token: str = TOKEN) -> Callable[[Receiver], str]:
    return lambda r: callback_query(SDKAPPID, token=token, request_time=seconds)


def signed_with_time_text(text: str) -> Callable[[Receiver], str]:
    """A query whose RequestTime is ``text`` and whose Sign is computed over it, so only the
    RequestTime check can refuse it."""
    return lambda r: callback_query(SDKAPPID, token=TOKEN, request_time=text)


def body_with(**changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(SAMPLE_REQUEST))
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    return body


def item_with(**changes: Any) -> dict[str, Any]:
    item = dict(SAMPLE_REQUEST["ResponseFriendItem"][0])
    for key, value in changes.items():
        if value is ...:
            del item[key]
        else:
            item[key] = value
    return body_with(ResponseFriendItem=[item])


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    code: int | None
    query: Callable[[Receiver], str] | None = None
    body: Any = None
    info: str = ""  # a fragment ErrorInfo must contain


CASES = [
    # SdkAppid
    Case(
        "sdkappid-missing",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("CallbackCommand=Sns.CallbackPrevFriendResponse&RequestTime={now}&Sign={sign}"),
        info="SdkAppid is missing",
    ),
    Case(
        "sdkappid-other",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        q(SdkAppid="1400000001"),
        info="'1400000001' is not",
    ),
    Case("sdkappid-empty", 403, ErrorCode.SDKAPPID_MISMATCH, q(SdkAppid="")),
    Case("sdkappid-leading-zero", 403, ErrorCode.SDKAPPID_MISMATCH, q(SdkAppid="0" + SDKAPPID)),
    Case(
        "sdkappid-lower-case-key",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("sdkappid={app}&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "sdkappid-twice-ours-and-other",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid={app}&SdkAppid=1400000001&RequestTime={now}&Sign={sign}"),
        info="repeated",
    ),
    Case(
        "sdkappid-twice-other-and-ours",
        403,
        ErrorCode.SDKAPPID_MISMATCH,
        raw("SdkAppid=1400000001&SdkAppid={app}&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "sdkappid-percent-encoded-is-decoded",
        200,
        None,
        raw(
            "SdkAppid="
            + "".join(f"%{ord(c):02X}" for c in SDKAPPID)
            + "&RequestTime={now}&Sign={sign}"
        ),
    ),
    # Sign
    Case(
        "sign-missing",
        401,
        ErrorCode.SIGN_MISSING,
        q(token=None, RequestTime=str(NOW)),
        info="Sign is missing",
    ),
    Case("sign-wrong", 401, ErrorCode.SIGN_MISMATCH, q(Sign="0" * 64), info="Sign does not match"),
    Case("sign-other-token", 401, ErrorCode.SIGN_MISMATCH, signed_at(NOW, "not-our-token")),
    Case("sign-empty", 401, ErrorCode.SIGN_MISMATCH, q(Sign="")),
    Case("sign-upper-case", 401, ErrorCode.SIGN_MISMATCH, q(Sign=sign(TOKEN, NOW).upper())),
    Case("sign-padded", 401, ErrorCode.SIGN_MISMATCH, q(Sign=f" {sign(TOKEN, NOW)} ")),
    Case("sign-for-another-second", 401, ErrorCode.SIGN_MISMATCH, q(Sign=sign(TOKEN, NOW - 1))),
    Case(
        "sign-twice",
        401,
        ErrorCode.SIGN_MISSING,
        raw("SdkAppid={app}&RequestTime={now}&Sign={sign}&Sign={sign}"),
        info="repeated",
    ),
    Case("sign-non-ascii", 401, ErrorCode.SIGN_MISMATCH, q(Sign="é" * 64)),
    # RequestTime
    Case(
        "time-missing",
        401,
        ErrorCode.REQUEST_TIME_MISSING,
        raw("SdkAppid={app}&Sign={sign}"),
        info="RequestTime is missing",
    ),
    Case(
        "time-twice",
        401,
        ErrorCode.REQUEST_TIME_MISSING,
        raw("SdkAppid={app}&RequestTime={now}&RequestTime={now}&Sign={sign}"),
    ),
    Case(
        "time-non-numeric",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("soon"),
        info="not Unix time",
    ),
    Case("time-empty", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text("")),
    Case(
        "time-arabic-indic-digits",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("".join(chr(0x660 + int(d)) for d in str(NOW))),
    ),
    Case(
        "time-full-width-digits",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("".join(chr(0xFF10 + int(d)) for d in str(NOW))),
    ),
    Case("time-plus-sign", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f"+{NOW}")),
    Case("time-minus-sign", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text("-1")),
    Case("time-spaces", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f" {NOW} ")),
    Case("time-exponent", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text("1.7e9")),
    Case("time-fraction", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text(f"{NOW}.0")),
    Case(
        "time-underscores",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text("1_700_000_000"),
    ),
    Case(
        "time-milliseconds",
        401,
        ErrorCode.REQUEST_TIME_INVALID,
        signed_with_time_text(str(NOW * 1000)),
    ),
    Case(
        "time-5000-digits", 401, ErrorCode.REQUEST_TIME_INVALID, signed_with_time_text("9" * 5000)
    ),
    Case(
        "time-stale-61s", 401, ErrorCode.REQUEST_TIME_STALE, signed_at(NOW - 61), info="61 s behind"
    ),
    Case(
        "time-future-61s", 401, ErrorCode.REQUEST_TIME_STALE, signed_at(NOW + 61), info="61 s ahead"
    ),
    Case("time-60s-old-is-inside", 200, None, signed_at(NOW - 60)),
    Case("time-60s-ahead-is-inside", 200, None, signed_at(NOW + 60)),
    Case("time-leading-zero-signed-as-sent", 200, None, signed_with_time_text(f"0{NOW}")),
    # rotation
    Case(
        "rotation-old-token-refused-without-rotation",
        401,
        ErrorCode.SIGN_MISMATCH,
        signed_at(NOW, OLD_TOKEN),
    ),
    # CallbackCommand
    Case(
        "command-mismatch",
        400,
        ErrorCode.COMMAND_INVALID,
        q(CallbackCommand="Group.CallbackAfterNewMemberJoin"),
        SAMPLE_REQUEST,
        info="CallbackCommand differs",
    ),
    Case(
        "command-twice",
        400,
        ErrorCode.COMMAND_INVALID,
        raw(
            "SdkAppid={app}&RequestTime={now}&Sign={sign}"
            "&CallbackCommand=Sns.CallbackPrevFriendResponse"
            "&CallbackCommand=Sns.CallbackPrevFriendResponse"
        ),
        info="repeated",
    ),
    Case("command-only-in-body", 200, None, raw("SdkAppid={app}&RequestTime={now}&Sign={sign}")),
    Case(
        "command-nowhere",
        400,
        ErrorCode.COMMAND_INVALID,
        raw("SdkAppid={app}&RequestTime={now}&Sign={sign}"),
        body_with(CallbackCommand=...),
        info="missing",
    ),
    Case(
        "command-not-a-string-in-body",
        400,
        ErrorCode.COMMAND_INVALID,
        raw("SdkAppid={app}&RequestTime={now}&Sign={sign}"),
        body_with(CallbackCommand=7),
    ),
    Case(
        "command-other-answered-ok",
        200,
        None,
        q(CallbackCommand="C2C.CallbackAfterSendMsg"),
        {"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "a"},
    ),
    Case(
        "command-other-without-body-command",
        200,
        None,
        q(CallbackCommand="State.StateChange"),
        {"Info": {"Action": "Login"}},
    ),
    # query
    Case(
        "query-too-many-fields",
        400,
        ErrorCode.QUERY_INVALID,
        raw("SdkAppid={app}&RequestTime={now}&Sign={sign}" + "&x=1" * 100),
    ),
    # bodies
    Case("body-empty", 400, ErrorCode.BODY_NOT_JSON, body=b"", info="empty"),
    Case(
        "body-invalid-utf8",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=b'{"a": "\xff\xfe"}',
        info="not UTF-8",
    ),
    Case(
        "body-utf16", 400, ErrorCode.BODY_NOT_JSON, body=json.dumps(SAMPLE_REQUEST).encode("utf-16")
    ),
    Case("body-not-json", 400, ErrorCode.BODY_NOT_JSON, body=b"CallbackCommand=x"),
    Case(
        "body-truncated",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=json.dumps(SAMPLE_REQUEST)[:-1].encode(),
    ),
    Case("body-array", 400, ErrorCode.BODY_NOT_OBJECT, body=[SAMPLE_REQUEST], info="an array"),
    Case("body-string", 400, ErrorCode.BODY_NOT_OBJECT, body="x", info="a string"),
    Case("body-number", 400, ErrorCode.BODY_NOT_OBJECT, body=1, info="a number"),
    Case("body-null", 400, ErrorCode.BODY_NOT_OBJECT, body=b"null", info="null"),
    Case("body-true", 400, ErrorCode.BODY_NOT_OBJECT, body=b"true", info="a boolean"),
    Case(
        "body-nan",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=json.dumps(SAMPLE_REQUEST).replace("1631777645424", "NaN").encode(),
        info="NaN",
    ),
    Case(
        "body-infinity",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=json.dumps(SAMPLE_REQUEST).replace("1631777645424", "-Infinity").encode(),
    ),
    Case(
        "body-5000-digit-integer",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=json.dumps(SAMPLE_REQUEST).replace("1631777645424", "7" * 5000).encode(),
        info="too many digits",
    ),
    Case(
        "body-100000-deep",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        info="nested too deeply",
    ),
    Case(
        "body-100000-deep-objects",
        400,
        ErrorCode.BODY_NOT_JSON,
        body=b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    ),
    # schema
    Case(
        "schema-event-time-float",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime=1631777645424.0),
        info="EventTime",
    ),
    Case(
        "schema-event-time-bool",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime=True),
        info="EventTime",
    ),
    Case(
        "schema-event-time-string",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime="1631777645424"),
        info="EventTime",
    ),
    Case(
        "schema-event-time-negative",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime=-1),
        info="EventTime",
    ),
    Case(
        "schema-event-time-beyond-year-9999",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime=10**16),
        info="EventTime",
    ),
    Case(
        "schema-event-time-missing",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(EventTime=...),
        info="EventTime: Missing data",
    ),
    Case(
        "schema-from-account-number",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(From_Account=42),
        info="From_Account",
    ),
    Case(
        "schema-from-account-null",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(From_Account=None),
        info="From_Account",
    ),
    Case(
        "schema-from-account-empty",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(From_Account=""),
        info="From_Account",
    ),
    Case(
        "schema-items-missing",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(ResponseFriendItem=...),
        info="ResponseFriendItem",
    ),
    Case(
        "schema-items-object",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(ResponseFriendItem={"To_Account": "a"}),
        info="ResponseFriendItem",
    ),
    Case(
        "schema-item-not-object",
        400,
        ErrorCode.BODY_INVALID,
        body=body_with(ResponseFriendItem=["id1"]),
        info="ResponseFriendItem[0]",
    ),
    Case(
        "schema-to-account-number",
        400,
        ErrorCode.BODY_INVALID,
        body=item_with(To_Account=1),
        info="ResponseFriendItem[0].To_Account",
    ),
    Case(
        "schema-to-account-missing",
        400,
        ErrorCode.BODY_INVALID,
        body=item_with(To_Account=...),
        info="ResponseFriendItem[0].To_Account",
    ),
    Case(
        "schema-to-account-empty",
        400,
        ErrorCode.BODY_INVALID,
        body=item_with(To_Account=""),
        info="ResponseFriendItem[0].To_Account",
    ),
    Case(
        "schema-to-account-null",
        400,
        ErrorCode.BODY_INVALID,
        body=item_with(To_Account=None),
        info="ResponseFriendItem[0].To_Account",
    ),
    Case(
        "schema-items-null-is-empty",
        200,
        None,
        body=body_with(ResponseFriendItem=None),
    ),
    # One bad item costs one item (see the tests of ITEM_FAULTS below): 200, the error policy.
    Case("schema-action-unknown", 200, None, body=item_with(ResponseAction="Response_Action_X")),
    Case("schema-action-missing", 200, None, body=item_with(ResponseAction=...)),
    Case("schema-remark-number", 200, None, body=item_with(Remark=5)),
    Case("schema-remark-null-is-empty", 200, None, body=item_with(Remark=None)),
    Case("schema-remark-absent-is-empty", 200, None, body=item_with(Remark=..., TagName=...)),
    Case(
        "schema-unknown-fields-ignored",
        200,
        None,
        body={**body_with(NewField={"deep": [1, 2]}), "Another": None},
    ),
    Case("schema-requester-absent", 200, None, body=body_with(Requester_Account=...)),
    Case("schema-no-items", 200, None, body=body_with(ResponseFriendItem=[])),
    Case(
        "schema-lone-surrogate-account",
        200,
        None,
        body=json.dumps(SAMPLE_REQUEST).replace('"id1"', '"\\ud800x"').encode(),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_wire_matrix(receiver: Receiver, case: Case) -> None:
    assert_case(receiver, case)


def assert_case(receiver: Receiver, case: Case) -> None:
    """Send ``case`` and check its answer: status, shape, ErrorCode and ErrorInfo."""
    query = case.query(receiver) if case.query else None
    answer = receiver.post(case.body, query)
    assert answer.status == case.status, answer.body
    assert_protocol_shape(answer)
    body = answer.json
    if case.code is None:
        assert body["ActionStatus"] == "OK"
        assert body["ErrorCode"] == 0
    else:
        assert body["ActionStatus"] == "FAIL"
        assert body["ErrorCode"] == case.code
        assert case.info in body["ErrorInfo"]
        assert "ResultItem" not in body


# A subset of the table, through a real server: what needs real HTTP handling most.
SERVED = {
    "sdkappid-other",
    "sign-wrong",
    "time-stale-61s",
    "body-100000-deep",
    "body-nan",
    "schema-event-time-float",
    "schema-items-null-is-empty",
    "schema-action-unknown",
    "command-mismatch",
    "command-other-answered-ok",
}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SERVED], ids=lambda c: c.id)
def test_wire_matrix_over_a_real_server(served_receiver: Receiver, case: Case) -> None:
    query = case.query(served_receiver) if case.query else None
    answer = served_receiver.post(case.body, query)
    assert answer.status == case.status
    assert_protocol_shape(answer)
    assert answer.json["ErrorCode"] == (case.code or 0)


def test_remark_and_tag_absent_or_null_reach_hooks_as_empty(receiver: Receiver) -> None:
    seen = []
    receiver.hooks.on_friend_response(lambda item, event: seen.append(item) and None)
    items = [
        {"To_Account": "a", "ResponseAction": "Response_Action_Agree"},
        {
            "To_Account": "b",
            "Remark": None,
            "TagName": None,
            "ResponseAction": "Response_Action_Reject",
        },
        {
            "To_Account": "c",
            "Remark": "r",
            "TagName": "t",
            "ResponseAction": "Response_Action_AgreeAndAdd",
        },
    ]
    assert receiver.post(body_with(ResponseFriendItem=items)).status == 200
    assert [(i.to_account, i.remark, i.tag_name, i.response_action) for i in seen] == [
        ("a", "", "", ResponseAction.AGREE),
        ("b", "", "", ResponseAction.REJECT),
        ("c", "r", "t", ResponseAction.AGREE_AND_ADD),
    ]


def test_event_carries_query_and_body_fields(receiver: Receiver) -> None:
    events = []
    receiver.hooks.on_friend_response(lambda item, event: events.append(event) and None)
    query = receiver.query(ClientIP="203.0.113.9", OptPlatform="iOS")
    assert receiver.post(SAMPLE_REQUEST, query).status == 200
    event = events[0]
    assert event.sdkappid == SDKAPPID
    assert event.callback_command == "Sns.CallbackPrevFriendResponse"
    assert event.client_ip == "203.0.113.9"
    assert event.opt_platform == "iOS"
    assert event.requester_account == "id"
    assert event.from_account == "id"
    assert event.event_time_ms == 1631777645424
    assert event.event_time.isoformat() == "2021-09-16T07:34:05.424000+00:00"
    assert [item.to_account for item in event.items] == ["id1", "id2"]


def test_decisions_come_back_in_wire_order(receiver: Receiver) -> None:
    @receiver.hooks.on_friend_response
    def odd_ones_out(item: Any, event: Any) -> Reject | None:
        return (
            Reject(38000 + int(item.to_account), f"no {item.to_account}")
            if int(item.to_account) % 2
            else None
        )

    items = [{"To_Account": str(n), "ResponseAction": "Response_Action_Agree"} for n in range(1, 8)]
    answer = receiver.post(body_with(ResponseFriendItem=items))
    assert answer.json["ResultItem"] == [
        {
            "To_Account": str(n),
            "ResultCode": 38000 + n if n % 2 else 0,
            "ResultInfo": f"no {n}" if n % 2 else "",
        }
        for n in range(1, 8)
    ]


def test_rotation_accepts_every_configured_token(clock: Any) -> None:
    from .conftest import build_receiver

    for kind in ("blueprint", "middleware"):
        receiver = build_receiver(kind, clock, token=[TOKEN, OLD_TOKEN])
        for token in (TOKEN, OLD_TOKEN):
            assert (
                receiver.post(query=callback_query(SDKAPPID, token=token, request_time=NOW)).status
                == 200
            )
        stranger = callback_query(SDKAPPID, token="someone-else", request_time=NOW)
        assert receiver.post(query=stranger).status == 401


def test_skew_is_configurable(clock: Any) -> None:
    from .conftest import build_receiver

    receiver = build_receiver("middleware", clock, max_skew=5)
    assert (
        receiver.post(query=callback_query(SDKAPPID, token=TOKEN, request_time=NOW - 5)).status
        == 200
    )
    answer = receiver.post(query=callback_query(SDKAPPID, token=TOKEN, request_time=NOW - 6))
    assert answer.status == 401
    assert "6 s behind" in answer.json["ErrorInfo"]


def test_clock_moves_and_a_captured_url_expires(receiver: Receiver) -> None:
    query = receiver.query()
    assert receiver.post(SAMPLE_REQUEST, query).status == 200
    receiver.clock.now += 61
    answer = receiver.post(SAMPLE_REQUEST, query)
    assert answer.status == 401
    assert answer.json["ErrorCode"] == ErrorCode.REQUEST_TIME_STALE


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_in_json(receiver: Receiver, method: str) -> None:
    answer = receiver.post(b"", method=method)
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json["ErrorCode"] == ErrorCode.METHOD_NOT_ALLOWED
    assert_protocol_shape(answer)


def test_head_is_405_without_a_body(receiver: Receiver) -> None:
    answer = receiver.post(b"", method="HEAD")
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.body == b""


def test_body_over_the_limit_is_413(clock: Any) -> None:
    from .conftest import build_receiver

    for kind in ("blueprint", "middleware"):
        receiver = build_receiver(kind, clock, max_content_length=1000)
        fits = body_with(Padding="x" * (1000 - len(json.dumps(body_with(Padding="")))))
        assert len(json.dumps(fits)) == 1000
        assert receiver.post(fits).status == 200
        over = body_with(Padding="x" * 1000)
        answer = receiver.post(over)
        assert answer.status == 413
        assert answer.json["ErrorCode"] == ErrorCode.BODY_TOO_LARGE
        assert "1000 bytes" in answer.json["ErrorInfo"]


def test_percent_encoded_sign_is_decoded_like_any_query_value(receiver: Receiver) -> None:
    now = int(receiver.clock())
    encoded = "".join(f"%{ord(c):02x}" for c in sign(TOKEN, now))
    query = f"SdkAppid={SDKAPPID}&RequestTime={now}&Sign={encoded}"
    assert receiver.post(SAMPLE_REQUEST, query).status == 200
    assert receiver.post(SAMPLE_REQUEST, query.replace("%", "%25")).status == 401
    assert (
        receiver.post(
            SAMPLE_REQUEST, f"SdkAppid={quote(SDKAPPID)}&RequestTime={now}&Sign={sign(TOKEN, now)}"
        ).status
        == 200
    )


def test_at_most_a_thousand_items(receiver: Receiver) -> None:
    item = SAMPLE_REQUEST["ResponseFriendItem"][0]
    answer = receiver.post(body_with(ResponseFriendItem=[item] * 1000))
    assert answer.status == 200
    assert len(answer.json["ResultItem"]) == 1000
    answer = receiver.post(body_with(ResponseFriendItem=[item] * 1001))
    assert answer.status == 400
    assert answer.json["ErrorCode"] == ErrorCode.BODY_INVALID
    assert answer.json["ErrorInfo"] == "ResponseFriendItem: More than 1000 items."


def test_the_report_on_many_bad_items_is_cut_short(receiver: Receiver) -> None:
    answer = receiver.post(body_with(ResponseFriendItem=[{"To_Account": 1}] * 1000))
    assert answer.status == 400
    info = answer.json["ErrorInfo"]
    assert info.startswith("ResponseFriendItem[0].To_Account: Not a valid string.")
    assert len(info) == 1000


# --- one bad item costs one item ------------------------------------------------------------

# What can be wrong with an item whose To_Account is usable: each fails the item schema, and
# each costs that item only (DESIGN.md, section 1).
ITEM_FAULTS: dict[str, dict[str, Any]] = {
    "action-unknown": {"ResponseAction": "Response_Action_Block"},
    "action-number": {"ResponseAction": 3},
    "action-null": {"ResponseAction": None},
    "action-missing": {"ResponseAction": ...},
    "action-lower-case": {"ResponseAction": "response_action_agree"},
    "remark-number": {"Remark": 5},
    "remark-object": {"Remark": {"text": "hi"}},
    "tag-list": {"TagName": ["friends"]},
    "tag-bool": {"TagName": True},
    "remark-and-action": {"Remark": 1.5, "ResponseAction": "Response_Action_New"},
}


def wire_item(to_account: str, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "To_Account": to_account,
        "Remark": "hello",
        "TagName": "friends",
        "ResponseAction": "Response_Action_AgreeAndAdd",
    }
    for key, value in changes.items():
        if value is ...:
            del item[key]
        else:
            item[key] = value
    return item


def reject_everyone(receiver: Receiver) -> list[str]:
    """A hook that blocks every item it is given; returns the list of accounts it saw."""
    seen: list[str] = []

    @receiver.hooks.on_friend_response
    def block(item: Any, event: Any) -> Reject:
        seen.append(item.to_account)
        return Reject(38001, "blocked by the hook")

    return seen


def assert_one_bad_item_costs_one_item(receiver: Receiver, fault: dict[str, Any]) -> None:
    seen = reject_everyone(receiver)
    items = [wire_item("spammer"), wire_item("odd", **fault), wire_item("another")]
    answer = receiver.post(body_with(ResponseFriendItem=items))
    assert answer.status == 200, answer.body
    assert_protocol_shape(answer)
    assert answer.json["ResultItem"] == [
        {"To_Account": "spammer", "ResultCode": 38001, "ResultInfo": "blocked by the hook"},
        {"To_Account": "odd", "ResultCode": 0, "ResultInfo": ""},  # the default "allow" policy
        {"To_Account": "another", "ResultCode": 38001, "ResultInfo": "blocked by the hook"},
    ]
    assert seen == ["spammer", "another"]  # the bad item never reaches a hook


@pytest.mark.parametrize("fault", ITEM_FAULTS.values(), ids=list(ITEM_FAULTS))
def test_one_bad_item_costs_one_item(receiver: Receiver, fault: dict[str, Any]) -> None:
    assert_one_bad_item_costs_one_item(receiver, fault)


@pytest.mark.parametrize("fault", ["action-unknown", "remark-object"])
def test_one_bad_item_costs_one_item_over_a_real_server(
    served_receiver: Receiver, fault: str
) -> None:
    assert_one_bad_item_costs_one_item(served_receiver, ITEM_FAULTS[fault])


@pytest.mark.parametrize("kind", ["blueprint", "middleware"])
def test_a_bad_item_is_decided_by_the_reject_policy(kind: str, clock: Any) -> None:
    from .conftest import build_receiver

    receiver = build_receiver(kind, clock, on_hook_error="reject", hook_error_code=38998)
    seen = []
    receiver.hooks.on_friend_response(lambda item, event: seen.append(item.to_account) and None)
    items = [wire_item("a"), wire_item("b", ResponseAction="Response_Action_New"), wire_item("c")]
    answer = receiver.post(body_with(ResponseFriendItem=items))
    assert answer.status == 200
    assert answer.json["ResultItem"] == [
        {"To_Account": "a", "ResultCode": 0, "ResultInfo": ""},
        {
            "To_Account": "b",
            "ResultCode": 38998,
            "ResultInfo": "the friend response could not be checked",
        },
        {"To_Account": "c", "ResultCode": 0, "ResultInfo": ""},
    ]
    assert seen == ["a", "c"]


def test_bad_items_keep_their_wire_positions(receiver: Receiver) -> None:
    seen = reject_everyone(receiver)
    items = [wire_item(str(n), Remark=n) if n % 3 == 0 else wire_item(str(n)) for n in range(10)]
    answer = receiver.post(body_with(ResponseFriendItem=items))
    assert [(r["To_Account"], r["ResultCode"]) for r in answer.json["ResultItem"]] == [
        (str(n), 0 if n % 3 == 0 else 38001) for n in range(10)
    ]
    assert seen == [str(n) for n in range(10) if n % 3]


def test_every_item_bad_still_gets_one_result_each(receiver: Receiver) -> None:
    seen = reject_everyone(receiver)
    items = [wire_item(f"u{n}", ResponseAction=f"Response_Action_V{n}") for n in range(3)]
    answer = receiver.post(body_with(ResponseFriendItem=items))
    assert answer.status == 200
    assert [r["To_Account"] for r in answer.json["ResultItem"]] == ["u0", "u1", "u2"]
    assert {r["ResultCode"] for r in answer.json["ResultItem"]} == {0}
    assert seen == []


@pytest.mark.parametrize(
    ("bad", "info"),
    [
        (5, "ResponseFriendItem[1]: Invalid input type."),
        (None, "ResponseFriendItem[1]"),
        ("id2", "ResponseFriendItem[1]"),
        ([wire_item("x")], "ResponseFriendItem[1]"),
        (wire_item(7), "ResponseFriendItem[1].To_Account: Not a valid string."),
        (wire_item(""), "ResponseFriendItem[1].To_Account: Must not be empty."),
        (wire_item(None), "ResponseFriendItem[1].To_Account"),
        ({"ResponseAction": "Response_Action_Agree"}, "ResponseFriendItem[1].To_Account"),
    ],
    ids=["number", "null", "string", "array", "account-number", "account-empty", "account-null",
         "account-missing"],
)  # fmt: skip
def test_an_item_that_cannot_be_named_refuses_the_callback(
    receiver: Receiver, bad: Any, info: str
) -> None:
    # Its ResultItem could not name it, and Tencent matches results to items by To_Account.
    seen = reject_everyone(receiver)
    answer = receiver.post(body_with(ResponseFriendItem=[wire_item("a"), bad, wire_item("b")]))
    assert answer.status == 400
    assert answer.json["ErrorCode"] == ErrorCode.BODY_INVALID
    assert info in answer.json["ErrorInfo"]
    assert seen == []


def test_the_reason_is_logged_without_the_items_values(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    secret_remark = {"note": "hostile text 8c1f"}
    items = [wire_item("a"), wire_item("b\n", Remark=secret_remark, ResponseAction="X 9d2e")]
    with caplog.at_level("WARNING", logger="flask_friendcb"):
        assert receiver.post(body_with(ResponseFriendItem=items)).status == 200
    [record] = [r for r in caplog.records if getattr(r, "friendcb_outcome", "") == "invalid_item"]
    assert record.levelname == "WARNING"
    message = record.getMessage()
    assert "item 1 (To_Account 'b\\n')" in message
    assert "allowed by the error policy" in message
    assert "ResponseFriendItem[1].Remark: Not a valid string." in message
    assert "ResponseFriendItem[1].ResponseAction" in message
    assert record.friendcb_reason in message  # type: ignore[attr-defined]
    assert "8c1f" not in caplog.text
    assert "9d2e" not in caplog.text


def test_observers_see_bad_items_beside_the_hooked_ones(receiver: Receiver) -> None:
    from flask_friendcb import InvalidItem, Outcome
    from flask_friendcb.signals import answer_decided

    sender = receiver.extra.get("app", receiver.wsgi)
    heard: list[Any] = []
    items = [
        wire_item("a"),
        wire_item("b", ResponseAction="Response_Action_New", Remark="hi", TagName=3),
        wire_item("c", ResponseAction="Response_Action_Reject", Remark=[1]),
    ]
    with answer_decided.connected_to(lambda s, **kw: heard.append(kw), sender):
        assert receiver.post(body_with(ResponseFriendItem=items)).status == 200
    [heard_once] = heard
    event, answer = heard_once["event"], heard_once["answer"]
    assert [item.to_account for item in event.items] == ["a"]
    assert event.invalid_items == (
        InvalidItem(
            1,
            "b",
            "ResponseFriendItem[1].TagName: Not a valid string.; "
            "ResponseFriendItem[1].ResponseAction: Must be one of: Response_Action_AgreeAndAdd, "
            "Response_Action_Agree, Response_Action_Reject.",
            response_action="Response_Action_New",
            remark="hi",
        ),
        InvalidItem(
            2,
            "c",
            "ResponseFriendItem[2].Remark: Not a valid string.",
            response_action="Response_Action_Reject",
            tag_name="friends",
        ),
    )
    pairs = list(event.with_results(answer))
    assert [(item.to_account, result.to_account) for item, result in pairs] == [
        ("a", "a"),
        ("b", "b"),
        ("c", "c"),
    ]
    assert [result.outcome for result in answer.results] == [
        Outcome.NO_DECISION,
        Outcome.INVALID_ITEM,
        Outcome.INVALID_ITEM,
    ]
    # A known action is kept on the result; one this library does not know reads as None.
    assert [result.response_action for result in answer.results] == [
        ResponseAction.AGREE_AND_ADD,
        None,
        ResponseAction.REJECT,
    ]
