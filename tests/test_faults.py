"""Faults in the app's hooks: raising, junk, forged decisions, hanging past the deadline,
vandalising the event. Each costs one item's decision, never the answer, and never the app's
other routes: in process, through Werkzeug's threaded server, and through gunicorn."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flask_friendcb import (
    Allow,
    ErrorCode,
    FriendResponseEvent,
    FriendResponseItem,
    Outcome,
    Reject,
)
from flask_friendcb.signals import answer_decided
from flask_friendcb.testing import callback_query, friend_response_body

from .conftest import FrozenClock, Receiver, build_receiver, serving
from .servers import gunicorn
from .test_wire import assert_protocol_shape

HOOK_FAILED = 38999


def items(*accounts: str) -> dict[str, Any]:
    return friend_response_body("responder", list(accounts))


def result_codes(answer: Any) -> list[tuple[str, int]]:
    return [(item["To_Account"], item["ResultCode"]) for item in answer.json["ResultItem"]]


@pytest.fixture(params=["blueprint", "middleware"])
def rejecting(request: pytest.FixtureRequest, clock: FrozenClock) -> Receiver:
    """A receiver whose failing hooks reject (ResultCode 38999), so failures show in answers."""
    return build_receiver(request.param, clock, on_hook_error="reject")


class BrokenText(Exception):
    def __str__(self) -> str:
        raise ValueError("even the message is broken")


def forged_reject() -> Reject:
    # A Reject whose __init__ (and so its checks) never ran: its slots are empty.
    return Reject.__new__(Reject)


def reject_with(**forced: object) -> Reject:
    decision = Reject(38001, "fine so far")
    for name, value in forced.items():
        object.__setattr__(decision, name, value)
    return decision


class UncheckedReject(Reject):
    def __post_init__(self) -> None:  # skips Reject's checks
        pass


JUNK_DECISIONS = {
    "forged-empty-reject": forged_reject,
    "reject-code-0": lambda: reject_with(code=0),
    "reject-code-out-of-range": lambda: reject_with(code=5),
    "reject-code-text": lambda: reject_with(code="38001"),
    "reject-code-bool": lambda: reject_with(code=True),
    "reject-info-not-text": lambda: reject_with(info=b"x"),
    "unchecked-subclass": lambda: UncheckedReject(7, "no"),
    "generator": lambda: (x for x in [Allow()]),
    "allow-class": lambda: Allow,
}


@pytest.mark.parametrize("make", JUNK_DECISIONS.values(), ids=list(JUNK_DECISIONS))
def test_forged_and_malformed_decisions_are_junk_not_a_500(
    rejecting: Receiver, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rejecting.hooks.on_friend_response(lambda item, event: make())
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        answer = rejecting.post(items("a", "b"))
    assert answer.status == 200, answer.body
    assert_protocol_shape(answer)
    assert result_codes(answer) == [("a", HOOK_FAILED), ("b", HOOK_FAILED)]
    junk = [r for r in caplog.records if "returned junk" in r.getMessage()]
    assert len(junk) == 2
    assert junk[0].exc_info is not None


def test_an_exception_whose_message_raises_costs_one_decision(rejecting: Receiver) -> None:
    def broken(item: Any, event: Any) -> None:
        raise BrokenText

    rejecting.hooks.on_friend_response(broken)
    answer = rejecting.post(items("a"))
    assert answer.status == 200
    assert result_codes(answer) == [("a", HOOK_FAILED)]


@pytest.mark.parametrize("log_level", [logging.WARNING, logging.DEBUG])
def test_a_hook_forcing_a_change_on_the_item_cannot_change_the_answer(
    rejecting: Receiver, log_level: int, caplog: pytest.LogCaptureFixture
) -> None:
    # At DEBUG every decision is logged: the log must read what came on the wire too.
    caplog.set_level(log_level, logger="flask_friendcb")
    seen = []

    @rejecting.hooks.on_friend_response
    def vandal(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        for each in event.items:
            # Later items' actions too: they must still find their own hooks.
            object.__setattr__(each, "response_action", "not an action")
        object.__setattr__(item, "to_account", "someone-else")
        object.__setattr__(event, "items", ())
        object.__setattr__(event, "from_account", 42)

    @rejecting.hooks.on_friend_response
    def later(item: FriendResponseItem, event: FriendResponseEvent) -> Reject:
        seen.append(item.to_account)
        return Reject(38001, "checked")

    answer = rejecting.post(items("a", "b", "c"))
    # One result per item of the wire, in order, each echoing the wire's To_Account.
    assert result_codes(answer) == [("a", 38001), ("b", 38001), ("c", 38001)]
    assert seen == ["someone-else"] * 3
    if log_level == logging.DEBUG:
        logged = [r.friendcb_to_account for r in caplog.records if hasattr(r, "friendcb_outcome")]
        assert logged == ["a", "b", "c"]


def test_a_bug_past_every_check_still_gets_the_protocols_json(
    rejecting: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("flask_friendcb.decisions.decide", broken)
    answer = rejecting.post(items("a"))
    assert answer.status == 500
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json == {
        "ActionStatus": "FAIL",
        "ErrorCode": ErrorCode.INTERNAL_ERROR,
        "ErrorInfo": "the callback could not be answered",
    }
    record = next(r for r in caplog.records if "could not be answered" in r.getMessage())
    assert record.exc_info is not None


def test_a_hook_assigning_to_the_frozen_event_fails_alone(rejecting: Receiver) -> None:
    @rejecting.hooks.on_friend_response
    def vandal(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        if item.to_account == "b":
            event.items = ()  # type: ignore[misc]

    answer = rejecting.post(items("a", "b", "c"))
    assert result_codes(answer) == [("a", 0), ("b", HOOK_FAILED), ("c", 0)]


def test_async_hooks_run_to_their_end_in_a_sync_adapter(rejecting: Receiver) -> None:
    # One module of hooks serves a Flask and an ASGI deployment: here, in the request's thread,
    # an async hook runs on an event loop of its own, and its decision counts.
    @rejecting.hooks.on_friend_response
    async def remote_check(item: FriendResponseItem, event: Any) -> Reject | None:
        await asyncio.sleep(0)
        if item.to_account == "b":
            raise RuntimeError("remote check down")
        return Reject(38005, "remote says no") if item.to_account == "c" else None

    answer = rejecting.post(items("a", "b", "c"))
    assert result_codes(answer) == [("a", 0), ("b", HOOK_FAILED), ("c", 38005)]


def test_outcomes_name_each_failure(rejecting: Receiver) -> None:
    @rejecting.hooks.on_friend_response
    def misbehave(item: FriendResponseItem, event: Any) -> Any:
        if item.to_account == "boom":
            raise RuntimeError("down")
        return forged_reject() if item.to_account == "junk" else None

    outcomes = []

    def record(sender: Any, event: FriendResponseEvent, answer: Any) -> None:
        outcomes.extend((r.to_account, r.outcome, r.hook) for r in answer.results)

    sender = rejecting.extra.get("app", rejecting.wsgi)
    with answer_decided.connected_to(record, sender):
        rejecting.post(items("ok", "boom", "junk"))
    name = f"{__name__}.{misbehave.__qualname__}"
    assert outcomes == [
        ("ok", Outcome.NO_DECISION, None),
        ("boom", Outcome.HOOK_ERROR, name),
        ("junk", Outcome.HOOK_ERROR, name),
    ]


# --- through Werkzeug's threaded server -------------------------------------------------------


@pytest.fixture(params=["blueprint", "middleware"])
def faulty(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Receiver, threading.Event, threading.Event]]:
    """A served receiver whose hook fails by account name: ``boom`` raises, ``junk`` returns
    junk, ``vandal`` assigns to the frozen event, ``spam`` is refused, ``slow`` sleeps past the
    0.5 s deadline, and ``stuck`` blocks until the test lets it go. Yields the receiver and the
    events "stuck has started" and "let stuck go"."""
    receiver = build_receiver(
        request.param, FrozenClock(time.time()), deadline=0.5, on_hook_error="reject"
    )
    started, release = threading.Event(), threading.Event()

    @receiver.hooks.on_friend_response
    def misbehave(item: FriendResponseItem, event: FriendResponseEvent) -> Any:
        name = item.to_account
        if name.startswith("boom"):
            raise RuntimeError("the policy database is down")
        if name.startswith("junk"):
            return {"decision": "allow"}
        if name.startswith("vandal"):
            event.items = ()  # type: ignore[misc]
        if name.startswith("spam"):
            return Reject(38001, "spam")
        if name.startswith("slow"):
            time.sleep(0.7)
        if name.startswith("stuck"):
            started.set()
            release.wait(timeout=30)
        return None

    with serving(receiver.wsgi) as address:
        receiver.base_url = address
        try:
            yield receiver, started, release
        finally:
            release.set()


def test_every_fault_costs_one_item_over_a_real_server(
    faulty: tuple[Receiver, threading.Event, threading.Event],
) -> None:
    receiver, _, _ = faulty
    answer = receiver.post(items("ok", "boom", "junk", "vandal", "spam", "slow", "after"))
    assert answer.status == 200
    assert_protocol_shape(answer)
    assert result_codes(answer) == [
        ("ok", 0),
        ("boom", HOOK_FAILED),
        ("junk", HOOK_FAILED),
        ("vandal", HOOK_FAILED),
        ("spam", 38001),
        ("slow", 0),  # its hook finished, late, and had no objection
        ("after", HOOK_FAILED),  # the deadline had passed: no hook ran for it
    ]


def other_route(receiver: Receiver) -> tuple[int, Any]:
    assert receiver.base_url is not None
    host, port = receiver.base_url.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/hello")
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_other_routes_and_callbacks_answer_while_a_hook_is_stuck(
    faulty: tuple[Receiver, threading.Event, threading.Event],
) -> None:
    receiver, started, release = faulty
    answers: list[Any] = []
    stuck = threading.Thread(target=lambda: answers.append(receiver.post(items("stuck"))))
    stuck.start()
    try:
        assert started.wait(timeout=10)
        # The stuck hook holds its own request only.
        status, body = other_route(receiver)
        assert status == 200
        assert body["app"] in ("flask", "other")
        assert result_codes(receiver.post(items("alice", "spam1"))) == [
            ("alice", 0),
            ("spam1", 38001),
        ]
        failing = receiver.post(items("boom"))
        assert result_codes(failing) == [("boom", HOOK_FAILED)]
        assert stuck.is_alive()
    finally:
        release.set()
        stuck.join(timeout=30)
    assert [a.status for a in answers] == [200]


# --- through gunicorn -------------------------------------------------------------------------

TOKEN = "faults-test-token"


@pytest.fixture(scope="module")
def faulty_gunicorn() -> Iterator[str]:
    with gunicorn(
        "tests.served_apps:faulty_app()",
        env={"FRIENDCB_TEST_TOKEN": TOKEN},
        args=["--worker-class", "gthread", "--threads", "4"],
    ) as address:
        yield address


@contextlib.contextmanager
def connection_to(address: str) -> Iterator[http.client.HTTPConnection]:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        yield connection
    finally:
        connection.close()


def post_callback(address: str, body: dict[str, Any]) -> tuple[int, Any]:
    with connection_to(address) as connection:
        connection.request(
            "POST",
            f"/im/callback?{callback_query(1400000000, token=TOKEN)}",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())


def test_gunicorn_answers_every_fault(faulty_gunicorn: str) -> None:
    status, body = post_callback(faulty_gunicorn, items("ok", "boom", "junk", "slow", "late"))
    assert status == 200
    assert [(i["To_Account"], i["ResultCode"]) for i in body["ResultItem"]] == [
        ("ok", 0),
        ("boom", HOOK_FAILED),
        ("junk", HOOK_FAILED),
        ("slow", 0),
        ("late", HOOK_FAILED),
    ]


def test_gunicorn_serves_other_routes_while_a_hook_is_slow(faulty_gunicorn: str) -> None:
    finished: dict[str, float] = {}

    def slow_callback() -> None:
        status, _ = post_callback(faulty_gunicorn, items("slow"))
        finished["callback"] = time.monotonic()
        finished["status"] = status

    thread = threading.Thread(target=slow_callback)
    thread.start()
    time.sleep(0.2)  # the callback is in its one-second hook by now
    with connection_to(faulty_gunicorn) as connection:
        connection.request("GET", "/hello")
        reply = connection.getresponse()
        assert (reply.status, json.loads(reply.read())) == (200, {"app": "faulty"})
    finished["hello"] = time.monotonic()
    thread.join(timeout=30)
    assert finished["status"] == 200
    # Ordering, not a timing threshold: /hello was answered while the hook still slept.
    assert finished["hello"] < finished["callback"]
