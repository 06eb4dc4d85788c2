"""The whole friend flow on one URL: requests decided per item (``on_friend_add``), the four
after-callbacks observed, each command typed, over real HTTP and in process, through both
WSGI adapters."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.signing import SDKAPPID, TOKEN
from flask_friendcb import Allow, HookRegistry, Reject
from flask_friendcb.models import (
    BlocklistAddedEvent,
    BlocklistRemovedEvent,
    FriendAddedEvent,
    FriendAddEvent,
    FriendAddItem,
    FriendDeletedEvent,
    FriendPair,
    Outcome,
    RelationEvent,
)
from flask_friendcb.policies import BlocklistPolicy, ContentPolicy, RateLimitPolicy
from flask_friendcb.protocol import (
    BLOCKLIST_ADDED_COMMAND,
    BLOCKLIST_REMOVED_COMMAND,
    FRIEND_ADD_COMMAND,
    FRIEND_ADDED_COMMAND,
    FRIEND_COMMANDS,
    FRIEND_DELETED_COMMAND,
    FRIEND_RESPONSE_COMMAND,
    SAMPLE_FRIEND_ADD_REQUEST,
    SAMPLE_OBSERVED_REQUESTS,
    SAMPLE_REQUEST,
    ErrorCode,
)
from flask_friendcb.signals import answer_decided, event_received, relation_changed
from flask_friendcb.testing import (
    blocklist_added_body,
    blocklist_removed_body,
    friend_add_body,
    friend_add_item,
    friend_added_body,
    friend_deleted_body,
    friend_response_body,
    signed_client,
)

from .conftest import Answer, FrozenClock, Receiver, build_receiver, serving

OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
OBSERVED = {
    FRIEND_ADDED_COMMAND: ("on_friend_added", FriendAddedEvent, friend_added_body),
    FRIEND_DELETED_COMMAND: ("on_friend_deleted", FriendDeletedEvent, friend_deleted_body),
    BLOCKLIST_ADDED_COMMAND: ("on_blocklist_added", BlocklistAddedEvent, blocklist_added_body),
    BLOCKLIST_REMOVED_COMMAND: (
        "on_blocklist_removed",
        BlocklistRemovedEvent,
        blocklist_removed_body,
    ),
}


def send(receiver: Receiver, body: dict[str, Any], **query: Any) -> Answer:
    return receiver.post(body, receiver.query(command=body["CallbackCommand"], **query))


def codes(answer: Answer) -> list[tuple[str, int]]:
    assert answer.status == 200, answer.body
    return [(each["To_Account"], each["ResultCode"]) for each in answer.json["ResultItem"]]


def request_hooks(receiver: Receiver) -> Any:
    """The receiver's decorators (a blueprint, or the middleware itself)."""
    if receiver.kind == "blueprint":
        return receiver.extra["app"].blueprints["friendcb"]
    return receiver.wsgi


# --- requests: decided per item with the rules of responses ----------------------------------


def test_a_request_is_typed_and_decided_per_item_over_http(served_receiver: Receiver) -> None:
    seen: list[tuple[FriendAddItem, FriendAddEvent]] = []

    @request_hooks(served_receiver).on_friend_add
    def no_spam(item: FriendAddItem, event: FriendAddEvent) -> Reject | None:
        seen.append((item, event))
        return Reject(38010, "spam wording") if "cheap" in item.add_wording else None

    body = friend_add_body(
        "farm01",
        [
            friend_add_item("alice", wording="cheap watches", remark="A", group_name="G"),
            friend_add_item("bob", wording="hi, we met at school"),
        ],
        add_type="Add_Type_Single",
        force_add_flags=1,
        event_time_ms=1_631_777_344_870,
    )
    answer = send(served_receiver, body, client_ip="10.1.2.3", opt_platform="iOS")
    assert answer.json["ResultItem"] == [
        {"To_Account": "alice", "ResultCode": 38010, "ResultInfo": "spam wording"},
        {"To_Account": "bob", "ResultCode": 0, "ResultInfo": ""},
    ]
    assert {k: answer.json[k] for k in OK} == OK
    item, event = seen[0]
    assert item == FriendAddItem("alice", "A", "G", "AddSource_Type_Android", "cheap watches")
    assert (event.from_account, event.requester_account) == ("farm01", "farm01")
    assert (event.add_type, event.force_add_flags) == ("Add_Type_Single", 1)
    assert event.event_time.year == 2021
    assert event.event_time_ms == 1_631_777_344_870
    assert (event.client_ip, event.opt_platform, event.sdkappid) == ("10.1.2.3", "iOS", SDKAPPID)
    assert event.callback_command == FRIEND_ADD_COMMAND
    assert isinstance(event.items, tuple)
    assert len(event.items) == 2


def test_tencents_sample_request_is_answered_per_item(receiver: Receiver) -> None:
    answer = send(receiver, SAMPLE_FRIEND_ADD_REQUEST)
    assert codes(answer) == [("id1", 0), ("id2", 0)]


def test_response_hooks_never_run_for_requests_nor_request_hooks_for_responses(
    receiver: Receiver,
) -> None:
    calls: list[str] = []

    @receiver.hooks.on_friend_response
    def on_response(item: Any, event: Any) -> Reject:
        calls.append("response")
        return Reject(38001)

    @receiver.hooks.on_friend_add
    def on_request(item: Any, event: Any) -> Reject:
        calls.append("request")
        return Reject(38002)

    assert codes(send(receiver, friend_add_body("a", ["b"]))) == [("b", 38002)]
    assert calls == ["request"]
    assert codes(send(receiver, friend_response_body("a", ["b"]))) == [("b", 38001)]
    assert calls == ["request", "response"]


def test_request_hooks_run_in_order_and_the_first_decision_wins(receiver: Receiver) -> None:
    calls: list[str] = []

    @receiver.hooks.on_friend_add
    def first(item: FriendAddItem, event: Any) -> Allow | None:
        calls.append(f"first:{item.to_account}")
        return Allow() if item.to_account == "friend" else None

    @receiver.hooks.on_friend_add
    def second(item: FriendAddItem, event: Any) -> Reject:
        calls.append(f"second:{item.to_account}")
        return Reject(38020, "second")

    assert codes(send(receiver, friend_add_body("a", ["friend", "stranger"]))) == [
        ("friend", 0),
        ("stranger", 38020),
    ]
    assert calls == ["first:friend", "first:stranger", "second:stranger"]


def test_add_types_filter_requests(receiver: Receiver) -> None:
    @receiver.hooks.on_friend_add(add_types=["Add_Type_Single"])
    def one_way_only(item: Any, event: Any) -> Reject:
        return Reject(38030)

    assert codes(send(receiver, friend_add_body("a", ["b"], add_type="Add_Type_Both"))) == [
        ("b", 0)
    ]
    assert codes(send(receiver, friend_add_body("a", ["b"], add_type="Add_Type_Single"))) == [
        ("b", 38030)
    ]
    # An AddType Tencent adds later reaches only the hooks that watch every request.
    assert codes(send(receiver, friend_add_body("a", ["b"], add_type="Add_Type_Future"))) == [
        ("b", 0)
    ]
    with pytest.raises(ValueError, match="unknown AddType"):
        receiver.hooks.on_friend_add(add_types=["Add_Type_Sometimes"])
    with pytest.raises(ValueError, match="empty"):
        receiver.hooks.on_friend_add(add_types=[])


def test_one_bad_request_item_costs_one_item(clock: FrozenClock) -> None:
    rejecting = build_receiver("middleware", clock, on_hook_error="reject")

    @rejecting.hooks.on_friend_add
    def boom(item: FriendAddItem, event: Any) -> None:
        if item.to_account == "raises":
            raise RuntimeError("remote check down")

    body = friend_add_body("a", ["ok", "raises"])
    body["FriendItem"].insert(1, {"To_Account": "bad", "AddWording": 5})
    answer = send(rejecting, body)
    assert codes(answer) == [("ok", 0), ("bad", 38999), ("raises", 38999)]


def test_the_deadline_holds_for_requests(clock: FrozenClock) -> None:
    late = build_receiver("blueprint", clock, deadline=0.05)
    slept: list[str] = []

    @late.hooks.on_friend_add
    def slow(item: FriendAddItem, event: Any) -> None:
        slept.append(item.to_account)
        time.sleep(0.1)

    started = time.monotonic()
    answer = send(late, friend_add_body("a", ["b", "c", "d"]))
    assert time.monotonic() - started < 1
    assert codes(answer) == [("b", 0), ("c", 0), ("d", 0)]
    assert slept == ["b"]  # the others fell back at once


def test_a_request_envelope_that_is_unusable_is_refused(receiver: Receiver) -> None:
    for broken, field in (
        ({"FriendItem": [{"To_Account": "b"}], "EventTime": 1}, "From_Account"),
        ({"From_Account": "a", "FriendItem": [{"To_Account": "b"}]}, "EventTime"),
        ({"From_Account": "a", "EventTime": 1}, "FriendItem"),
        ({"From_Account": "a", "EventTime": 1, "FriendItem": [{"Remark": "x"}]}, "To_Account"),
        ({"From_Account": "a", "EventTime": 1, "FriendItem": [], "ForceAddFlags": "1"}, "Force"),
    ):
        answer = receiver.post(
            {"CallbackCommand": FRIEND_ADD_COMMAND, **broken},
            receiver.query(command=FRIEND_ADD_COMMAND),
        )
        assert answer.status == 400, broken
        assert answer.json["ErrorCode"] == ErrorCode.BODY_INVALID
        assert field in answer.json["ErrorInfo"]


def test_signals_carry_request_events(receiver: Receiver) -> None:
    sender = receiver.extra.get("app", receiver.wsgi)
    got: list[Any] = []

    def on_event(sender: Any, event: Any) -> None:
        got.append(("event", event.callback_command))

    def on_answer(sender: Any, event: Any, answer: Any) -> None:
        got.append(("answer", [r.outcome for r in answer.results]))

    with (
        event_received.connected_to(on_event, sender),
        answer_decided.connected_to(on_answer, sender),
    ):
        send(receiver, friend_add_body("a", ["b"]))
    assert got == [("event", FRIEND_ADD_COMMAND), ("answer", [Outcome.NO_DECISION])]


# --- after-callbacks: observed, always OK -----------------------------------------------------


@pytest.mark.parametrize("command", sorted(OBSERVED))
def test_every_after_callback_is_typed_and_observed_over_http(
    served_receiver: Receiver, command: str
) -> None:
    decorator, event_type, build = OBSERVED[command]
    seen: list[RelationEvent] = []
    others: list[RelationEvent] = []
    getattr(request_hooks(served_receiver), decorator)(seen.append)
    # Observers of the other commands do not run.
    for other in OBSERVED:
        if other != command:
            served_receiver.hooks.observe(other, others.append)

    answer = send(served_receiver, build(), client_ip="10.0.0.9")
    assert answer.status == 200
    assert answer.json == OK
    (event,) = seen
    assert type(event) is event_type
    assert event.callback_command == command
    assert event.client_ip == "10.0.0.9"
    assert all(isinstance(pair, FriendPair) for pair in event.pairs)
    assert event.event_time is None
    assert others == []


def test_the_friend_added_fields_are_read(receiver: Receiver) -> None:
    seen: list[FriendAddedEvent] = []
    receiver.hooks.observe(FRIEND_ADDED_COMMAND, seen.append)
    body = friend_added_body(
        [("alice", "bob", "bob"), ("carol", "bob")],
        client_cmd="friend_add",
        admin_account="admin",
        force_flag=1,
    )
    body["EventTime"] = 1_631_777_645_424
    assert send(receiver, body).json == OK
    (event,) = seen
    assert event.pairs == (FriendPair("alice", "bob", "bob"), FriendPair("carol", "bob", ""))
    assert (event.client_cmd, event.admin_account, event.force_flag) == ("friend_add", "admin", 1)
    assert event.event_time is not None
    assert event.event_time.year == 2021


def test_tencents_after_samples_are_answered_ok(receiver: Receiver) -> None:
    for sample in SAMPLE_OBSERVED_REQUESTS.values():
        assert send(receiver, sample).json == OK


def test_an_observer_that_raises_is_logged_and_the_answer_is_still_ok(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @request_hooks(receiver).on_blocklist_added
    def broken(event: Any) -> None:
        ran.append("broken")
        raise RuntimeError("audit store down")

    receiver.hooks.observe(BLOCKLIST_ADDED_COMMAND, lambda event: ran.append("next"))
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        answer = send(receiver, blocklist_added_body())
    assert answer.status == 200
    assert answer.json == OK
    assert ran == ["broken", "next"]
    assert any("audit store down" in (r.exc_text or "") for r in caplog.records)


def test_async_observers_run_in_a_sync_adapter(receiver: Receiver) -> None:
    seen: list[str] = []

    async def watcher(event: BlocklistAddedEvent) -> None:
        seen.extend(pair.to_account for pair in event.pairs)

    receiver.hooks.observe(BLOCKLIST_ADDED_COMMAND, watcher)
    assert send(receiver, blocklist_added_body([("v1", "spammer"), ("v2", "spammer")])).json == OK
    assert seen == ["spammer", "spammer"]


@pytest.mark.parametrize(
    "pair_list",
    [
        "not a list",
        [{"From_Account": "a"}],
        [{"From_Account": "a", "To_Account": 5}],
        [{"From_Account": "", "To_Account": "b"}],
        ["a", "b"],
        [None],
        [{"From_Account": "a", "To_Account": "b"}] * 1001,
    ],
    ids=["string", "no-to", "int-to", "empty-from", "strings", "null-pair", "too-many"],
)
@pytest.mark.parametrize("command", sorted(OBSERVED))
def test_a_malformed_pair_list_is_a_clear_400(
    receiver: Receiver, command: str, pair_list: Any
) -> None:
    ran: list[Any] = []
    receiver.hooks.observe(command, ran.append)
    answer = receiver.post(
        {"CallbackCommand": command, "PairList": pair_list}, receiver.query(command=command)
    )
    assert answer.status == 400
    assert answer.json["ActionStatus"] == "FAIL"
    assert answer.json["ErrorCode"] == ErrorCode.BODY_INVALID
    assert "PairList" in answer.json["ErrorInfo"]
    assert ran == []


def test_a_null_pair_list_reads_as_empty(receiver: Receiver) -> None:
    seen: list[RelationEvent] = []
    receiver.hooks.observe(FRIEND_DELETED_COMMAND, seen.append)
    body = {"CallbackCommand": FRIEND_DELETED_COMMAND, "PairList": None}
    assert send(receiver, body).json == OK
    assert seen[0].pairs == ()


@pytest.mark.parametrize("command", FRIEND_COMMANDS)
def test_unauthenticated_callbacks_of_every_command_are_refused_and_run_nothing(
    receiver: Receiver, command: str
) -> None:
    ran: list[Any] = []
    receiver.hooks.on_friend_response(lambda item, event: ran.append(item))
    receiver.hooks.on_friend_add(lambda item, event: ran.append(item))
    for observed in OBSERVED:
        receiver.hooks.observe(observed, ran.append)
    bodies = {
        FRIEND_RESPONSE_COMMAND: SAMPLE_REQUEST,
        FRIEND_ADD_COMMAND: SAMPLE_FRIEND_ADD_REQUEST,
        **SAMPLE_OBSERVED_REQUESTS,
    }
    wrong = receiver.post(bodies[command], receiver.query(token="not the token", command=command))
    unsigned = receiver.post(bodies[command], receiver.query(token=None, command=command))
    assert (wrong.status, wrong.json["ErrorCode"]) == (401, ErrorCode.SIGN_MISMATCH)
    assert (unsigned.status, unsigned.json["ErrorCode"]) == (401, ErrorCode.SIGN_MISSING)
    assert ran == []


def test_relation_changed_is_sent_after_the_observers(receiver: Receiver) -> None:
    sender = receiver.extra.get("app", receiver.wsgi)
    order: list[str] = []
    receiver.hooks.observe(FRIEND_DELETED_COMMAND, lambda event: order.append("observer"))

    def on_relation(sender: Any, event: RelationEvent) -> None:
        order.append(f"signal:{event.callback_command}")

    with relation_changed.connected_to(on_relation, sender):
        send(receiver, friend_deleted_body())
    assert order == ["observer", f"signal:{FRIEND_DELETED_COMMAND}"]


def test_typed_commands_cannot_be_taken_by_on_command() -> None:
    registry = HookRegistry()
    for command, decorator in (
        (FRIEND_ADD_COMMAND, "on_friend_add"),
        (BLOCKLIST_ADDED_COMMAND, "on_blocklist_added"),
        (FRIEND_RESPONSE_COMMAND, "on_friend_response"),
    ):
        with pytest.raises(ValueError, match=decorator):
            registry.on_command(command)
    with pytest.raises(ValueError, match="not observed"):
        registry.observe("Sns.CallbackSomethingElse", print)
    with pytest.raises(TypeError, match="callable"):
        registry.observe(FRIEND_DELETED_COMMAND, "not callable")  # type: ignore[arg-type]


def test_decorators_return_the_function(receiver: Receiver) -> None:
    decorators = request_hooks(receiver)

    def hook(item: Any, event: Any) -> None:
        return None

    def observer(event: Any) -> None:
        return None

    assert decorators.on_friend_add(hook) is hook
    assert decorators.on_friend_add(add_types=["Add_Type_Both"])(hook) is hook
    for name in ("on_friend_added", "on_friend_deleted", "on_blocklist_added"):
        assert getattr(decorators, name)(observer) is observer
    assert decorators.on_blocklist_removed(observer) is observer
    assert len(receiver.hooks.request_hooks) == 2


# --- the ready policies at the request step ---------------------------------------------------


def test_content_policy_reads_a_requests_wording_remark_and_group(receiver: Receiver) -> None:
    receiver.hooks.on_friend_add(ContentPolicy(banned_words=["casino"]))
    items = [
        friend_add_item("w", wording="best c-a-s-i-n-o in town"),
        friend_add_item("r", remark="casino"),
        friend_add_item("g", group_name="casino"),
        friend_add_item("long", wording="好" * 86),  # 258 bytes > 256
        friend_add_item("fits", wording="好" * 85),  # 255 bytes
        friend_add_item("link", wording="see shop.example.com now"),
        friend_add_item("fine", wording="hi, we met at the conference"),
    ]
    answer = send(receiver, friend_add_body("farm", items))
    results = {each["To_Account"]: each for each in answer.json["ResultItem"]}
    assert results["w"]["ResultInfo"] == "AddWording: banned_word"
    assert results["r"]["ResultInfo"] == "Remark: banned_word"
    assert results["g"]["ResultInfo"] == "GroupName: banned_word"
    assert results["long"]["ResultInfo"] == "AddWording: too_long"
    assert results["link"]["ResultInfo"] == "AddWording: link"
    assert {k for k, v in results.items() if v["ResultCode"] == 0} == {"fits", "fine"}
    assert all(v["ResultCode"] in (0, 38003) for v in results.values())
    assert "casino" not in answer.body.decode()


def test_rate_limit_counts_requests_per_sender_apart_from_responses(receiver: Receiver) -> None:
    policy = RateLimitPolicy("3/minute")
    receiver.hooks.on_friend_add(policy)
    receiver.hooks.on_friend_response(policy)
    sent = [codes(send(receiver, friend_add_body("farm", [f"v{n}"])))[0][1] for n in range(5)]
    assert sent == [0, 0, 0, 38002, 38002]
    # Another sender has its own count, and the farm's responses are counted apart.
    assert codes(send(receiver, friend_add_body("alice", ["bob"]))) == [("bob", 0)]
    assert codes(send(receiver, friend_response_body("farm", ["x"]))) == [("x", 0)]
    assert policy.remaining("farm", command=FRIEND_ADD_COMMAND) == 0
    assert policy.remaining("farm") == 2
    policy.clear("farm")
    assert policy.remaining("farm", command=FRIEND_ADD_COMMAND) == 3


def test_blocklist_refuses_a_request_from_a_listed_requester(receiver: Receiver) -> None:
    policy = BlocklistPolicy()
    policy.add("farm01", reason="spam farm")
    receiver.hooks.on_friend_add(policy)
    answer = send(receiver, friend_add_body("farm01", ["alice"]))
    assert answer.json["ResultItem"] == [
        {"To_Account": "alice", "ResultCode": 38001, "ResultInfo": "the requester is blocked"}
    ]
    assert codes(send(receiver, friend_add_body("alice", ["farm02"]))) == [("farm02", 0)]


# --- the testing kit, the CLI and the metrics -------------------------------------------------


def test_the_signed_client_sends_every_command_under_its_own_name(clock: FrozenClock) -> None:
    receiver = build_receiver("blueprint", clock)
    app = receiver.extra["app"]
    seen: list[str] = []
    for command in OBSERVED:
        receiver.hooks.observe(command, lambda event: seen.append(event.callback_command))
    client = signed_client(app)
    for build in (friend_added_body, friend_deleted_body, blocklist_added_body):
        assert client.callback(build()).json == OK
    assert client.callback(blocklist_removed_body()).json == OK
    assert client.callback(friend_add_body()).json["ResultItem"][0]["To_Account"] == "recipient"
    assert seen == list(OBSERVED)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--command", FRIEND_ADD_COMMAND, "--from", "farm", "--to", "v", "--wording", "buy"],
            [{"To_Account": "v", "ResultCode": 38040, "ResultInfo": "wording"}],
        ),
        (["--command", FRIEND_ADD_COMMAND, "--to", "v", "--wording", "hello"], None),
        (["--command", BLOCKLIST_ADDED_COMMAND, "--from", "victim", "--to", "spammer"], "OK"),
        (["--command", FRIEND_ADDED_COMMAND, "--from", "a", "--to", "b"], "OK"),
    ],
)
def test_cli_send_speaks_every_command(clock: FrozenClock, args: list[str], expected: Any) -> None:
    receiver = build_receiver("blueprint", clock)
    app = receiver.extra["app"]
    seen: list[Any] = []
    receiver.hooks.on_friend_add(
        lambda item, event: Reject(38040, "wording") if item.add_wording == "buy" else None
    )
    receiver.hooks.observe(BLOCKLIST_ADDED_COMMAND, seen.append)
    receiver.hooks.observe(FRIEND_ADDED_COMMAND, seen.append)
    result = app.test_cli_runner().invoke(args=["friendcb", "send", *args])
    assert result.exit_code == 0, result.output
    status, _, text = result.output.strip().partition(" ")
    answer = json.loads(text)
    assert status == "200"
    if expected == "OK":
        assert answer == OK
        assert seen[0].pairs[0].to_account == args[-1]
    elif expected is None:
        assert answer["ResultItem"][0]["ResultCode"] == 0
    else:
        assert answer["ResultItem"] == expected


def test_cli_send_over_http_signs_the_command_it_sends(clock: FrozenClock) -> None:
    receiver = build_receiver("blueprint", clock)
    app = receiver.extra["app"]
    seen: list[Any] = []
    receiver.hooks.observe(FRIEND_DELETED_COMMAND, seen.append)
    with serving(app) as address:
        result = app.test_cli_runner().invoke(
            args=[
                "friendcb",
                "send",
                "--command",
                FRIEND_DELETED_COMMAND,
                "--from",
                "a",
                "--to",
                "b",
                "--url",
                f"http://{address}/im/callback",
            ],
        )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")
    assert seen[0].pairs == (FriendPair("a", "b"),)


def test_cli_check_names_the_callbacks_to_enable(clock: FrozenClock) -> None:
    receiver = build_receiver("blueprint", clock)
    receiver.hooks.on_friend_add(lambda item, event: None)
    receiver.hooks.observe(BLOCKLIST_ADDED_COMMAND, print)
    result = receiver.extra["app"].test_cli_runner().invoke(args=["friendcb", "check"])
    assert result.exit_code == 0, result.output
    assert "'Before a Friend Is Added', 'After a User Is Added to Blocklist'" in result.output
    assert "Before a Friend Request Is Responded" not in result.output
    assert TOKEN not in result.output


# --- any body, any command: never a 5xx -------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "From_Account",
        "Requester_Account",
        "EventTime",
        "FriendItem",
        "ResponseFriendItem",
        "PairList",
        "To_Account",
        "AddWording",
        "AddType",
        "ForceAddFlags",
        "ClientCmd",
        "ForceFlag",
        "CallbackCommand",
    ]
)
BODY = st.dictionaries(FIELDS, JSON | st.lists(st.dictionaries(FIELDS, JSON), max_size=3))


@given(command=st.sampled_from(FRIEND_COMMANDS), body=BODY | JSON)
def test_any_json_body_of_any_friend_command_is_answered_without_a_5xx(
    command: str, body: Any
) -> None:
    receiver = RECEIVER
    answer = receiver.post(json.dumps(body).encode(), receiver.query(command=command))
    assert answer.status < 500, answer.body
    assert answer.json["ActionStatus"] in ("OK", "FAIL")
    if answer.status == 200 and command in (FRIEND_RESPONSE_COMMAND, FRIEND_ADD_COMMAND):
        key = "FriendItem" if command == FRIEND_ADD_COMMAND else "ResponseFriendItem"
        assert len(answer.json["ResultItem"]) == len(body.get(key) or [])


def _fuzzed_receiver() -> Receiver:
    receiver = build_receiver("middleware", FrozenClock())
    receiver.hooks.on_friend_add(ContentPolicy(banned_words=["spam"]))
    receiver.hooks.on_friend_add(lambda item, event: Reject(38000) if item.remark else None)
    for command in OBSERVED:
        receiver.hooks.observe(command, lambda event: [pair.to_account for pair in event.pairs])
    return receiver


RECEIVER = _fuzzed_receiver()
