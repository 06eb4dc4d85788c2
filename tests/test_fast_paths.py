"""The request path's fast paths give exactly what the plain library paths give.

The schemas load and dump through fast paths (schemas.py), and the query is split without
parse_qsl when nothing needs unquoting. Each is checked here against a reference: the same
schemas declared with marshmallow's plain fields and run through marshmallow's own
``Schema.load`` and ``Schema.dump``, and the query parsed with ``parse_qsl``, on generated input
that mixes well-formed values with every kind of JSON junk.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from flask_friendcb import jsonbody, schemas
from flask_friendcb.models import FriendResponseItem, InvalidItem, ItemResult, Outcome
from flask_friendcb.protocol import ResponseAction
from flask_friendcb.schemas import (
    MAX_EVENT_TIME_MS,
    CallbackQuery,
    EnvelopeSchema,
    FriendResponseAnswerSchema,
    FriendResponseBodySchema,
    FriendResponseItemSchema,
    parse_query,
)
from flask_friendcb.testing import SAMPLE_REQUEST

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the reference: the schemas with marshmallow's plain fields and marshmallow's own paths


class _PlainOptionalText(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(load_default="", allow_none=True, **kwargs)

    def deserialize(self, value: Any, attr: Any = None, data: Any = None, **kw: Any) -> Any:
        result = super().deserialize(value, attr, data, **kw)
        return "" if result is None else result


_ACCOUNT = validate.Length(min=1, error="Must not be empty.")


class PlainItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    to_account = fields.String(data_key="To_Account", required=True, validate=_ACCOUNT)
    remark = _PlainOptionalText(data_key="Remark")
    tag_name = _PlainOptionalText(data_key="TagName")
    response_action = fields.Enum(
        ResponseAction, by_value=True, data_key="ResponseAction", required=True
    )

    @post_load
    def _make_item(self, data: dict[str, Any], **kwargs: Any) -> FriendResponseItem:
        return FriendResponseItem(**data)


def _text(value: Any) -> str:
    return value if type(value) is str else ""


class _PlainItemList(fields.List[Any]):
    """One bad item costs one item, on marshmallow's own paths: null reads as []; when the list
    fails, an element that is an object with a usable To_Account becomes an InvalidItem, and
    any other fault refuses the list with marshmallow's own report."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Nested(PlainItemSchema), required=True, **kwargs)

    def deserialize(self, value: Any, attr: Any = None, data: Any = None, **kw: Any) -> Any:
        if value is None:
            return []
        try:
            return super().deserialize(value, attr, data, **kw)
        except ValidationError as error:
            faults = error.messages
            if not isinstance(value, list) or not isinstance(faults, dict):
                raise
            loaded: list[Any] = []
            for position, each in enumerate(value):
                if position not in faults:
                    loaded.append(PlainItemSchema().load(each))
                    continue
                messages = faults[position]
                if not isinstance(each, dict) or "To_Account" in messages:
                    raise
                loaded.append(
                    InvalidItem(
                        position,
                        each["To_Account"],
                        schemas.describe_errors({"ResponseFriendItem": {position: messages}}),
                        _text(each.get("ResponseAction")),
                        _text(each.get("Remark")),
                        _text(each.get("TagName")),
                    )
                )
            return loaded


class PlainBodySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    requester_account = _PlainOptionalText(data_key="Requester_Account")
    from_account = fields.String(data_key="From_Account", required=True, validate=_ACCOUNT)
    items = _PlainItemList(data_key="ResponseFriendItem")
    event_time_ms = fields.Integer(
        data_key="EventTime",
        strict=True,
        required=True,
        validate=validate.Range(min=0, max=MAX_EVENT_TIME_MS),
    )


class PlainResultSchema(Schema):
    to_account = fields.String(data_key="To_Account")
    result_code = fields.Integer(data_key="ResultCode")
    result_info = fields.String(data_key="ResultInfo")


class PlainAnswerSchema(Schema):
    action_status = fields.String(data_key="ActionStatus")
    error_code = fields.Integer(data_key="ErrorCode")
    error_info = fields.String(data_key="ErrorInfo")
    results = fields.List(fields.Nested(PlainResultSchema), data_key="ResultItem")


def reference_query(query_string: str) -> CallbackQuery:
    """parse_query as it was, on parse_qsl alone."""
    pairs = parse_qsl(query_string, keep_blank_values=True, max_num_fields=64)
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    counts = Counter(name for name, _ in pairs)
    repeated = frozenset(name for name, count in counts.items() if count > 1)
    for name in repeated & {"SdkAppid", "Sign", "RequestTime", "CallbackCommand"}:
        del values[name]
    return CallbackQuery(
        sdkappid=values.get("SdkAppid"),
        command=values.get("CallbackCommand"),
        sign=values.get("Sign"),
        request_time=values.get("RequestTime"),
        client_ip=values.get("ClientIP", ""),
        opt_platform=values.get("OptPlatform", ""),
        repeated=repeated,
    )


def outcome(call: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "loaded", call(*args)
    except ValidationError as error:
        return "refused", error.messages
    except ValueError as error:
        return "ValueError", str(error)


# --- generated input

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
accounts = st.one_of(st.text(max_size=6), st.just(""), json_values)
texts = st.one_of(st.text(max_size=6), st.none(), json_values)
actions = st.one_of(
    st.sampled_from([a.value for a in ResponseAction]), st.text(max_size=6), json_values
)
items = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "To_Account": accounts,
            "Remark": texts,
            "TagName": texts,
            "ResponseAction": actions,
            "Extra": json_values,
        },
    ),
    st.fixed_dictionaries(
        {
            "To_Account": st.text(min_size=1, max_size=6),
            "ResponseAction": st.sampled_from([a.value for a in ResponseAction]),
        },
        optional={"Remark": st.text(max_size=6) | st.none(), "TagName": st.text(max_size=6)},
    ),
    json_values,
)
event_times = st.one_of(
    st.integers(min_value=-5, max_value=MAX_EVENT_TIME_MS + 5),
    st.sampled_from([-1, 0, MAX_EVENT_TIME_MS, MAX_EVENT_TIME_MS + 1, True, 1.0]),
    json_values,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "CallbackCommand": st.text(max_size=5),
        "Requester_Account": texts,
        "From_Account": accounts,
        "ResponseFriendItem": st.one_of(st.lists(items, max_size=4), json_values),
        "EventTime": event_times,
        "Unknown": json_values,
    },
)


# --- the checks


@EXAMPLES
@given(st.text(alphabet="&=%+aZ9 .:_\u00e9", max_size=40))
def test_parse_query_is_parse_qsl(query_string: str) -> None:
    assert outcome(parse_query, query_string) == outcome(reference_query, query_string)


@EXAMPLES
@given(st.integers(min_value=60, max_value=70), st.booleans())
def test_parse_query_keeps_the_field_limit(fields_count: int, encoded: bool) -> None:
    query_string = "&".join(f"k{n}={'%41' if encoded else 'A'}" for n in range(fields_count))
    assert outcome(parse_query, query_string) == outcome(reference_query, query_string)


def test_a_tencent_query_parses_fast_and_right() -> None:
    query = parse_query(
        "SdkAppid=1400000000&CallbackCommand=Sns.CallbackPrevFriendResponse&contenttype=json"
        "&ClientIP=10.0.0.1&OptPlatform=iOS&RequestTime=1700000000&Sign=" + "a" * 64
    )
    assert query == CallbackQuery(
        "1400000000",
        "Sns.CallbackPrevFriendResponse",
        "a" * 64,
        "1700000000",
        "10.0.0.1",
        "iOS",
        frozenset(),
    )


@EXAMPLES
@given(bodies)
def test_body_loads_as_marshmallow_loads_it(body: dict[str, Any]) -> None:
    got = outcome(FriendResponseBodySchema().load, body)
    assert got == outcome(PlainBodySchema().load, body)


@EXAMPLES
@given(items)
def test_item_loads_as_marshmallow_loads_it(item: Any) -> None:
    assert outcome(FriendResponseItemSchema().load, item) == outcome(PlainItemSchema().load, item)


def test_an_invalid_body_gets_every_field_at_fault() -> None:
    body = {
        "From_Account": 7,
        "EventTime": True,
        "ResponseFriendItem": [
            {"To_Account": "a", "ResponseAction": "Response_Action_Agree"},
            {"To_Account": "", "ResponseAction": "nope"},
            None,
        ],
    }
    with pytest.raises(ValidationError) as caught:
        FriendResponseBodySchema().load(body)
    assert caught.value.messages == {
        "From_Account": ["Not a valid string."],
        "EventTime": ["Not a valid integer."],
        "ResponseFriendItem": {
            1: {
                "To_Account": ["Must not be empty."],
                "ResponseAction": [
                    "Must be one of: Response_Action_AgreeAndAdd, Response_Action_Agree, "
                    "Response_Action_Reject."
                ],
            },
            2: ["Field may not be null."],
        },
    }
    assert outcome(PlainBodySchema().load, body)[1] == caught.value.messages


results = st.lists(
    st.builds(
        ItemResult,
        st.text(max_size=6),
        st.sampled_from([0, 38000, 38999, 39000]),
        st.text(max_size=6),
        st.sampled_from(list(Outcome)),
        st.none() | st.text(max_size=6),
    ),
    max_size=5,
)


@EXAMPLES
@given(results, st.sampled_from(["OK", "FAIL"]), st.integers(0, 39000), st.text(max_size=6))
def test_answer_dumps_as_marshmallow_dumps_it(
    items: list[ItemResult], status: str, code: int, info: str
) -> None:
    payload = {"action_status": status, "error_code": code, "error_info": info, "results": items}
    dumped = FriendResponseAnswerSchema().dump(payload)
    assert dumped == PlainAnswerSchema().dump(payload)
    assert json.dumps(dumped) == json.dumps(PlainAnswerSchema().dump(payload))


def test_dumping_a_mapping_or_an_incomplete_object_is_marshmallows() -> None:
    class Incomplete:
        action_status = "OK"

    assert EnvelopeSchema().dump(Incomplete()) == {"ActionStatus": "OK"}
    mapping = {"action_status": "OK", "error_code": 0, "error_info": "", "results": []}
    assert EnvelopeSchema().dump(mapping) == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert FriendResponseAnswerSchema().dump([mapping], many=True) == [
        {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ResultItem": []}
    ]


def test_a_schema_with_a_feature_the_fast_paths_lack_is_refused_when_built() -> None:
    class WithPreLoad(EnvelopeSchema):
        @pre_load
        def strip(self, data: Any, **kwargs: Any) -> Any:
            return data

    class WithAttribute(EnvelopeSchema):
        code = fields.Integer(data_key="Code", attribute="error.code")

    class WithMethodField(EnvelopeSchema):
        shout = fields.Function(lambda obj: "OK!")

    for schema in (WithPreLoad, WithAttribute, WithMethodField):
        with pytest.raises(TypeError, match=schema.__name__):
            schema()
    EnvelopeSchema()


def test_a_marshmallow_without_the_internals_used_gets_its_own_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stand-in for a marshmallow release whose private field API differs from 4.4's.
    monkeypatch.setattr(schemas, "fields", SimpleNamespace())
    body_schema = schemas.FriendResponseBodySchema()
    answer_schema = schemas.FriendResponseAnswerSchema()
    assert body_schema._direct is False
    assert answer_schema._direct is False
    monkeypatch.undo()
    assert body_schema.load(SAMPLE_REQUEST) == schemas.FriendResponseBodySchema().load(
        SAMPLE_REQUEST
    )
    with pytest.raises(ValidationError) as raised:
        body_schema.load({**SAMPLE_REQUEST, "EventTime": 1.5})
    assert "EventTime" in raised.value.messages
    results = [ItemResult("id1", 38001, "no", Outcome.REJECTED)]
    answer = {"action_status": "OK", "error_code": 0, "error_info": "", "results": results}
    assert answer_schema.dump(answer) == schemas.FriendResponseAnswerSchema().dump(answer)


@EXAMPLES
@given(items)
def test_a_response_item_loads_fast_only_as_marshmallow_loads_it(item: Any) -> None:
    fast = FriendResponseItemSchema().fast_load(item) if isinstance(item, dict) else None
    if fast is not None:
        assert outcome(PlainItemSchema().load, item) == ("loaded", fast)


add_items = st.one_of(
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("To_Account", "Remark", "GroupName", "AddSource", "AddWording", "Extra"), texts
        ),
    ),
    st.fixed_dictionaries(
        {"To_Account": st.text(min_size=1, max_size=6)},
        optional={
            key: st.text(max_size=6) | st.none()
            for key in ("Remark", "GroupName", "AddSource", "AddWording")
        },
    ),
)


@EXAMPLES
@given(add_items)
def test_a_request_item_loads_fast_only_as_its_schema_loads_it(item: dict[str, Any]) -> None:
    schema = schemas.FriendAddItemSchema()
    fast = schema.fast_load(item)
    if fast is not None:
        assert outcome(Schema.load, schema, item) == ("loaded", fast)  # marshmallow's path
    elif "To_Account" in item and all(type(value) is str for value in item.values()):
        assert item["To_Account"] == ""  # the one well-typed element the fast path refuses


def test_well_formed_items_take_the_fast_path() -> None:
    item = {"To_Account": "a", "ResponseAction": "Response_Action_Agree", "Remark": "r"}
    assert FriendResponseItemSchema().fast_load(item) == FriendResponseItem(
        "a", ResponseAction.AGREE, "r", ""
    )
    assert FriendResponseItemSchema().fast_load({**item, "Remark": None}) is None
    assert FriendResponseItemSchema().fast_load({**item, "ResponseAction": ["x"]}) is None


weird_results = st.lists(
    st.builds(
        ItemResult,
        st.text(max_size=6) | st.sampled_from(["\ud800", '\u00e9"\\\n', "\U0001f600"]),
        st.sampled_from([0, 38000, 39000, True]),
        st.text(max_size=6) | st.sampled_from(["\udfff", "\t</script>"]),
        st.sampled_from(list(Outcome)),
    ),
    max_size=5,
)


@EXAMPLES
@given(weird_results)
def test_the_ok_answer_is_written_as_the_schemas_dump_and_encode_it(
    results_: list[ItemResult],
) -> None:
    payload = {"action_status": "OK", "error_code": 0, "error_info": "", "results": results_}
    want = jsonbody.encode(PlainAnswerSchema().dump(payload))
    assert FriendResponseAnswerSchema().ok_json(results_) == want


@EXAMPLES
@given(bodies)
def test_a_response_body_loads_fast_only_as_marshmallow_loads_it(body: dict[str, Any]) -> None:
    fast = FriendResponseBodySchema().fast_load(body)
    if fast is not None:
        assert outcome(PlainBodySchema().load, body) == ("loaded", fast)


add_bodies = st.fixed_dictionaries(
    {},
    optional={
        "Requester_Account": texts,
        "From_Account": accounts,
        "FriendItem": st.one_of(st.lists(add_items, max_size=4), json_values),
        "AddType": texts,
        "ForceAddFlags": st.one_of(st.integers(-2, 2), st.booleans(), json_values),
        "EventTime": event_times,
    },
)


@EXAMPLES
@given(add_bodies)
def test_a_request_body_loads_fast_only_as_its_schema_loads_it(body: dict[str, Any]) -> None:
    schema = schemas.FriendAddBodySchema()
    fast = schema.fast_load(body)
    if fast is not None:
        assert outcome(Schema.load, schema, body) == ("loaded", fast)


def test_a_well_formed_body_takes_the_fast_path() -> None:
    body = {
        "From_Account": "a",
        "EventTime": 1,
        "ResponseFriendItem": [{"To_Account": "b", "ResponseAction": "Response_Action_Agree"}],
    }
    assert FriendResponseBodySchema().fast_load(body) == PlainBodySchema().load(body)
    assert FriendResponseBodySchema().fast_load({**body, "EventTime": True}) is None
    request = {"From_Account": "a", "EventTime": 1, "FriendItem": [{"To_Account": "b"}]}
    assert schemas.FriendAddBodySchema().fast_load(request) == Schema.load(
        schemas.FriendAddBodySchema(), request
    )


@EXAMPLES
@given(
    st.text(max_size=4),
    st.integers(0, 39000),
    st.text(max_size=4),
    st.sampled_from(list(Outcome)),
    st.none() | st.text(max_size=4),
    st.none() | st.sampled_from(list(ResponseAction)),
)
def test_a_result_built_on_the_request_path_is_the_classs_own(
    account: str, code: int, info: str, outcome_: Outcome, hook: str | None, action: Any
) -> None:
    from flask_friendcb.models import build_result

    built = build_result(account, code, info, outcome_, hook, action)
    own = ItemResult(account, code, info, outcome_, hook, action)
    assert built == own
    assert type(built) is ItemResult
    assert {f.name: getattr(built, f.name) for f in dataclasses.fields(ItemResult)} == {
        f.name: getattr(own, f.name) for f in dataclasses.fields(ItemResult)
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.result_code = 1  # type: ignore[misc]


def test_the_request_path_builders_set_every_field_in_order() -> None:
    # A field added to a model must be added to its builder too.
    from flask_friendcb import models

    assert [f.name for f in dataclasses.fields(ItemResult)] == [
        "to_account",
        "result_code",
        "result_info",
        "outcome",
        "hook",
        "response_action",
    ]
    assert [f.name for f in dataclasses.fields(FriendResponseItem)] == [
        "to_account",
        "response_action",
        "remark",
        "tag_name",
    ]
    assert len(models._RESULT_SLOTS) == 6
    assert len(models._RESPONSE_ITEM_SLOTS) == 4
    event_fields = [f.name for f in dataclasses.fields(models.FriendResponseEvent)]
    assert len(models._RESPONSE_EVENT_SLOTS) == len(event_fields) == 9
    values = ("1", "cmd", "req", "from", 5, (), "1.2.3.4", "iOS", ())
    event = models.build_response_event(*values)  # type: ignore[arg-type]
    assert event == models.FriendResponseEvent(*values)  # type: ignore[arg-type]
    assert [getattr(event, name) for name in event_fields] == list(values)
    item = models.build_response_item("a", ResponseAction.AGREE, "r", "t")
    assert item == FriendResponseItem("a", ResponseAction.AGREE, "r", "t")
    assert hash(item) == hash(FriendResponseItem("a", ResponseAction.AGREE, "r", "t"))
