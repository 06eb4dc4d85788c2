"""The ready policies from async code: ``policy.aio`` is an ``async def`` hook. On Redis it
waits through redis.asyncio, on the loop, with no worker thread; on LMDB it takes the entry on
the loop (microseconds, in shared memory); on the other storages it runs the check in a worker
thread. ``on_error`` and ``timeout`` hold on both paths, against a real
Redis stopped (SIGSTOP) or gone."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from devtools.signing import PATH, SDKAPPID, TOKEN, FrozenClock
from flask_friendcb import FriendResponseEvent, FriendResponseItem, Reject, ResponseAction
from flask_friendcb.asgi import FriendCallbackASGI
from flask_friendcb.policies import BlocklistPolicy, RateLimitPolicy
from flask_friendcb.policies.base import UNCHECKED_INFO
from flask_friendcb.testing import callback_query, friend_response_body
from tests.services import RedisServer

from .servers import free_port

ACCEPT = ResponseAction.AGREE_AND_ADD


def event(from_account: str = "responder") -> FriendResponseEvent:
    return FriendResponseEvent(
        "1400000000", "Sns.CallbackPrevFriendResponse", "", from_account, 0, (), client_ip="ip"
    )


def item(to_account: str = "requester", action: ResponseAction = ACCEPT) -> FriendResponseItem:
    return FriendResponseItem(to_account, action)


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


def test_the_blocklist_from_async_code(storage_uri: str) -> None:
    policy = BlocklistPolicy(storage_uri=storage_uri)
    policy.add("mallory")

    async def scenario() -> list[Reject | None]:
        try:
            return [
                await policy.aio(item("mallory"), event()),
                await policy.aio(item("alice"), event("mallory")),
                await policy.aio(item("alice"), event()),
            ]
        finally:
            await policy.aclose()

    assert asyncio.run(scenario()) == [
        Reject(38001, "the requester is blocked"),
        Reject(38001, "the responder is blocked"),
        None,
    ]
    policy.close()


@pytest.mark.parametrize("kind", ["storage", "lmdb"])
def test_the_rate_limit_from_async_code_counts_with_the_sync_path(
    kind: str, storage_uri: str, tmp_path: Any
) -> None:
    uri = f"lmdb:///{tmp_path}/windows.lmdb" if kind == "lmdb" else storage_uri
    policy = RateLimitPolicy("3/minute", storage_uri=uri)
    assert policy(item(), event("alice")) is None  # one counted by the plain hook

    async def scenario() -> list[Reject | None]:
        try:
            return [await policy.aio(item(), event("alice")) for _ in range(3)]
        finally:
            await policy.aclose()

    assert asyncio.run(scenario()) == [None, None, Reject(38002, "more than 3 per minute")]
    assert policy.remaining("alice") == 0
    assert policy.remaining("bob") == 3


def test_on_redis_the_loop_waits_without_a_thread(redis_url: str) -> None:
    policy = BlocklistPolicy(storage_uri=redis_url)
    threads: set[int] = set()
    storage: Any = policy.storage
    original = storage.first_listed_async

    async def watched(accounts: Any) -> Any:
        threads.add(threading.get_ident())
        return await original(accounts)

    storage.first_listed_async = watched

    async def scenario() -> int:
        await policy.aio(item(), event())
        await policy.aclose()
        return threading.get_ident()

    assert threads == {asyncio.run(scenario())}
    # The plain path never touches the async client.
    storage.first_listed_async = original
    assert policy(item(), event()) is None


def test_on_lmdb_the_entry_is_taken_on_the_loop(tmp_path: Any) -> None:
    policy = RateLimitPolicy("3/minute", storage_uri=f"lmdb:///{tmp_path}/windows.lmdb")
    threads: set[int] = set()
    storage: Any = policy.storage
    original = storage.acquire_entry

    def watched(*args: Any, **kwargs: Any) -> Any:
        threads.add(threading.get_ident())
        return original(*args, **kwargs)

    storage.acquire_entry = watched

    async def scenario() -> int:
        assert await policy.aio(item(), event()) is None
        return threading.get_ident()

    assert threads == {asyncio.run(scenario())}


def test_aio_is_an_async_hook_that_watches_the_policys_actions() -> None:
    receiver = FriendCallbackASGI(_nothing, path=PATH, sdkappid=SDKAPPID, token=TOKEN)
    limit = RateLimitPolicy("1/minute")
    hook = limit.aio
    receiver.on_friend_response(hook)
    (registered,) = receiver.hooks
    assert registered.is_async
    assert registered.actions == RateLimitPolicy.actions
    assert repr(hook) == repr(limit)


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not reached")


@pytest.mark.parametrize("on_error", ["allow", "reject"])
def test_a_redis_that_is_gone_is_decided_by_on_error(on_error: Any) -> None:
    gone = f"redis://127.0.0.1:{free_port()}/0"
    blocklist = BlocklistPolicy(storage_uri=gone, on_error=on_error)
    limit = RateLimitPolicy("5/minute", storage_uri=gone, on_error=on_error)
    unchecked = {
        "allow": (None, None),
        "reject": (Reject(38001, UNCHECKED_INFO), Reject(38002, UNCHECKED_INFO)),
    }[on_error]

    async def scenario() -> tuple[Any, Any]:
        try:
            return await blocklist.aio(item(), event()), await limit.aio(item(), event())
        finally:
            await blocklist.aclose()
            await limit.aclose()

    assert asyncio.run(scenario()) == unchecked
    assert blocklist.guard.down
    assert limit.guard.down


def test_a_hung_redis_costs_the_timeout_on_the_async_path(
    redis_server: RedisServer, redis_url: str
) -> None:
    blocklist = BlocklistPolicy(storage_uri=redis_url, timeout=0.25, on_error="reject")
    limit = RateLimitPolicy("5/minute", storage_uri=redis_url, timeout=0.25, on_error="reject")
    assert redis_server.process is not None

    async def scenario() -> list[tuple[float, Any]]:
        got = []
        try:
            # Connected first, then the server stops answering.
            assert await blocklist.aio(item(), event()) is None
            assert await limit.aio(item(), event()) is None
            redis_server.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            for check in (blocklist.aio, limit.aio, blocklist.aio):
                started = time.monotonic()
                decision = await check(item(), event())
                got.append((time.monotonic() - started, decision))
        finally:
            redis_server.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            await blocklist.aclose()
            await limit.aclose()
        return got

    (first, second, third) = asyncio.run(scenario())
    blocklist.close()
    assert first[1] == Reject(38001, UNCHECKED_INFO)
    assert second[1] == Reject(38002, UNCHECKED_INFO)
    assert first[0] < 1.0  # 0.25 s and the host's noise
    assert second[0] < 1.0
    assert third[1] == Reject(38001, UNCHECKED_INFO)
    assert third[0] < 0.2  # known down: decided at once


def test_the_policies_decide_through_the_asgi_receiver(redis_url: str) -> None:
    clock = FrozenClock(time.time())
    receiver = FriendCallbackASGI(_nothing, path=PATH, sdkappid=SDKAPPID, token=TOKEN, clock=clock)
    blocklist = BlocklistPolicy(storage_uri=redis_url)
    blocklist.add("mallory")
    limit = RateLimitPolicy("2/minute", storage_uri=redis_url)
    receiver.on_friend_response(blocklist.aio)
    receiver.on_friend_response(limit)  # a plain hook beside: in its worker thread
    body = friend_response_body("bob", ["mallory", "a", "b", "c"])
    query = callback_query(SDKAPPID, token=TOKEN, request_time=int(clock()))

    async def scenario() -> Any:
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=receiver), base_url="http://t"
            ) as client:
                response = await client.post(f"{PATH}?{query}", content=json.dumps(body))
                return response.json()
        finally:
            await blocklist.aclose()

    answer = asyncio.run(scenario())
    blocklist.close()
    limit.storage.storage.connection_pool.disconnect()  # type: ignore[attr-defined]
    assert [r["ResultCode"] for r in answer["ResultItem"]] == [38001, 0, 0, 38002]
