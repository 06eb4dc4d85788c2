"""example_app tested the way a user tests their own app: with the pytest plugin's fixtures
(friendcb_config, friendcb_client, friendcb_clock, friendcb_body, friendcb_item)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app import PolicyCode, create_app, get_service
from example_app.policies import get_policies
from flask_friendcb.testing import FriendCallbackClient, FrozenClock

Body = Callable[..., dict[str, Any]]


@pytest.fixture
def app(friendcb_config: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            **friendcb_config,
            "EXAMPLE_DATABASE": str(tmp_path / "db.sqlite3"),
            "EXAMPLE_VELOCITY_LIMIT": "2",
            "EXAMPLE_VELOCITY_WINDOW": "1",
        }
    )
    yield app
    get_service(app).store.close()


def codes(client: FriendCallbackClient, body: dict[str, Any]) -> list[int]:
    response = client.callback(body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["ResultCode"] for item in response.json["ResultItem"]]


def test_blocklisted_requester(
    app: Flask, friendcb_client: FriendCallbackClient, friendcb_body: Body, friendcb_item: Body
) -> None:
    get_policies(app).blocklist.add("spammer", "reported")
    body = friendcb_body("bob", ["spammer", friendcb_item("spammer", "Response_Action_Reject")])
    assert codes(friendcb_client, body) == [PolicyCode.BLOCKLISTED, 0]


def test_links_in_remarks(
    friendcb_client: FriendCallbackClient, friendcb_body: Body, friendcb_item: Body
) -> None:
    full_width_www = "\uff57" * 3
    body = friendcb_body(
        "bob", [friendcb_item("alice", remark=f"see {full_width_www}.example.com")]
    )
    assert codes(friendcb_client, body) == [PolicyCode.CONTENT]


def test_velocity_window_moves(
    friendcb_client: FriendCallbackClient, friendcb_body: Body, friendcb_clock: FrozenClock
) -> None:
    def accept(requester: str) -> int:
        body = friendcb_body("bob", [requester], event_time_ms=int(friendcb_clock.now * 1000))
        return codes(friendcb_client, body)[0]

    assert [accept(f"user{n}") for n in range(3)] == [0, 0, PolicyCode.VELOCITY]
    # The velocity counts are kept by the shared storage, on the real clock.
    time.sleep(1.1)
    assert accept("user3") == 0


def test_a_replayed_callback_is_refused(
    friendcb_client: FriendCallbackClient, friendcb_clock: FrozenClock
) -> None:
    signed_at = friendcb_clock.now
    friendcb_clock.advance(61)
    response = friendcb_client.callback(request_time=signed_at)
    assert response.status_code == 401
    assert "61 s behind" in response.json["ErrorInfo"]
