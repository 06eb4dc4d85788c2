"""example_app sees the whole friend flow: its policies at the request step, requests and
after-callbacks in the audit log (one row per item or pair, with its ``command``), each pair's
story, and the "blocked by users" panel's API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from example_app import PolicyCode, get_service
from example_app.settings import ExampleSettings
from flask_friendcb import ConfigError
from flask_friendcb.testing import (
    blocklist_added_body,
    blocklist_removed_body,
    friend_add_item,
    friend_added_body,
    friend_deleted_body,
)

from .conftest import NOW, ExampleService

BuildExample = Callable[..., ExampleService]
REQUEST = "Sns.CallbackPrevFriendAdd"
RESPONSE = "Sns.CallbackPrevFriendResponse"


def rows(service: ExampleService) -> list[dict[str, Any]]:
    """Every row of the audit log, oldest first."""
    return list(reversed(service.store.latest(limit=1000)))


def api(service: ExampleService, path: str) -> tuple[int, Any]:
    response = service.app.test_client().get(path)
    return response.status_code, response.get_json()


# -- policies at the request step -------------------------------------------------------------


def test_a_blocklisted_sender_cannot_send_a_request(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("farm01", "spam")
    assert service.request("farm01", "alice", "bob") == [
        (PolicyCode.BLOCKLISTED, "the requester is blocked"),
        (PolicyCode.BLOCKLISTED, "the requester is blocked"),
    ]
    # To a blocked account is not from one: the sender decides.
    assert service.request_codes("alice", "farm01") == [0]
    assert service.blocklist.remove("farm01")
    assert service.request_codes("farm01", "alice") == [0]


@pytest.mark.parametrize(
    ("item", "info"),
    [
        (friend_add_item("a", wording="see www.example.com"), "the wording holds a link"),
        (friend_add_item("a", wording="x" * 257), "the wording is over 256 bytes"),
        (friend_add_item("a", wording="好" * 86), "the wording is over 256 bytes"),  # 258 bytes
        (friend_add_item("a", wording="mail me: bot@example.com"), "the wording holds an e-mail"),
        (friend_add_item("a", wording="play CASINO now"), "the wording holds a banned word"),
        (friend_add_item("a", remark="r" * 97), "the remark is over 96 bytes"),
        (friend_add_item("a", group_name="g" * 31), "the friend group is over 30 bytes"),
        (friend_add_item("a", group_name="casino"), "the friend group holds a banned word"),
    ],
    ids=["link", "257-ascii", "258-cjk", "email", "banned", "remark", "group", "group-word"],
)
def test_the_content_policy_reads_a_requests_wording_remark_and_group(
    example: BuildExample, item: dict[str, Any], info: str
) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino")
    ((code, answer),) = service.request("farm01", item)
    assert code == PolicyCode.CONTENT
    assert answer.startswith(info)
    assert "casino" not in answer.lower()
    assert "example.com" not in answer


@pytest.mark.parametrize(
    "item",
    [
        friend_add_item("a", wording="x" * 256),
        friend_add_item("a", wording="好" * 85),  # 255 bytes
        friend_add_item("a", wording="Hi, we met at the conference", remark="r" * 96),
        friend_add_item("a", group_name="g" * 30),
    ],
    ids=["256-ascii", "255-cjk", "everyday", "30-group"],
)
def test_a_wording_within_the_limits_passes(example: BuildExample, item: dict[str, Any]) -> None:
    service = example(EXAMPLE_BANNED_WORDS="casino")
    assert service.request_codes("alice", item) == [0]


def test_requests_sent_are_counted_apart_from_acceptances(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT=2)
    assert service.request_codes("farm01", "a", "b", "c") == [0, 0, PolicyCode.VELOCITY]
    assert service.request("farm01", "d") == [(PolicyCode.VELOCITY, "more than 2 requests in 60 s")]
    # farm01's acceptances have their own allowance; another sender's requests theirs.
    assert service.codes("farm01", "x", "y") == [0, 0]
    assert service.request_codes("alice", "a") == [0]


def test_a_refused_request_does_not_use_up_the_allowance(example: BuildExample) -> None:
    service = example(EXAMPLE_VELOCITY_LIMIT=1)
    spam = friend_add_item("a", wording="www.example.com")
    assert service.request_codes("bob", spam, "alice", "carol") == [
        PolicyCode.CONTENT,
        0,
        PolicyCode.VELOCITY,
    ]


# -- the audit log --------------------------------------------------------------------------


def test_requests_and_after_callbacks_are_audited_one_row_each(example: BuildExample) -> None:
    service = example()
    service.request("bob", friend_add_item("alice", wording="hi", remark="Al", group_name="W"))
    service.callback("alice", "bob")
    service.after(friend_added_body([("alice", "bob", "bob"), ("bob", "alice", "bob")]))
    service.after(friend_deleted_body([("alice", "bob")]))
    service.after(blocklist_added_body([("alice", "bob")]))
    service.after(blocklist_removed_body([("alice", "bob")]))
    logged = rows(service)
    assert [
        (r["command"], r["from_account"], r["to_account"], r["action"], r["outcome"])
        for r in logged
    ] == [
        (REQUEST, "bob", "alice", "Add_Type_Both", "no_decision"),
        (RESPONSE, "alice", "bob", "Response_Action_AgreeAndAdd", "no_decision"),
        ("Sns.CallbackFriendAdd", "alice", "bob", "friend_response", "observed"),
        ("Sns.CallbackFriendAdd", "bob", "alice", "friend_response", "observed"),
        ("Sns.CallbackFriendDelete", "alice", "bob", "", "observed"),
        ("Sns.CallbackBlackListAdd", "alice", "bob", "", "observed"),
        ("Sns.CallbackBlackListDelete", "alice", "bob", "", "observed"),
    ]
    request = logged[0]
    assert (request["wording"], request["remark"], request["tag_name"]) == ("hi", "Al", "W")
    assert {r["result_code"] for r in logged[2:]} == {0}
    # The counters count decided items only: one request let through, one acceptance.
    assert service.store.stats(0) == {"accepted": 1, "declined": 0, "requested": 1, "blocked": 0}


def test_a_blocked_request_is_counted_blocked_and_charted(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("farm01")
    service.request("farm01", "alice")
    service.after(blocklist_added_body([("alice", "farm01")]))
    assert service.store.stats(0)["blocked"] == 1
    status, chart = api(service, "/api/chart")
    assert status == 200
    blocked = [minute["blocked"] for minute in chart["minutes"] if minute["blocked"]]
    assert blocked == [{"request_blocklist": 1}]


def test_hostile_requests_and_pairs_are_stored(example: BuildExample) -> None:
    service = example()
    hostile = "\x00<script>alert(1)</script>\ud800" + "é" * 5000
    service.request(
        "bob", friend_add_item("x" * 5000, wording=hostile, remark=hostile, group_name=hostile)
    )
    service.after(blocklist_added_body([(hostile, hostile)]))
    request, pair = rows(service)
    assert (
        request["wording"]
        == request["remark"]
        == hostile.replace("\x00", "\ufffd").replace("\ud800", "\ufffd")
    )
    assert pair["from_account"] == pair["to_account"] == request["wording"]


def test_the_export_has_the_command_of_every_row(example: BuildExample) -> None:
    service = example()
    service.request("bob", "alice")
    service.callback("alice", "bob")
    service.after(friend_added_body([("alice", "bob", "bob")]))
    get_service(service.app).drainer.sync()
    result = service.app.test_cli_runner().invoke(args=["audit", "export"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(line["command"], line["from_account"]) for line in lines] == [
        (REQUEST, "bob"),
        (RESPONSE, "alice"),
        ("Sns.CallbackFriendAdd", "alice"),
    ]
    assert lines[2]["event_time_ms"] == 0  # an after-callback without EventTime
    csv = service.app.test_cli_runner().invoke(args=["audit", "export", "--format", "csv"])
    assert csv.output.splitlines()[0].endswith(",command")


# -- the story of a pair ---------------------------------------------------------------------


def test_a_pairs_story_reads_requested_responded_added(example: BuildExample) -> None:
    service = example()
    service.request("bob", "alice")
    service.callback("carol", "dan")  # another pair
    service.callback("alice", "bob")
    service.after(friend_added_body([("alice", "bob", "bob")]))
    service.after(blocklist_added_body([("alice", "bob")]))
    status, story = api(service, "/api/story?a=alice&b=bob")
    assert status == 200
    assert story["stages"] == ["requested", "accepted", "added", "blocklisted"]
    assert [row["step"] for row in story["rows"]] == ["request", "response", "after", "after"]
    # In either order.
    assert api(service, "/api/story?a=bob&b=alice")[1]["stages"] == story["stages"]


def test_a_story_stopped_at_the_request_step(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("farm01")
    service.request("farm01", "alice")
    story = api(service, "/api/story?a=farm01&b=alice")[1]
    assert story["stages"] == ["request blocked"]
    assert story["rows"][0]["policy"] == "request_blocklist"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a=alice", "b: an account cannot be empty"),
        ("b=alice", "a: an account cannot be empty"),
        ("a=alice&b=" + "x" * 33, "b: an account is at most 32 bytes"),
        ("a=" + "好" * 11 + "&b=bob", "a: an account is at most 32 bytes of UTF-8; this one is 33"),
    ],
)
def test_a_bad_story_query_is_a_clear_400(example: BuildExample, query: str, message: str) -> None:
    status, body = api(example(), "/api/story?" + query)
    assert status == 400
    assert message in json.dumps(body, ensure_ascii=False)


# -- blocked by users ------------------------------------------------------------------------


def test_an_account_blocklisted_by_three_users_in_an_hour_is_reported(
    example: BuildExample,
) -> None:
    service = example()
    service.after(blocklist_added_body([("u1", "spammer"), ("u2", "spammer"), ("u1", "other")]))
    # The same user twice counts once.
    service.after(blocklist_added_body([("u2", "spammer"), ("u2", "other")]))
    status, body = api(service, "/api/reported")
    assert status == 200
    assert (body["threshold"], body["window_s"], body["accounts"]) == (3, 3600, [])
    service.after(blocklist_added_body([("u3", "spammer")]))
    # Removals and other commands do not count.
    service.after(blocklist_removed_body([("u3", "other")]))
    service.after(friend_deleted_body([("u4", "other")]))
    accounts = api(service, "/api/reported")[1]["accounts"]
    assert accounts == [{"account": "spammer", "users": 3, "last_ms": NOW * 1000, "blocked": False}]
    service.blocklist.add("spammer", "reported by users")
    assert api(service, "/api/reported")[1]["accounts"][0]["blocked"] is True


def test_reports_older_than_the_window_do_not_count(example: BuildExample) -> None:
    service = example(EXAMPLE_REPORT_THRESHOLD=2, EXAMPLE_REPORT_WINDOW=60)
    service.after(blocklist_added_body([("u1", "spammer")]))
    service.clock.now += 61
    service.after(blocklist_added_body([("u2", "spammer")]))
    assert api(service, "/api/reported")[1]["accounts"] == []
    service.after(blocklist_added_body([("u3", "spammer")]))
    assert [a["users"] for a in api(service, "/api/reported")[1]["accounts"]] == [2]


def test_the_most_reported_come_first(example: BuildExample) -> None:
    service = example(EXAMPLE_REPORT_THRESHOLD=1)
    service.after(blocklist_added_body([("u1", "b"), ("u2", "b"), ("u1", "a")]))
    accounts = api(service, "/api/reported")[1]["accounts"]
    assert [(a["account"], a["users"]) for a in accounts] == [("b", 2), ("a", 1)]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("EXAMPLE_REPORT_THRESHOLD", "0", "must be at least 1"),
        ("EXAMPLE_REPORT_THRESHOLD", "three", "must be an integer"),
        ("EXAMPLE_REPORT_WINDOW", "-5", "must be a positive number"),
        ("EXAMPLE_REPORT_WINDOW", "an hour", "must be a number"),
    ],
)
def test_bad_report_settings_name_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: {message}"):
        ExampleSettings.from_config({key: value})


def test_the_report_settings_default_to_three_in_an_hour() -> None:
    settings = ExampleSettings.from_config({})
    assert (settings.report_threshold, settings.report_window) == (3, 3600.0)
    settings = ExampleSettings.from_config(
        {"EXAMPLE_REPORT_THRESHOLD": "5", "EXAMPLE_REPORT_WINDOW": "600"}
    )
    assert (settings.report_threshold, settings.report_window) == (5, 600.0)


def test_one_click_blocks_a_reported_account_through_the_blocklist_api(
    example: BuildExample,
) -> None:
    service = example()
    service.after(blocklist_added_body([(f"u{i}", "spammer") for i in range(3)]))
    client = service.app.test_client()
    page = client.get("/")
    token = page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    refused = client.post("/api/blocklist", json={"account": "spammer"})
    assert refused.status_code == 400  # no CSRF token
    blocked = client.post(
        "/api/blocklist",
        json={"account": "spammer", "reason": "blocklisted by 3 users"},
        headers={"X-CSRFToken": token},
    )
    assert blocked.status_code == 201, blocked.get_data(as_text=True)
    assert service.request_codes("spammer", "alice") == [PolicyCode.BLOCKLISTED]
    assert api(service, "/api/reported")[1]["accounts"][0]["blocked"] is True


def test_a_story_is_told_in_the_order_the_callbacks_arrived(example: BuildExample) -> None:
    # Rows shipped out of order (another worker's spool came later) keep their arrival order.
    service = example()
    service.callback("alice", "bob")
    get_service(service.app).drainer.sync()
    service.clock.now -= 5  # the request arrived first, and was shipped after the response
    service.request("bob", "alice")
    stages = api(service, "/api/story?a=alice&b=bob")[1]["stages"]
    assert stages == ["requested", "accepted"]


def test_a_request_item_that_fails_the_schema_is_audited_with_the_others(
    example: BuildExample,
) -> None:
    service = example()
    bad = {**friend_add_item("bob", wording="hi"), "Remark": 5}
    codes = service.request_codes("farm01", "alice", bad)
    assert codes[0] == 0
    logged = rows(service)
    assert [(r["command"], r["to_account"]) for r in logged] == [
        (REQUEST, "alice"),
        (REQUEST, "bob"),
    ]
    # The invalid item keeps the strings it came with; the error policy decided it.
    assert (logged[1]["wording"], logged[1]["remark"], logged[1]["result_code"]) == (
        "hi",
        "",
        codes[1],
    )
