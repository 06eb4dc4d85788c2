"""Hook semantics: order, filters, decisions, failures, the deadline, both error policies."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import pytest

from flask_friendcb import (
    Allow,
    FriendResponseEvent,
    FriendResponseItem,
    HookRegistry,
    Outcome,
    Reject,
    ResponseAction,
)
from flask_friendcb.hooks import HOOK_FAILED_INFO, HookPolicy, decide

from .conftest import FrozenClock, build_receiver

AGREE_AND_ADD = ResponseAction.AGREE_AND_ADD
AGREE = ResponseAction.AGREE
REJECT = ResponseAction.REJECT

ALLOW_POLICY = HookPolicy(result_code=0, deadline=1.5)
REJECT_POLICY = HookPolicy(result_code=38999, deadline=1.5)


def event(*items: tuple[str, ResponseAction]) -> FriendResponseEvent:
    return FriendResponseEvent(
        sdkappid="1400000000",
        callback_command="Sns.CallbackPrevFriendResponse",
        requester_account="bob",
        from_account="bob",
        event_time_ms=1_700_000_000_000,
        items=tuple(FriendResponseItem(to, action) for to, action in items),
    )


def codes(
    registry: HookRegistry, ev: FriendResponseEvent, policy: HookPolicy = ALLOW_POLICY
) -> list[int]:
    return [result.result_code for result in decide(registry, ev, policy).results]


def test_no_hooks_allows_everything() -> None:
    answer = decide(HookRegistry(), event(("a", AGREE), ("b", REJECT)), ALLOW_POLICY)
    assert [(r.to_account, r.result_code, r.outcome) for r in answer.results] == [
        ("a", 0, Outcome.NO_DECISION),
        ("b", 0, Outcome.NO_DECISION),
    ]


def test_hooks_run_in_registration_order_for_every_item() -> None:
    registry = HookRegistry()
    calls = []
    for name in ("first", "second", "third"):
        registry.add_hook(lambda item, ev, name=name: calls.append((name, item.to_account)))
    decide(registry, event(("a", AGREE), ("b", AGREE)), ALLOW_POLICY)
    assert calls == [
        ("first", "a"),
        ("second", "a"),
        ("third", "a"),
        ("first", "b"),
        ("second", "b"),
        ("third", "b"),
    ]


def test_decorator_returns_the_function_unchanged_bare_and_with_arguments() -> None:
    registry = HookRegistry()

    def hook(item: Any, ev: Any) -> None:
        return None

    assert registry.on_friend_response(hook) is hook
    assert registry.on_friend_response(actions=[AGREE])(hook) is hook
    assert [h.func for h in registry] == [hook, hook]
    assert [h.name for h in registry] == [f"{__name__}.{hook.__qualname__}"] * 2


def test_action_filter_limits_a_hook_to_its_actions() -> None:
    registry = HookRegistry()
    seen: list[tuple[str, str]] = []

    @registry.on_friend_response(actions=[AGREE_AND_ADD, AGREE])
    def accepting(item: FriendResponseItem, ev: Any) -> None:
        seen.append(("accepting", item.to_account))

    @registry.on_friend_response(actions=["Response_Action_Reject"])
    def declining(item: FriendResponseItem, ev: Any) -> None:
        seen.append(("declining", item.to_account))

    @registry.on_friend_response(actions=AGREE)
    def only_agree(item: FriendResponseItem, ev: Any) -> None:
        seen.append(("only_agree", item.to_account))

    decide(registry, event(("a", AGREE_AND_ADD), ("b", REJECT), ("c", AGREE)), ALLOW_POLICY)
    assert seen == [
        ("accepting", "a"),
        ("declining", "b"),
        ("accepting", "c"),
        ("only_agree", "c"),
    ]


@pytest.mark.parametrize("actions", [[], ["Response_Action_Maybe"], ["agree"], [None]])
def test_bad_action_filters_fail_at_registration(actions: Any) -> None:
    with pytest.raises(ValueError, match=r"actions is empty|unknown ResponseAction"):
        HookRegistry().on_friend_response(actions=actions)


def test_a_hook_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        HookRegistry().add_hook("not a function")  # type: ignore[arg-type]


def test_allow_short_circuits_later_hooks() -> None:
    registry = HookRegistry()
    later = []
    registry.add_hook(lambda item, ev: Allow() if item.to_account == "staff" else None)
    registry.add_hook(lambda item, ev: later.append(item.to_account) or Reject(38001, "late"))
    answer = decide(registry, event(("staff", AGREE), ("other", AGREE)), ALLOW_POLICY)
    assert later == ["other"]
    assert [(r.result_code, r.result_info, r.outcome) for r in answer.results] == [
        (0, "", Outcome.ALLOWED),
        (38001, "late", Outcome.REJECTED),
    ]


def test_first_reject_decides_and_names_its_hook() -> None:
    registry = HookRegistry()

    def blocklist(item: Any, ev: Any) -> Reject:
        return Reject(38010, "blocked")

    def never(item: Any, ev: Any) -> Reject:
        raise AssertionError("must not run after a decision")

    registry.add_hook(lambda item, ev: None)
    registry.add_hook(blocklist)
    registry.add_hook(never)
    (result,) = decide(registry, event(("a", AGREE)), ALLOW_POLICY).results
    assert (result.result_code, result.result_info, result.outcome) == (
        38010,
        "blocked",
        Outcome.REJECTED,
    )
    assert result.hook is not None
    assert result.hook.endswith("blocklist")
    assert not result.allowed


@pytest.mark.parametrize("code", [38000, 38500, 39000])
def test_reject_accepts_codes_in_tencents_range(code: int) -> None:
    assert Reject(code).code == code


@pytest.mark.parametrize("code", [0, 1, 37999, 39001, -38000, 38000.0, "38000", True, None])
def test_reject_refuses_codes_outside_the_range_at_once(code: Any) -> None:
    with pytest.raises(ValueError, match=r"\[38000, 39000\]"):
        Reject(code)


def test_reject_info_must_be_text() -> None:
    with pytest.raises(TypeError):
        Reject(38000, 5)  # type: ignore[arg-type]


def test_allow_takes_no_arguments() -> None:
    with pytest.raises(TypeError):
        Allow(0)  # type: ignore[call-arg]


def test_a_hook_that_raises_is_logged_and_allowed_under_the_allow_policy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = HookRegistry()

    def broken(item: Any, ev: Any) -> None:
        raise KeyError("database down")

    registry.add_hook(broken)
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        answer = decide(registry, event(("a", AGREE), ("b", AGREE)), ALLOW_POLICY)
    assert [(r.result_code, r.outcome) for r in answer.results] == [
        (0, Outcome.HOOK_ERROR),
        (0, Outcome.HOOK_ERROR),
    ]
    errors = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(errors) == 2
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is KeyError
    assert "broken" in errors[0].getMessage()


def test_a_hook_that_raises_rejects_under_the_reject_policy() -> None:
    registry = HookRegistry()
    registry.add_hook(lambda item, ev: 1 / 0 if item.to_account == "x" else None)
    answer = decide(registry, event(("x", AGREE), ("y", AGREE)), REJECT_POLICY)
    assert [(r.result_code, r.result_info) for r in answer.results] == [
        (38999, HOOK_FAILED_INFO),
        (0, ""),
    ]


@pytest.mark.parametrize("junk", ["no", 0, 1, True, False, {}, Reject, Allow, object()])
def test_junk_returns_fall_to_the_error_policy(junk: Any, caplog: pytest.LogCaptureFixture) -> None:
    registry = HookRegistry()
    registry.add_hook(lambda item, ev: junk)
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        (allowed,) = decide(registry, event(("a", AGREE)), ALLOW_POLICY).results
        (rejected,) = decide(registry, event(("a", AGREE)), REJECT_POLICY).results
    assert (allowed.result_code, allowed.outcome) == (0, Outcome.HOOK_ERROR)
    assert (rejected.result_code, rejected.outcome) == (38999, Outcome.HOOK_ERROR)
    record = next(r for r in caplog.records if "junk" in r.getMessage())
    assert record.exc_info is not None
    assert "expected None, Allow() or Reject" in str(record.exc_info[1])


def test_a_hook_cannot_change_what_later_hooks_see() -> None:
    registry = HookRegistry()
    seen = []

    def vandal(item: FriendResponseItem, ev: FriendResponseEvent) -> None:
        ev.items = ()  # type: ignore[misc]

    registry.add_hook(vandal)
    registry.add_hook(lambda item, ev: seen.append(item.to_account))
    answer = decide(registry, event(("a", AGREE), ("b", AGREE)), REJECT_POLICY)
    assert [r.outcome for r in answer.results] == [Outcome.HOOK_ERROR, Outcome.HOOK_ERROR]
    assert seen == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        event(("a", AGREE)).items[0].to_account = "b"  # type: ignore[misc]


class FakeTimer:
    """perf_counter stand-in: each hook call costs ``cost`` seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("policy", "fallback"), [(ALLOW_POLICY, 0), (REJECT_POLICY, 38999)])
def test_deadline_sends_the_remaining_items_to_the_error_policy(
    policy: HookPolicy, fallback: int, caplog: pytest.LogCaptureFixture
) -> None:
    timer = FakeTimer()
    registry = HookRegistry()
    calls = []

    def slow(item: FriendResponseItem, ev: Any) -> Reject:
        calls.append(item.to_account)
        timer.now += 0.6
        return Reject(38001, "checked")

    registry.add_hook(slow)
    ev = event(*[(str(n), AGREE) for n in range(5)])
    with caplog.at_level(logging.WARNING, logger="flask_friendcb"):
        answer = decide(registry, ev, policy, timer=timer)
    # 0.0, 0.6 and 1.2 are inside 1.5 s; at 1.8 s no further hook starts.
    assert calls == ["0", "1", "2"]
    assert [(r.result_code, r.outcome) for r in answer.results] == [
        (38001, Outcome.REJECTED),
        (38001, Outcome.REJECTED),
        (38001, Outcome.REJECTED),
        (fallback, Outcome.DEADLINE),
        (fallback, Outcome.DEADLINE),
    ]
    assert sum("deadline" in r.getMessage() for r in caplog.records) == 1


def test_deadline_leaves_items_without_hooks_allowed() -> None:
    timer = FakeTimer()
    registry = HookRegistry()

    @registry.on_friend_response(actions=[AGREE])
    def slow(item: Any, ev: Any) -> None:
        timer.now += 2

    answer = decide(
        registry, event(("a", AGREE), ("b", REJECT), ("c", AGREE)), REJECT_POLICY, timer
    )
    assert [r.outcome for r in answer.results] == [
        Outcome.NO_DECISION,
        Outcome.NO_DECISION,
        Outcome.DEADLINE,
    ]


def test_deadline_holds_in_real_time_through_the_handler(clock: FrozenClock) -> None:
    receiver = build_receiver("middleware", clock, deadline=0.2, on_hook_error="reject")
    calls = []

    @receiver.hooks.on_friend_response
    def sleepy(item: Any, ev: Any) -> None:
        calls.append(item.to_account)
        time.sleep(0.15)

    items = [{"To_Account": str(n), "ResponseAction": "Response_Action_Agree"} for n in range(10)]
    from .test_wire import body_with

    started = time.monotonic()
    answer = receiver.post(body_with(ResponseFriendItem=items))
    elapsed = time.monotonic() - started
    assert answer.status == 200
    codes = [item["ResultCode"] for item in answer.json["ResultItem"]]
    assert codes[: len(calls)] == [0] * len(calls)
    assert codes[len(calls) :] == [38999] * (10 - len(calls))
    assert 2 <= len(calls) <= 3
    assert elapsed < 1.0


def test_hooks_added_after_an_answer_run_on_the_next_one() -> None:
    registry = HookRegistry()
    ev = event(("a", AGREE))
    assert codes(registry, ev) == [0]
    registry.add_hook(lambda item, e: Reject(38002))
    assert codes(registry, ev) == [38002]


def test_on_command_registers_one_handler_per_command() -> None:
    registry = HookRegistry()

    @registry.on_command("Group.CallbackAfterNewMemberJoin")
    def joined(body: Any, context: Any) -> None:
        return None

    assert registry.command_handler("Group.CallbackAfterNewMemberJoin") is joined
    assert registry.command_handler("Group.Other") is None
    with pytest.raises(ValueError, match="already has a handler"):
        registry.on_command("Group.CallbackAfterNewMemberJoin")(lambda body, context: None)
    with pytest.raises(ValueError, match="on_friend_response"):
        registry.on_command("Sns.CallbackPrevFriendResponse")
    with pytest.raises(ValueError, match="non-empty"):
        registry.on_command("")
