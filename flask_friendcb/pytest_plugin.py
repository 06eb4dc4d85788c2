"""pytest fixtures for testing an app's friend-response hooks; a pytest plugin, loaded
automatically once flask-friendcb is installed.

Define an ``app`` fixture that builds your app with ``friendcb_config`` (the convention of
pytest-flask), then use the fixtures::

    @pytest.fixture
    def app(friendcb_config):
        return create_app(friendcb_config)

    def test_banned_requester_is_rejected(friendcb_client, friendcb_body):
        response = friendcb_client.callback(friendcb_body("bob", ["banned-user"]))
        assert response.json["ResultItem"][0]["ResultCode"] == 38001

    def test_a_replayed_callback_is_refused(friendcb_client, friendcb_clock):
        friendcb_clock.advance(61)
        assert friendcb_client.callback(request_time=friendcb_clock.now - 61).status_code == 401
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from .testing import (
    FriendCallbackClient,
    FrozenClock,
    friend_response_body,
    response_item,
    signed_client,
)

#: The SDKAppID of ``friendcb_config``.
TEST_SDKAPPID = 1400000000
#: The token of ``friendcb_config``.
TEST_TOKEN = "friendcb-test-token"  # noqa: S105 (a fixture value, not a secret)


@pytest.fixture
def friendcb_clock() -> FrozenClock:
    """A clock frozen at the real time the test starts; ``friendcb_config`` uses it."""
    return FrozenClock()


@pytest.fixture
def friendcb_config(friendcb_clock: FrozenClock) -> dict[str, Any]:
    """``FRIENDCB_*`` settings for a test app: a test SdkAppid and token, the frozen clock."""
    return {
        "FRIENDCB_SDKAPPID": TEST_SDKAPPID,
        "FRIENDCB_TOKEN": TEST_TOKEN,
        "FRIENDCB_CLOCK": friendcb_clock,
    }


@pytest.fixture
def friendcb_client(request: pytest.FixtureRequest) -> FriendCallbackClient:
    """A test client of your ``app`` fixture that posts signed callbacks
    (:meth:`FriendCallbackClient.callback`)."""
    try:
        app = request.getfixturevalue("app")
    except pytest.FixtureLookupError:
        raise pytest.UsageError(
            "friendcb_client needs an `app` fixture returning your Flask app"
        ) from None
    if not isinstance(app, Flask):
        raise pytest.UsageError(f"the `app` fixture must return a Flask app, got {app!r}")
    return signed_client(app)


@pytest.fixture
def friendcb_body() -> Callable[..., dict[str, Any]]:
    """Builds friend-response bodies: :func:`flask_friendcb.testing.friend_response_body`."""
    return friend_response_body


@pytest.fixture
def friendcb_item() -> Callable[..., dict[str, Any]]:
    """Builds items of a body: :func:`flask_friendcb.testing.response_item`."""
    return response_item


@pytest.fixture
def friendcb_asgi_client(request: pytest.FixtureRequest) -> Any:
    """A :class:`~flask_friendcb.testing.ASGICallbackClient` of your ``asgi_app`` fixture (an
    ASGI application with a :class:`~flask_friendcb.asgi.FriendCallbackASGI` in it) that posts
    signed callbacks in process: ``await friendcb_asgi_client.callback(...)``, from an async
    test (``@pytest.mark.anyio``, or your async plugin's marker). Needs httpx."""
    import asyncio

    from .testing import asgi_client

    try:
        app = request.getfixturevalue("asgi_app")
    except pytest.FixtureLookupError:
        raise pytest.UsageError(
            "friendcb_asgi_client needs an `asgi_app` fixture returning your ASGI app"
        ) from None
    try:
        client = asgi_client(app)
    except RuntimeError as error:
        raise pytest.UsageError(f"the `asgi_app` fixture: {error}") from None
    yield client
    # The client over the ASGI transport holds no connection: closing it needs no test loop.
    asyncio.run(client.aclose())
