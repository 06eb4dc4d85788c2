"""The pytest plugin, as a user meets it: installed by entry point, fixtures in a fresh run."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import pytest
from flask import Flask
from flask_friendcb import FriendCallbackBlueprint, Reject

friendcb = FriendCallbackBlueprint()

@friendcb.on_friend_response
def banned(item, event):
    if item.to_account == "banned-user":
        return Reject(38001, "banned")

@pytest.fixture
def app(friendcb_config):
    app = Flask("user_app")
    app.config.update(friendcb_config)
    app.register_blueprint(friendcb, url_prefix="/im")
    return app

def test_banned_is_rejected(friendcb_client, friendcb_body, friendcb_item):
    body = friendcb_body("bob", ["alice", friendcb_item("banned-user", "Response_Action_Agree")])
    response = friendcb_client.callback(body)
    assert [i["ResultCode"] for i in response.json["ResultItem"]] == [0, 38001]

def test_clock_is_frozen_and_movable(friendcb_client, friendcb_clock):
    signed_now = friendcb_clock.now
    assert friendcb_client.callback(request_time=signed_now).status_code == 200
    friendcb_clock.advance(61)
    assert friendcb_client.callback(request_time=signed_now).status_code == 401
    assert friendcb_client.callback().status_code == 200

def test_this_one_fails_on_purpose(friendcb_client):
    assert friendcb_client.callback(token="wrong").status_code == 200
"""


def test_fixtures_work_in_a_users_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    # A subprocess, so the plugin comes from the installed entry point, not from this suite.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_this_one_fails_on_purpose*", "*assert 401 == 200*"])


def test_friendcb_client_without_an_app_fixture_says_what_is_missing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_user="def test_x(friendcb_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*friendcb_client needs an `app` fixture*"])
