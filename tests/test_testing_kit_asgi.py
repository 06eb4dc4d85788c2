"""The testing kit against an ASGI app: ``asgi_client`` over httpx's ASGI transport (no
server), finding the receiver in each framework's app, and the ``friendcb_asgi_client`` fixture
of the pytest plugin in a user's suite."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devtools.asgi_apps import FRAMEWORKS
from devtools.signing import PATH, SDKAPPID, TOKEN, FrozenClock
from flask_friendcb.asgi import FriendCallbackASGI
from flask_friendcb.testing import asgi_client, friend_response_body

pytest_plugins = ["pytester"]

DECIDED = [38001, 38002, 0]


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_the_client_finds_the_receiver_in_each_frameworks_app(framework: str) -> None:
    app = FRAMEWORKS[framework]()

    async def scenario() -> tuple[list[int], Any]:
        async with asgi_client(app) as client:
            response = await client.callback(friend_response_body("bob", ["spam1", "bot2", "a"]))
            assert response.status_code == 200
            hello = await client.http.get("/hello")
            return [item["ResultCode"] for item in response.json()["ResultItem"]], hello.json()

    codes, hello = asyncio.run(scenario())
    assert codes == DECIDED
    assert hello == {"app": framework}


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def test_an_app_without_a_receiver_is_named_as_such() -> None:
    with pytest.raises(RuntimeError, match="no FriendCallbackASGI found"):
        asgi_client(_nothing)


def test_the_client_signs_with_the_receivers_token_and_clock() -> None:
    clock = FrozenClock()
    app = FriendCallbackASGI(
        _nothing, path=PATH, sdkappid=SDKAPPID, token=[TOKEN, "older-token"], clock=clock
    )

    async def scenario() -> list[tuple[int, int]]:
        got = []
        async with asgi_client(app) as client:
            for call in (
                client.callback(),
                client.callback(token="older-token"),
                client.callback(token="wrong"),
                client.callback(signed=False),
                client.callback(request_time=clock.now - 61),
                client.callback(b"not json"),
                client.callback(path="/elsewhere/callback", ClientIP="x"),
            ):
                try:
                    response = await call
                except AssertionError:
                    got.append((0, 0))  # the wrapped app was reached
                    continue
                got.append((response.status_code, response.json()["ErrorCode"]))
        return got

    assert asyncio.run(scenario()) == [
        (200, 0),
        (200, 0),
        (401, 38902),
        (401, 38901),
        (401, 38905),
        (400, 38910),
        (0, 0),
    ]


USER_TESTS = """
import pytest
from fastapi import FastAPI
from flask_friendcb import Reject
from flask_friendcb.asgi import FriendCallbackASGI

@pytest.fixture
def asgi_app(friendcb_clock):
    receiver = FriendCallbackASGI(
        FastAPI(), path="/im/callback", sdkappid=1400000000, token="t0ken", clock=friendcb_clock
    )

    @receiver.on_friend_response
    async def banned(item, event):
        if item.to_account == "banned-user":
            return Reject(38001, "banned")

    return receiver

@pytest.mark.anyio
async def test_banned_is_rejected(friendcb_asgi_client, friendcb_body):
    response = await friendcb_asgi_client.callback(friendcb_body("bob", ["alice", "banned-user"]))
    assert [i["ResultCode"] for i in response.json()["ResultItem"]] == [0, 38001]

@pytest.mark.anyio
async def test_this_one_fails_on_purpose(friendcb_asgi_client):
    assert (await friendcb_asgi_client.callback(token="wrong")).status_code == 200
"""


def test_the_asgi_fixture_works_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_this_one_fails_on_purpose*", "*assert 401 == 200*"])


def test_the_asgi_fixture_without_an_asgi_app_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_it(friendcb_asgi_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*friendcb_asgi_client needs an `asgi_app` fixture*"])
    assert result.ret != 0
