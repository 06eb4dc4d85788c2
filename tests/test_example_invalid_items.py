"""example_app and an item that fails the item schema: answered by the error policy, and
audited like every other item, in its wire position."""

from __future__ import annotations

from typing import Any

from flask_friendcb.testing import friend_response_body, response_item, signed_client

BuildExample = Any


def test_an_invalid_item_is_answered_and_audited_in_its_place(example: BuildExample) -> None:
    service = example()
    service.blocklist.add("eve")
    items = [
        response_item("eve"),
        {"To_Account": "newbie", "ResponseAction": "Response_Action_Future", "Remark": "hi"},
        response_item("carol", "Response_Action_Reject"),
    ]
    response = signed_client(service.app).callback(friend_response_body("bob", items))
    assert response.status_code == 200
    codes = [(r["To_Account"], r["ResultCode"]) for r in response.json["ResultItem"]]
    assert codes[1] == ("newbie", 0)  # the error policy: allow
    assert codes[0][1] != 0  # eve is blocked by the blocklist hook, as ever
    decisions = service.store.latest(limit=10)
    assert sorted((d["to_account"], d["action"], d["outcome"]) for d in decisions) == [
        ("carol", "Response_Action_Reject", "allowed"),  # declining is always allowed
        ("eve", "Response_Action_AgreeAndAdd", "rejected"),
        ("newbie", "Response_Action_Future", "invalid_item"),
    ]
    assert service.store.counts() == (1, 3)
