"""Property-based fuzzing of the callback route, through both adapters.

Whatever arrives (any bytes, any JSON, valid bodies bent out of shape, any query string, any
method), the answer is never a 5xx, always the protocol's JSON shape with an ErrorCode that is 0
or in [38000, 39000] and goes with its status, and every valid envelope gets exactly one
ResultItem per item, in order, each with the decision its item called for: the hook's for a
valid item, the error policy's for an item that names its requester but is otherwise broken.

Example counts come from the hypothesis profile (tests/conftest.py): a few dozen per test in
`make test`, thousands in `make fuzz`.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from flask_friendcb import ErrorCode, Reject, ResponseAction
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem
from flask_friendcb.openapi import STATUS_CODES
from flask_friendcb.schemas import MAX_EVENT_TIME_MS
from flask_friendcb.testing import sign

from .conftest import NOW, PATH, SDKAPPID, TOKEN, Answer, FrozenClock, Receiver, build_receiver
from .test_wire import assert_protocol_shape

KINDS = ["blueprint", "middleware"]
# Repeating items makes bodies of up to MAX_ITEMS items; past DECIDED_ITEMS, the hooks of a slow
# or loaded machine may reach the 1.5 s deadline, after which items get the error policy.
MAX_ITEMS = 2000
DECIDED_ITEMS = 300
COMMAND = "Sns.CallbackPrevFriendResponse"
QUERY_KEYS = ["SdkAppid", "CallbackCommand", "Sign", "RequestTime", "contenttype", "ClientIP"]


def decision_for(item: FriendResponseItem) -> Reject | None:
    """What the fuzz hook decides for an item: a pure function of the item, so the test can
    tell which answer each item must get."""
    size = len(item.to_account) + len(item.remark)
    return Reject(38000 + size % 900, f"size {size}") if size % 3 == 0 else None


ACTIONS = frozenset(action.value for action in ResponseAction)


def is_action(value: Any) -> bool:
    return type(value) is str and value in ACTIONS


def item_is_valid(item: dict[str, Any]) -> bool:
    """Whether a wire item (with a usable To_Account) passes the item schema, read from the
    protocol rather than from the library: a known action, and text or null for the others."""
    return is_action(item.get("ResponseAction")) and all(
        item.get(key) is None or type(item.get(key)) is str for key in ("Remark", "TagName")
    )


def expected_for(item: dict[str, Any]) -> dict[str, Any]:
    """The ResultItem a wire item with a usable To_Account must get: the hook's decision when
    it is valid, the error policy's ("allow", the default) when it is not."""
    if item_is_valid(item):
        return expected_result(item)
    return {"To_Account": item["To_Account"], "ResultCode": 0, "ResultInfo": ""}


def expected_result(item: dict[str, Any]) -> dict[str, Any]:
    """The ResultItem a valid wire item must get."""
    decision = decision_for(
        FriendResponseItem(
            item["To_Account"], ResponseAction(item["ResponseAction"]), item.get("Remark") or ""
        )
    )
    code, info = (decision.code, decision.info) if decision else (0, "")
    return {"To_Account": item["To_Account"], "ResultCode": code, "ResultInfo": info}


@pytest.fixture(scope="module")
def receivers() -> dict[str, Receiver]:
    """One receiver per adapter, shared by every example: hypothesis runs many examples per
    test, and each adapter is built once, as an app would be."""
    built = {}
    for kind in KINDS:
        receiver = build_receiver(kind, FrozenClock(NOW))

        @receiver.hooks.on_friend_response
        def decide(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
            return decision_for(item)

        built[kind] = receiver
    return built


def call(
    receiver: Receiver,
    body: bytes,
    query: str,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> Answer:
    """Call the adapter's WSGI app with exactly this QUERY_STRING (WSGI's latin-1 text, as a
    server hands it over), method, headers and body, past every client-side check."""
    environ = EnvironBuilder(path=PATH, method="POST", data=body).get_environ()
    environ["REQUEST_METHOD"] = method
    environ["QUERY_STRING"] = query
    environ["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    app_iter, status, response_headers = run_wsgi_app(receiver.wsgi, environ, buffered=True)
    data = b"".join(app_iter)
    return Answer(int(status.split()[0]), dict(response_headers), data)


def signed_query(**overrides: str) -> str:
    params = {
        "SdkAppid": SDKAPPID,
        "CallbackCommand": COMMAND,
        "contenttype": "json",
        "RequestTime": str(NOW),
        "Sign": sign(TOKEN, NOW),
        **overrides,
    }
    return "&".join(f"{encode_part(key)}={encode_part(value)}" for key, value in params.items())


def encode_part(text: str) -> str:
    # Lone surrogates are sent as the bytes they would have in UTF-8, as a careless sender would.
    return quote(text, safe="", errors="surrogatepass")


def assert_wire_invariants(answer: Answer) -> dict[str, Any]:
    """What every answer must be, whatever was sent."""
    assert answer.status < 500, answer.body
    assert_protocol_shape(answer)
    body: dict[str, Any] = answer.json
    if body["ActionStatus"] == "OK":
        assert answer.status == 200
        assert set(body) <= {"ActionStatus", "ErrorCode", "ErrorInfo", "ResultItem"}
    else:
        assert body["ErrorCode"] in [int(code) for code in STATUS_CODES[answer.status]]
        assert set(body) == {"ActionStatus", "ErrorCode", "ErrorInfo"}
    return body


# --- strategies -------------------------------------------------------------------------------

# Every code point, lone surrogates included: JSON can carry them as \ud800 escapes.
any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
odd_text = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(
        [
            "",
            "\x00",
            "\ud800",
            "\udfff\ud800",
            "\u202e\u0644\u0627",  # right-to-left override, Arabic
            "e\u0301" * 20,  # combining marks
            "\U0001f600" * 10,
            "\ufeff",
            "\u0661\u0667" + "\u0660" * 8,  # Arabic-Indic digits
            "%00%ff",
            "Sign=" + "0" * 64,
        ]
    ),
)
huge_text = st.builds(
    lambda c, n: c * n,
    st.sampled_from(["x", "é", "\U0001f600", "\\", '"']),
    st.integers(10_000, 150_000),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=20,
)

accounts = st.text(any_char, min_size=1, max_size=40)
# Names for the fields Tencent may add; hypothesis also draws strings from the code's constants,
# so the wire's own names are left out explicitly.
WIRE_NAMES = {
    "CallbackCommand",
    "Requester_Account",
    "From_Account",
    "ResponseFriendItem",
    "EventTime",
    "To_Account",
    "Remark",
    "TagName",
    "ResponseAction",
}
unknown_keys = odd_text.filter(lambda key: key not in WIRE_NAMES)


@st.composite
def response_items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "To_Account": draw(accounts),
        "ResponseAction": draw(st.sampled_from([action.value for action in ResponseAction])),
    }
    for key in ("Remark", "TagName"):
        value = draw(st.one_of(st.just(...), st.none(), st.text(any_char, max_size=100)))
        if value is not ...:
            item[key] = value
    if draw(st.booleans()):
        item[draw(unknown_keys)] = draw(json_values)  # Tencent adds fields over time
    return item


@st.composite
def broken_items(draw: st.DrawFn) -> dict[str, Any]:
    """An item with a usable To_Account and at least one other field the item schema refuses:
    an action Tencent may add, or any JSON value where text or an action belongs."""
    item = draw(response_items())
    key = draw(st.sampled_from(["ResponseAction", "Remark", "TagName"]))
    if key == "ResponseAction":
        value = draw(
            st.one_of(
                st.just(...),
                st.text(max_size=30).filter(lambda text: not is_action(text)),
                json_values.filter(lambda value: not is_action(value)),
            )
        )
    else:
        value = draw(json_values.filter(lambda value: value is not None and type(value) is not str))
    if value is ...:
        del item[key]
    else:
        item[key] = value
    return item


@st.composite
def valid_bodies(draw: st.DrawFn, items: st.SearchStrategy[dict[str, Any]] | None = None) -> Any:
    body: dict[str, Any] = {
        "From_Account": draw(accounts),
        "ResponseFriendItem": draw(
            st.lists(response_items() if items is None else items, max_size=8)
        ),
        "EventTime": draw(st.integers(0, MAX_EVENT_TIME_MS)),
    }
    if draw(st.booleans()):
        body["CallbackCommand"] = COMMAND
    requester = draw(st.one_of(st.just(...), st.none(), accounts))
    if requester is not ...:
        body["Requester_Account"] = requester
    body.update(draw(st.dictionaries(unknown_keys, json_values, max_size=3)))
    return body


class Raw:
    """JSON text to write as it is: nesting deeper than Python's recursion limit cannot be a
    Python value that json.dumps writes."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:30]!r}... {len(self.text)} characters)"


def deeply_nested(scalar: Any, depth: int, kind: str) -> Raw:
    opening, closing = ("[", "]") if kind == "list" else ('{"k":', "}")
    return Raw(opening * depth + json.dumps(scalar) + closing * depth)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a JSON value, the value itself included."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = replace(copy[head], rest, new)
    return copy


def drop(value: Any, path: tuple[Any, ...]) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        return replace(value, (head,), drop(value[head], rest))
    if isinstance(value, dict):
        return {key: child for key, child in value.items() if key != head}
    return [child for index, child in enumerate(value) if index != head]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    """A valid body with one to three things wrong with it."""
    body: Any = draw(valid_bodies())
    for _ in range(draw(st.integers(1, 3))):
        targets = list(paths(body))
        path = draw(st.sampled_from(targets))
        mutation = draw(st.sampled_from(["swap", "drop", "huge", "odd", "nest", "duplicate"]))
        note(f"{mutation} at {path!r}")
        if mutation == "drop" and path:
            body = drop(body, path)
        elif mutation == "huge":
            body = replace(body, path, draw(huge_text))
        elif mutation == "odd":
            body = replace(body, path, draw(odd_text))
        elif mutation == "nest":
            depth = draw(st.sampled_from([2, 50, 500, 900, 950, 990, 1000, 3000, 50_000]))
            kind = draw(st.sampled_from(["list", "dict"]))
            body = replace(body, path, deeply_nested(draw(json_scalars), depth, kind))
        elif mutation == "duplicate" and isinstance(body, dict) and body.get("ResponseFriendItem"):
            items = body["ResponseFriendItem"]
            if isinstance(items, list):
                repeated = items * draw(st.integers(2, 50))
                body = {**body, "ResponseFriendItem": repeated[:MAX_ITEMS]}
        else:
            body = replace(body, path, draw(json_values))
    return body


def encode(body: Any) -> bytes:
    """JSON as a sender would write it, with the Raw parts written as they are."""
    parts: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, Raw):
            parts.append(value.text)
            return f"\x00raw{len(parts) - 1}\x00"
        raise TypeError(type(value).__name__)

    text = json.dumps(body, default=default)
    for index, part in enumerate(parts):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), part, 1)
    return text.encode()


def as_wsgi(text: str) -> str:
    """The QUERY_STRING a server hands over for ``text`` sent raw: its UTF-8 bytes as latin-1."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


# Raw query strings: what WSGI hands over is latin-1 text of the request's bytes.
raw_queries = st.one_of(
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    st.text(st.sampled_from(string.printable + "%&=+;#?\x00é\xff"), max_size=300).map(as_wsgi),
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=10)),
            st.one_of(
                st.sampled_from([SDKAPPID, str(NOW), sign(TOKEN, NOW), COMMAND]),
                st.text(max_size=70),
            ),
            st.booleans(),
        ),
        max_size=12,
    ).map(
        lambda params: as_wsgi(
            "&".join(
                f"{encode_part(key) if encoded else key}={encode_part(value) if encoded else value}"
                for key, value, encoded in params
            )
        )
    ),
)


# --- properties -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@given(
    body=valid_bodies(),
    query_overrides=st.dictionaries(
        st.sampled_from(["ClientIP", "OptPlatform", "contenttype"]), odd_text
    ),
)
def test_valid_bodies_get_one_result_per_item_in_order(
    receivers: dict[str, Receiver], kind: str, body: dict[str, Any], query_overrides: dict[str, str]
) -> None:
    answer = call(receivers[kind], encode(body), signed_query(**query_overrides))
    result = assert_wire_invariants(answer)
    assert answer.status == 200, result
    assert result["ResultItem"] == [expected_result(item) for item in body["ResponseFriendItem"]]


@pytest.mark.parametrize("kind", KINDS)
@given(body=valid_bodies(st.one_of(response_items(), broken_items())))
def test_valid_envelopes_with_broken_items_get_one_result_per_item(
    receivers: dict[str, Receiver], kind: str, body: dict[str, Any]
) -> None:
    # One bad item costs one item: the error policy decides it, the hooks decide the others.
    answer = call(receivers[kind], encode(body), signed_query())
    result = assert_wire_invariants(answer)
    assert answer.status == 200, result
    assert result["ResultItem"] == [expected_for(item) for item in body["ResponseFriendItem"]]


@pytest.mark.parametrize("kind", KINDS)
@given(body=valid_bodies(), null_items=st.booleans())
def test_null_or_empty_items_get_an_empty_result(
    receivers: dict[str, Receiver], kind: str, body: dict[str, Any], null_items: bool
) -> None:
    body = {**body, "ResponseFriendItem": None if null_items else []}
    answer = call(receivers[kind], encode(body), signed_query())
    assert assert_wire_invariants(answer)["ResultItem"] == []


@pytest.mark.parametrize("kind", KINDS)
@given(body=mutated_bodies())
def test_mutated_bodies_never_break_the_answer(
    receivers: dict[str, Receiver], kind: str, body: Any
) -> None:
    answer = call(receivers[kind], encode(body), signed_query())
    result = assert_wire_invariants(answer)
    if answer.status == 200:
        # The mutations left a usable envelope: one result per item, in order (null is []).
        items = body["ResponseFriendItem"] or []
        assert [r["To_Account"] for r in result["ResultItem"]] == [i["To_Account"] for i in items]
        if len(items) <= DECIDED_ITEMS:
            # Few enough for every hook to run well inside the deadline: each decided by the
            # hook, or by the error policy when the mutations broke that item.
            assert result["ResultItem"] == [expected_for(item) for item in items]


@pytest.mark.parametrize("kind", KINDS)
@given(body=json_values)
def test_arbitrary_json_values(receivers: dict[str, Receiver], kind: str, body: Any) -> None:
    answer = call(receivers[kind], encode(body), signed_query())
    assert_wire_invariants(answer)
    assert answer.status == 400


@pytest.mark.parametrize("kind", KINDS)
@given(
    body=st.one_of(
        st.binary(max_size=2000), st.binary(max_size=50).map(lambda b: b'{"From_Account":' + b)
    )
)
def test_arbitrary_bytes(receivers: dict[str, Receiver], kind: str, body: bytes) -> None:
    answer = call(receivers[kind], body, signed_query())
    assert_wire_invariants(answer)


@pytest.mark.parametrize("kind", KINDS)
@given(query=raw_queries, body=st.one_of(valid_bodies(), json_values))
def test_arbitrary_query_strings(
    receivers: dict[str, Receiver], kind: str, query: str, body: Any
) -> None:
    answer = call(receivers[kind], encode(body), query)
    result = assert_wire_invariants(answer)
    if answer.status == 200 and "ResultItem" in result:
        assert result["ResultItem"] == [expected_for(item) for item in body["ResponseFriendItem"]]


@pytest.mark.parametrize("kind", KINDS)
@given(
    method=st.one_of(
        st.sampled_from(["GET", "PUT", "post", "OPTIONS", "TRACE", "PROPFIND", "QUERY"]),
        st.text(string.ascii_letters, min_size=1, max_size=10).filter(lambda m: m != "HEAD"),
    ),
    headers=st.dictionaries(
        st.sampled_from(
            ["Content-Length", "Transfer-Encoding", "Content-Type", "Content-Encoding"]
        ),
        st.text(string.printable.strip(), max_size=20),
    ),
    body=st.one_of(valid_bodies(), json_values),
)
def test_arbitrary_methods_and_headers(
    receivers: dict[str, Receiver], kind: str, method: str, headers: dict[str, str], body: Any
) -> None:
    answer = call(receivers[kind], encode(body), signed_query(), method=method, headers=headers)
    result = assert_wire_invariants(answer)
    if method != "POST":
        assert answer.status == 405
        assert result["ErrorCode"] == ErrorCode.METHOD_NOT_ALLOWED


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["PROPFIND", "QUERY", "FOO", "post"])
def test_methods_no_list_foresees_get_the_json_405(
    receivers: dict[str, Receiver], kind: str, method: str
) -> None:
    # Found by the fuzzing above: the blueprint's route listed methods, so Flask's routing
    # answered any other with its own HTML 405.
    answer = call(receivers[kind], encode({}), signed_query(), method=method)
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json["ErrorCode"] == ErrorCode.METHOD_NOT_ALLOWED
