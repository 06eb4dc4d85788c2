"""The ASGI adapter in process: called as an ASGI app (httpx's ASGI transport, or a hand-made
``receive`` where the test needs to see what is read), no server.

- Every request a corpus of good and bad callbacks, every command among them, is answered
  exactly as the WSGI middleware answers it, with the same hooks.
- ``async def`` hooks run on the loop, plain ones in a worker thread; the deadline holds for
  both, and the loop serves other requests while a hook sleeps.
- The body: nothing read before authentication, the limit enforced while receiving, a stalled
  or vanished client answered within a bounded time, chunked bodies read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devtools.signing import PATH, SDKAPPID, TOKEN, FrozenClock
from flask_friendcb import (
    CallbackContext,
    ConfigError,
    FriendCallbackMiddleware,
    HookRegistry,
    Reject,
)
from flask_friendcb.asgi import FriendCallbackASGI
from flask_friendcb.hooks import HookDecorators
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem
from flask_friendcb.signals import answer_decided, event_received, relation_changed
from flask_friendcb.testing import callback_query, friend_response_body

from .conftest import Receiver

LIMIT = 4096
Message = dict[str, Any]


class Inner:
    """The app behind the receiver: records every scope it is handed."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"inner:" + scope["path"].encode()})


class Hooks(HookDecorators):
    """Every decorator of a receiver, on a registry of its own (``.hooks``)."""

    def __init__(self) -> None:
        self.hooks = HookRegistry()


def receiver(clock: FrozenClock, hooks: Hooks | None = None, **settings: Any) -> Any:
    return FriendCallbackASGI(
        Inner(),
        path=PATH,
        sdkappid=SDKAPPID,
        token=TOKEN,
        clock=clock,
        hooks=None if hooks is None else hooks.hooks,
        **settings,
    )


def query(clock: FrozenClock, token: str | None = TOKEN, **extra: Any) -> str:
    return callback_query(SDKAPPID, token=token, request_time=int(clock()), **extra)


def run(coroutine: Awaitable[Any]) -> Any:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


async def post(
    app: Any,
    body: Any,
    query_string: str,
    *,
    method: str = "POST",
    path: str = PATH,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        return await client.request(
            method, f"{path}?{query_string}", content=data, headers=headers or {}
        )


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"path": "im/callback"}, "path"),
        ({"path": None}, "path"),
        ({"sdkappid": "abc"}, "sdkappid"),
        ({"token": ""}, "token"),
        ({"token": None}, "token"),  # no token, and unsigned not allowed: fail closed
        ({"deadline": 5}, "deadline"),
        ({"max_content_length": "big"}, "max_content_length"),
        ({"no_such_setting": 1}, "no_such_setting"),
        ({"body_timeout": 0}, "body_timeout"),
        ({"body_timeout": float("inf")}, "body_timeout"),
        ({"body_timeout": "5"}, "body_timeout"),
        ({"body_timeout": True}, "body_timeout"),
    ],
)
def test_bad_settings_raise_config_errors_naming_them(options: dict[str, Any], key: str) -> None:
    arguments: dict[str, Any] = {"path": PATH, "sdkappid": SDKAPPID, "token": TOKEN, **options}
    with pytest.raises(ConfigError) as raised:
        FriendCallbackASGI(Inner(), **arguments)
    assert raised.value.key == key


def test_the_wrapped_app_must_be_callable() -> None:
    with pytest.raises(ConfigError) as raised:
        FriendCallbackASGI("not an app", path=PATH, sdkappid=SDKAPPID, token=TOKEN)  # type: ignore[arg-type]
    assert raised.value.key == "asgi_app"


# -- what goes to the wrapped app --------------------------------------------------------------


def test_other_paths_websockets_and_lifespan_go_to_the_wrapped_app(clock: FrozenClock) -> None:
    app = receiver(clock)

    async def scenario() -> list[str]:
        response = await post(app, b"", "", method="GET", path="/elsewhere")
        assert (response.status_code, response.content) == (200, b"inner:/elsewhere")
        response = await post(app, b"", "", method="GET", path=PATH + "/more")
        assert response.content == b"inner:" + PATH.encode() + b"/more"
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def startup() -> Message:
            return {"type": "lifespan.startup"}

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup, send)
        websocket = {"type": "websocket", "path": PATH, "query_string": b"", "headers": []}
        await app(websocket, startup, send)
        assert [message["type"] for message in sent] == [
            "lifespan.startup.complete",
            "websocket.close",
        ]
        return [scope["type"] for scope in app.asgi_app.scopes]

    assert run(scenario()) == ["http", "http", "lifespan", "websocket"]


def test_the_callback_path_is_matched_below_a_mount(clock: FrozenClock) -> None:
    # Under a mount (root_path "/api"), ASGI's path is the whole path.
    app = receiver(clock)
    sent: list[Message] = []
    body = json.dumps(friend_response_body("bob", ["alice"])).encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api" + PATH,
        "root_path": "/api",
        "query_string": query(clock).encode(),
        "headers": [(b"content-length", str(len(body)).encode())],
    }
    run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["ResultItem"][0]["To_Account"] == "alice"
    assert app.asgi_app.scopes == []


# -- the same answers as the WSGI middleware ---------------------------------------------------

JOIN = "Group.CallbackAfterNewMemberJoin"
PAIRS = {"PairList": [{"From_Account": "a", "To_Account": "b"}]}


def corpus(clock: FrozenClock) -> list[tuple[str, str, bytes]]:
    """(method, query, body) of good and bad callbacks: every friend command, the other
    commands, and each way a request can be refused."""
    good = friend_response_body("bob", ["spam1", "alice", "boom2", "bot3"], event_time_ms=1)
    request = {
        "CallbackCommand": "Sns.CallbackPrevFriendAdd",
        "Requester_Account": "carol",
        "From_Account": "carol",
        "FriendItem": [
            {"To_Account": "spam9", "Remark": "", "GroupName": "", "AddSource": "AddSource_Type_A"},
            {"To_Account": "dave", "AddWording": "hi"},
        ],
        "AddType": "Add_Type_Both",
        "ForceAddFlags": 0,
        "EventTime": 1,
    }
    added = {
        "CallbackCommand": "Sns.CallbackFriendAdd",
        "PairList": [{"From_Account": "a", "To_Account": "b", "Initiator_Account": "a"}],
        "ClientCmd": "friend_add",
        "Admin_Account": "",
        "ForceFlag": 0,
    }
    cases: list[tuple[str, str, Any]] = [
        ("POST", query(clock), good),
        ("POST", query(clock, command="Sns.CallbackPrevFriendAdd"), request),
        ("POST", query(clock, command="Sns.CallbackFriendAdd"), added),
        *[
            ("POST", query(clock, command=command), {"CallbackCommand": command, **PAIRS})
            for command in (
                "Sns.CallbackFriendDelete",
                "Sns.CallbackBlackListAdd",
                "Sns.CallbackBlackListDelete",
            )
        ],
        ("POST", query(clock, command=JOIN), {"CallbackCommand": JOIN, "GroupId": "g"}),
        ("POST", query(clock, command="State.StateChange"), {"CallbackCommand": "x"}),
        ("POST", query(clock, command="Other.Command"), {"CallbackCommand": "Other.Command"}),
        ("GET", query(clock), good),
        ("PUT", query(clock), good),
        ("POST", query(clock, token="wrong"), good),
        ("POST", query(clock, token=None), good),
        ("POST", query(clock, Sign="0" * 64), good),
        ("POST", callback_query(SDKAPPID, token=TOKEN, request_time=int(clock()) - 61), good),
        ("POST", callback_query(SDKAPPID, token=TOKEN, request_time="soon"), good),
        ("POST", callback_query("1400000001", token=TOKEN, request_time=int(clock())), good),
        ("POST", query(clock) + "&SdkAppid=1", good),
        ("POST", "&".join(["a=1"] * 2000), good),
        ("POST", query(clock), b""),
        ("POST", query(clock), b"not json"),
        ("POST", query(clock), b"\xff\xfe"),
        ("POST", query(clock), b"[1, 2]"),
        ("POST", query(clock), b'{"a": NaN}'),
        ("POST", query(clock), b"[" * 100_000),
        ("POST", query(clock), b'{"n": ' + b"9" * 5000 + b"}"),
        ("POST", query(clock), b"\xef\xbb\xbf{}"),
        ("POST", query(clock), b" " * (LIMIT + 1)),
        ("POST", query(clock), {**good, "From_Account": 7}),
        ("POST", query(clock), {**good, "ResponseFriendItem": [1]}),
        ("POST", query(clock), {**good, "ResponseFriendItem": None}),
        (
            "POST",
            query(clock),
            {**good, "ResponseFriendItem": [{"To_Account": "x", "ResponseAction": "Maybe"}]},
        ),
        ("POST", query(clock), {**good, "CallbackCommand": "Sns.CallbackFriendAdd"}),
        ("POST", query(clock, command="Sns.CallbackFriendAdd"), {"CallbackCommand": 5}),
        ("POST", query(clock, command="Sns.CallbackFriendDelete"), {"PairList": 3}),
        ("POST", query(clock, command="Sns.CallbackPrevFriendAdd"), {"FriendItem": []}),
    ]
    return [
        (method, q, body if isinstance(body, bytes) else json.dumps(body).encode())
        for method, q, body in cases
    ]


def shared_hooks() -> Hooks:
    hooks = Hooks()

    @hooks.on_friend_response
    def refuse(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        if item.to_account.startswith("boom"):
            raise RuntimeError("down")
        return Reject(38001, "spam") if item.to_account.startswith("spam") else None

    @hooks.on_friend_response
    async def refuse_bots(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
        await asyncio.sleep(0)
        return Reject(38002, "bot") if item.to_account.startswith("bot") else None

    @hooks.on_friend_add
    async def refuse_spam_requests(item: Any, event: Any) -> Reject | None:
        return Reject(38003, "no") if item.to_account.startswith("spam") else None

    @hooks.on_friend_added
    def added(event: Any) -> None:
        raise RuntimeError("an observer that fails costs nothing")

    @hooks.on_command(JOIN)
    def joined(body: dict[str, Any], context: CallbackContext) -> dict[str, Any]:
        return {"Seen": body["GroupId"]}

    @hooks.on_command("State.StateChange")
    def junk(body: dict[str, Any], context: CallbackContext) -> Any:
        return {"Unencodable": object()}

    @hooks.on_command("Other.Command")
    def failing(body: dict[str, Any], context: CallbackContext) -> Any:
        raise RuntimeError("handler down")

    return hooks


def test_every_request_of_the_corpus_gets_the_wsgi_middlewares_answer(
    clock: FrozenClock,
) -> None:
    hooks = shared_hooks()
    settings = {"clock": clock, "max_content_length": LIMIT, "on_hook_error": "reject"}
    asgi = FriendCallbackASGI(
        Inner(), path=PATH, sdkappid=SDKAPPID, token=TOKEN, hooks=hooks.hooks, **settings
    )
    wsgi = Receiver(
        "middleware",
        FriendCallbackMiddleware(
            lambda environ, start_response: [],
            path=PATH,
            sdkappid=SDKAPPID,
            token=TOKEN,
            hooks=hooks.hooks,
            **settings,
        ),
        hooks.hooks,
        clock,
    )
    cases = corpus(clock)

    async def answers() -> list[tuple[int, bytes, str | None]]:
        got = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi), base_url="http://testserver"
        ) as client:
            for method, q, body in cases:
                response = await client.request(method, f"{PATH}?{q}", content=body)
                got.append((response.status_code, response.content, response.headers.get("allow")))
        return got

    got = run(answers())
    statuses = set()
    for (method, q, body), (status, content, allow) in zip(cases, got, strict=True):
        expected = wsgi.post(body, q, method=method)
        assert (status, content, allow) == (
            expected.status,
            expected.body,
            expected.headers.get("Allow"),
        ), (method, q[:80], body[:80])
        answer = json.loads(content)
        assert set(answer) >= {"ActionStatus", "ErrorCode", "ErrorInfo"}
        statuses.add(status)
    # The corpus reaches every kind of answer, decided and refused.
    assert statuses == {200, 400, 401, 403, 405, 413}
    decided = json.loads(got[0][1])["ResultItem"]
    assert [item["ResultCode"] for item in decided] == [38001, 0, 38999, 38002]
    assert json.loads(got[1][1])["ResultItem"][0]["ResultCode"] == 38003
    assert json.loads(got[6][1]) == {
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "Seen": "g",
    }


def test_head_gets_the_headers_and_no_body(clock: FrozenClock) -> None:
    response = run(post(receiver(clock), b"", query(clock), method="HEAD"))
    assert response.status_code == 405
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0
    assert response.headers["allow"] == "POST"


# -- hooks on the loop and in threads ----------------------------------------------------------


def test_async_hooks_run_on_the_loop_and_plain_ones_in_a_worker_thread(clock: FrozenClock) -> None:
    hooks = Hooks()
    threads: dict[str, int] = {}

    @hooks.on_friend_response
    def plain(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        threads.setdefault("plain", threading.get_ident())

    @hooks.on_friend_response
    async def awaited(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        threads.setdefault("async", threading.get_ident())

    @hooks.on_friend_deleted
    def observer(event: Any) -> None:
        threads.setdefault("observer", threading.get_ident())

    @hooks.on_friend_deleted
    async def async_observer(event: Any) -> None:
        threads.setdefault("async observer", threading.get_ident())

    @hooks.on_command(JOIN)
    def handler(body: Any, context: Any) -> None:
        threads.setdefault("handler", threading.get_ident())

    app = receiver(clock, hooks)

    async def scenario() -> int:
        await post(app, friend_response_body("bob", ["a", "b"]), query(clock))
        delete = {"CallbackCommand": "Sns.CallbackFriendDelete", **PAIRS}
        await post(app, delete, query(clock, command="Sns.CallbackFriendDelete"))
        await post(app, {"CallbackCommand": JOIN}, query(clock, command=JOIN))
        return threading.get_ident()

    loop_thread = run(scenario())
    assert threads["async"] == threads["async observer"] == loop_thread
    assert loop_thread not in {threads["plain"], threads["observer"], threads["handler"]}


def test_plain_hooks_of_a_callback_take_one_thread_hop(clock: FrozenClock) -> None:
    hooks = Hooks()
    seen: list[int] = []
    for _ in range(3):
        hooks.on_friend_response(lambda item, event: seen.append(threading.get_ident()))
    app = receiver(clock, hooks)
    response = run(post(app, friend_response_body("bob", ["a", "b", "c"]), query(clock)))
    assert response.status_code == 200
    assert len(seen) == 9
    assert len(set(seen)) == 1


@pytest.mark.parametrize("kind", ["async", "plain"])
def test_a_hook_that_sleeps_does_not_hold_the_answer_past_the_deadline(
    clock: FrozenClock, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = Hooks()
    release = threading.Event()
    after: list[str] = []

    if kind == "async":

        @hooks.on_friend_response
        async def slow(item: FriendResponseItem, event: FriendResponseEvent) -> None:
            if item.to_account == "slow":
                await asyncio.sleep(10)
    else:

        @hooks.on_friend_response
        def slow(item: FriendResponseItem, event: FriendResponseEvent) -> None:
            if item.to_account == "slow":
                release.wait(10)

    @hooks.on_friend_response
    def later(item: FriendResponseItem, event: FriendResponseEvent) -> None:
        after.append(item.to_account)

    app = receiver(clock, hooks, deadline=0.3, on_hook_error="reject")

    async def scenario() -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        response = await post(app, friend_response_body("bob", ["ok", "slow", "x"]), query(clock))
        took = time.perf_counter() - started
        release.set()  # before the loop ends, which waits for its worker threads
        return took, response

    try:
        with caplog.at_level(logging.WARNING, logger="flask_friendcb.hooks"):
            took, response = run(scenario())
    finally:
        release.set()
    assert 0.3 <= took < 1.5
    codes = [item["ResultCode"] for item in response.json()["ResultItem"]]
    assert codes == [0, 38999, 38999]
    assert after == ["ok"]  # nothing runs after the deadline, not even once the hook returns
    assert any("passed during hook" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("kind", ["async", "plain"])
def test_fifty_concurrent_callbacks_and_one_slow_hook(clock: FrozenClock, kind: str) -> None:
    # Every callback of the fifty meets the slow hook; the loop keeps serving the others, and
    # the app behind, meanwhile.
    hooks = Hooks()
    release = threading.Event()
    if kind == "async":

        @hooks.on_friend_response
        async def slow(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
            if item.to_account == "slow":
                await asyncio.sleep(10)
            return Reject(38001, "spam") if item.to_account == "spam" else None
    else:

        @hooks.on_friend_response
        def slow(item: FriendResponseItem, event: FriendResponseEvent) -> Reject | None:
            if item.to_account == "slow":
                release.wait(10)
            return Reject(38001, "spam") if item.to_account == "spam" else None

    app = receiver(clock, hooks, deadline=0.5)

    async def one(index: int) -> tuple[float, list[int]]:
        started = time.perf_counter()
        items = ["slow", "spam"] if index % 2 else ["spam", "slow"]
        response = await post(app, friend_response_body(f"u{index}", items), query(clock))
        assert response.status_code == 200
        codes = [item["ResultCode"] for item in response.json()["ResultItem"]]
        return time.perf_counter() - started, codes

    async def other() -> float:
        await asyncio.sleep(0.1)  # while the hooks sleep
        started = time.perf_counter()
        response = await post(app, b"", "", method="GET", path="/elsewhere")
        assert response.content == b"inner:/elsewhere"
        return time.perf_counter() - started

    async def scenario() -> tuple[float, list[tuple[float, list[int]]], float]:
        started = time.perf_counter()
        *callbacks, elsewhere = await asyncio.gather(*(one(i) for i in range(50)), other())
        took = time.perf_counter() - started
        release.set()  # before the loop ends, which waits for its worker threads
        return took, callbacks, elsewhere

    try:
        total, callbacks, elsewhere = run(scenario())
    finally:
        release.set()
    assert total < 3.0, total  # fifty deadlines of 0.5 s side by side, not one after another
    assert max(took for took, _ in callbacks) < 2.5
    # Each slow item is decided by the error policy (allow); the spam before it is refused.
    assert {tuple(codes) for _, codes in callbacks} == {(0, 0), (38001, 0)}
    assert elsewhere < 0.3, elsewhere


def test_a_failing_async_observer_is_logged_and_the_answer_is_ok(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = Hooks()
    ran: list[str] = []

    @hooks.on_blocklist_added
    async def first(event: Any) -> None:
        raise RuntimeError("observer down")

    @hooks.on_blocklist_added
    def second(event: Any) -> None:
        ran.append(event.pairs[0].to_account)

    body = {"CallbackCommand": "Sns.CallbackBlackListAdd", **PAIRS}
    with caplog.at_level(logging.ERROR, logger="flask_friendcb.hooks"):
        response = run(
            post(receiver(clock, hooks), body, query(clock, command="Sns.CallbackBlackListAdd"))
        )
    assert response.json() == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}
    assert ran == ["b"]
    assert any("observer" in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_signals_are_sent_with_the_asgi_receiver_as_sender(clock: FrozenClock) -> None:
    app = receiver(clock)
    seen: list[tuple[str, Any]] = []

    def on_event(sender: Any, event: Any) -> None:
        seen.append(("event", sender))

    def on_answer(sender: Any, event: Any, answer: Any) -> None:
        seen.append(("answer", sender))

    def on_relation(sender: Any, event: Any) -> None:
        seen.append(("relation", sender))

    with (
        event_received.connected_to(on_event, sender=app),
        answer_decided.connected_to(on_answer, sender=app),
        relation_changed.connected_to(on_relation, sender=app),
    ):

        async def scenario() -> None:
            await post(app, friend_response_body("bob", ["a"]), query(clock))
            body = {"CallbackCommand": "Sns.CallbackFriendDelete", **PAIRS}
            await post(app, body, query(clock, command="Sns.CallbackFriendDelete"))

        run(scenario())
    assert seen == [("event", app), ("answer", app), ("relation", app)]


def test_the_openapi_route(clock: FrozenClock) -> None:
    app = receiver(clock, openapi_route="/im/openapi.json")

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        got = await post(app, b"", "", method="GET", path="/im/openapi.json")
        head = await post(app, b"", "", method="HEAD", path="/im/openapi.json")
        refused = await post(app, b"", "", method="POST", path="/im/openapi.json")
        return got, head, refused

    got, head, refused = run(scenario())
    assert got.status_code == 200
    assert PATH in got.json()["paths"]
    assert (head.status_code, head.content) == (200, b"")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


# -- the body ----------------------------------------------------------------------------------


class Stream:
    """A ``receive`` that hands out ``body`` in pieces, then, if ``endless``, more pieces
    forever (a 1 GB upload, say), or waits forever (``stall``); counts what was taken."""

    def __init__(
        self,
        body: bytes = b"",
        *,
        piece: int = 1024,
        endless: bool = False,
        stall: bool = False,
        disconnect: bool = False,
    ) -> None:
        self.pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
        if not (self.pieces or endless or stall or disconnect):
            self.pieces = [b""]
        self.piece = piece
        self.endless = endless
        self.stall = stall
        self.disconnect = disconnect
        self.taken = 0
        self.bytes = 0

    async def __call__(self) -> Message:
        self.taken += 1
        if self.pieces:
            chunk = self.pieces.pop(0)
            last = not self.pieces and not (self.endless or self.stall or self.disconnect)
            self.bytes += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": not last}
        if self.endless:
            self.bytes += self.piece
            return {"type": "http.request", "body": b" " * self.piece, "more_body": True}
        if self.disconnect:
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)
        raise AssertionError("never")


def call(
    app: Any, receive: Callable[[], Awaitable[Message]], query_string: str, **headers: str
) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": PATH,
        "root_path": "",
        "query_string": query_string.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    run(app(scope, receive, send))
    start, body = sent
    return start["status"], json.loads(body["body"]), dict(start["headers"])


def test_nothing_is_received_before_authentication(clock: FrozenClock) -> None:
    stream = Stream(json.dumps(friend_response_body()).encode())
    status, answer, _ = call(receiver(clock), stream, query(clock, token="forged"))
    assert (status, answer["ErrorCode"]) == (401, 38902)
    assert stream.taken == 0


def test_a_declared_length_over_the_limit_is_refused_before_reading(clock: FrozenClock) -> None:
    stream = Stream(endless=True)
    app = receiver(clock, max_content_length=LIMIT)
    status, answer, headers = call(app, stream, query(clock), **{"Content-Length": str(10**9)})
    assert (status, answer["ErrorCode"]) == (413, 38914)
    assert stream.taken == 0
    assert headers[b"content-type"] == b"application/json"


def test_a_one_gigabyte_chunked_body_is_refused_at_the_limit_not_buffered(
    clock: FrozenClock,
) -> None:
    stream = Stream(endless=True, piece=64 * 1024)
    app = receiver(clock)  # the default limit, 1 MiB
    status, answer, _ = call(app, stream, query(clock), **{"Transfer-Encoding": "chunked"})
    assert (status, answer["ErrorCode"]) == (413, 38914)
    # One piece past the limit, not a gigabyte.
    assert stream.bytes == (1 << 20) + 64 * 1024
    assert stream.taken == 17


def test_a_chunked_body_in_many_pieces_is_read(clock: FrozenClock) -> None:
    body = json.dumps(friend_response_body("bob", [f"user{i}" for i in range(40)])).encode()
    stream = Stream(body, piece=7)
    status, answer, _ = call(
        receiver(clock), stream, query(clock), **{"Transfer-Encoding": "chunked"}
    )
    assert status == 200
    assert len(answer["ResultItem"]) == 40
    assert stream.taken == len(stream.pieces) + -(-len(body) // 7)


def test_a_body_of_exactly_the_limit_is_read(clock: FrozenClock) -> None:
    body = json.dumps(friend_response_body("bob", ["alice"])).encode()
    body += b" " * (LIMIT - len(body))
    app = receiver(clock, max_content_length=LIMIT)
    for headers in ({"Transfer-Encoding": "chunked"}, {"Content-Length": str(LIMIT)}):
        status, _, _ = call(app, Stream(body, piece=1000), query(clock), **headers)
        assert status == 200
    status, answer, _ = call(
        app, Stream(body + b" "), query(clock), **{"Transfer-Encoding": "chunked"}
    )
    assert (status, answer["ErrorCode"]) == (413, 38914)


def test_a_client_that_stops_sending_costs_the_body_timeout(clock: FrozenClock) -> None:
    body = json.dumps(friend_response_body()).encode()
    app = receiver(clock, body_timeout=0.3)
    started = time.perf_counter()
    status, answer, _ = call(app, Stream(body[:10], stall=True), query(clock))
    took = time.perf_counter() - started
    assert (status, answer["ErrorCode"]) == (400, 38915)
    assert answer["ErrorInfo"] == "the body did not arrive within 0.3 s"
    assert 0.3 <= took < 1.5


def test_a_client_that_goes_away_while_sending(clock: FrozenClock) -> None:
    body = json.dumps(friend_response_body()).encode()
    status, answer, _ = call(receiver(clock), Stream(body[:10], disconnect=True), query(clock))
    assert (status, answer["ErrorCode"]) == (400, 38915)


@pytest.mark.parametrize("digits", [19, 5000])
def test_a_content_length_of_many_digits_is_refused_before_reading(
    clock: FrozenClock, digits: int
) -> None:
    stream = Stream(endless=True)
    length = "9" * digits
    status, answer, _ = call(receiver(clock), stream, query(clock), **{"Content-Length": length})
    assert (status, answer["ErrorCode"]) == (413, 38914)
    assert stream.taken == 0


@pytest.mark.parametrize("value", ["abc", "-1", "1, 2"])
def test_an_unusable_content_length_reads_within_the_limit(clock: FrozenClock, value: str) -> None:
    body = json.dumps(friend_response_body("bob", ["alice"])).encode()
    status, _, _ = call(receiver(clock), Stream(body), query(clock), **{"Content-Length": value})
    assert status == 200


def test_a_receive_that_raises_is_a_protocol_answer(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> Message:
        raise OSError("the socket broke")

    status, answer, _ = call(receiver(clock), broken, query(clock))
    assert (status, answer["ErrorCode"]) == (400, 38915)
    assert answer["ErrorInfo"] == "the body could not be read"


def test_no_secret_reaches_the_log_or_the_answer(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-abcdef"
    signed = query(clock, token=wrong)
    sign = dict(pair.split("=") for pair in signed.split("&"))["Sign"]
    with caplog.at_level(logging.DEBUG, logger="flask_friendcb"):
        status, answer, _ = call(receiver(clock), Stream(b"{}"), signed)
        call(receiver(clock), Stream(b"{}"), query(clock))
    assert status == 401
    text = caplog.text + json.dumps(answer)
    assert caplog.records
    for secret in (TOKEN, wrong, sign):
        assert secret not in text


# -- the library never fails the request -------------------------------------------------------


def test_a_bug_in_the_library_is_a_protocol_shaped_500(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = receiver(clock)

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.handler, "route", broken)
    with caplog.at_level(logging.ERROR, logger="flask_friendcb"):
        status, answer, _ = call(app, Stream(b"{}"), query(clock))
    assert (status, answer["ErrorCode"]) == (500, 38930)
    assert "a bug" not in json.dumps(answer)


async def _aiter(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def test_a_streamed_request_through_httpx_is_read(clock: FrozenClock) -> None:
    # httpx sends an async iterator without Content-Length: chunked.
    body = json.dumps(friend_response_body("bob", ["alice", "bob2"])).encode()
    pieces = [body[i : i + 5] for i in range(0, len(body), 5)]

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=receiver(clock)), base_url="http://t"
        ) as client:
            return await client.post(f"{PATH}?{query(clock)}", content=_aiter(pieces))

    response = run(scenario())
    assert response.status_code == 200
    assert len(response.json()["ResultItem"]) == 2


def test_metrics_count_the_asgi_receivers_answers_by_command(clock: FrozenClock) -> None:
    from prometheus_client import REGISTRY

    def value(**labels: str) -> float:
        return REGISTRY.get_sample_value("friendcb_callbacks_total", labels) or 0.0

    ok = {"status": "200", "error_code": "0", "command": "Sns.CallbackPrevFriendResponse"}
    refused = {"status": "401", "error_code": "38902", "command": ""}
    before = value(**ok), value(**refused)
    app = receiver(clock, metrics=True)

    async def scenario() -> None:
        await post(app, friend_response_body("bob", ["a"]), query(clock))
        await post(app, friend_response_body("bob", ["a"]), query(clock))
        await post(app, friend_response_body("bob", ["a"]), query(clock, token="wrong"))

    run(scenario())
    assert (value(**ok) - before[0], value(**refused) - before[1]) == (2, 1)


# -- hostile input: the same answer as the WSGI middleware, whatever is sent --------------------

QUERY_PARTS = st.sampled_from(
    [
        "SdkAppid=1400000000",
        "SdkAppid=1",
        "CallbackCommand=Sns.CallbackPrevFriendResponse",
        "CallbackCommand=Sns.CallbackFriendDelete",
        "RequestTime=abc",
        "Sign=" + "0" * 64,
        "%ff=%fe",
        "a=%E4%BD%A0",
        "",
    ]
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda value: json.dumps(value).encode()),
)


@given(
    parts=st.lists(QUERY_PARTS, max_size=6),
    signed=st.booleans(),
    body=BODIES,
    method=st.sampled_from(["POST", "POST", "GET", "DELETE"]),
)
def test_hostile_requests_get_the_middlewares_answer(
    parts: list[str], signed: bool, body: bytes, method: str
) -> None:
    clock = FrozenClock()
    hooks = shared_hooks()
    settings = {"clock": clock, "max_content_length": 256}
    asgi = FriendCallbackASGI(
        Inner(), path=PATH, sdkappid=SDKAPPID, token=TOKEN, hooks=hooks.hooks, **settings
    )
    wsgi = Receiver(
        "middleware",
        FriendCallbackMiddleware(
            lambda environ, start_response: [],
            path=PATH,
            sdkappid=SDKAPPID,
            token=TOKEN,
            hooks=hooks.hooks,
            **settings,
        ),
        hooks.hooks,
        clock,
    )
    q = "&".join([query(clock) if signed else "", *parts]).strip("&")
    got = run(post(asgi, body, q, method=method))
    expected = wsgi.post(body, q, method=method)
    assert (got.status_code, got.content) == (expected.status, expected.body)
    assert got.status_code != 500
