"""Retake the operator page's screenshots: docs/live-page.png (the README's), and
docs/operator-1280.png and docs/operator-360.png (docs/operator-page.md).

Run with ``make screenshot``. The last hour's history is written first, in process, through
example_app itself with a clock set back minute by minute (so the chart has something to
show); then example_app runs under gunicorn as deployed on that database, gets a few live
callbacks, and is photographed. Traffic goes to 127.0.0.1 only, and the database is a
temporary one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from typing import Any

from devtools.browser import chromium, missing_browser
from devtools.example_service import send, serve_example
from devtools.servers import ROOT
from devtools.signing import SDKAPPID, TOKEN
from example_app import create_app
from flask_friendcb.testing import (
    FrozenClock,
    blocklist_added_body,
    friend_add_body,
    friend_add_item,
    friend_added_body,
    friend_response_body,
    response_item,
    signed_client,
)

OUTPUTS = {
    "live-page.png": (1440, 900),
    "operator-1280.png": (1280, 900),
    "operator-360.png": (360, 780),
}
AGREE, DECLINE = "Response_Action_Agree", "Response_Action_Reject"
# www.cheap-coins.com in full-width letters: the content policy reads through it.
FULL_WIDTH_LINK = "".join(chr(ord(c) + 0xFEE0) for c in "www.cheap-coins.com")
ENV = {"EXAMPLE_VELOCITY_LIMIT": "3", "EXAMPLE_BANNED_WORDS": "casino, 赌场"}
PEOPLE = ["li_wei", "sofia_r", "chen_jie", "noah_k", "amara_o", "yuki_t", "tom_h", "marco88"]

# (responder, items, platform, client IP): a quiet minute, then a farm, a spammer, look-alikes.
TRAFFIC: list[tuple[str, list[Any], str, str]] = [
    ("li_wei", ["zhang_min"], "iOS", "203.0.113.24"),
    (
        "sofia_r",
        [response_item("marco88", AGREE, remark="Marco (climbing)")],
        "Android",
        "198.51.100.7",
    ),
    ("chen_jie", [response_item("wang_fang", tag_name="Colleagues")], "Web", "203.0.113.90"),
    ("noah_k", [response_item("promo_deals", DECLINE)], "iOS", "198.51.100.31"),
    (
        "amara_o",
        [response_item("vip_offers", remark=FULL_WIDTH_LINK)],
        "Android",
        "203.0.113.5",
    ),
    ("farm_bot_17", [f"target_{i}" for i in range(6)], "Android", "198.51.100.200"),
    ("tom_h", [response_item("casino_king", remark="Casino night!")], "Windows", "203.0.113.77"),
    ("li_wei", ["spam_ring_3"], "iOS", "203.0.113.24"),
    ("user\u202egnp.exe", ["ali\u200bce"], "Web", "192.0.2.66"),
    ("x" * 300, [response_item("y" * 300, remark="z" * 300)], "RESTAPI", "192.0.2.99"),
    ("yuki_t", [response_item("haru_s", AGREE, tag_name="Family")], "iOS", "198.51.100.12"),
]


def write_history(database: str) -> None:
    """An hour of callbacks through example_app in process, its clock set back."""
    clock = FrozenClock(time.time() - 3600)
    app = create_app(
        {
            "FRIENDCB_SDKAPPID": int(SDKAPPID),
            "FRIENDCB_TOKEN": TOKEN,
            "FRIENDCB_CLOCK": clock,
            "EXAMPLE_DATABASE": database,
            **ENV,
            # The velocity policy counts in real time, not by this clock: an hour written in
            # a second must not read as one responder accepting at machine speed.
            "EXAMPLE_VELOCITY_LIMIT": "100000",
        }
    )
    client = signed_client(app)
    for minute in range(59):
        clock.advance(60)
        # A steady, uneven trickle, with a spam wave around the middle of the hour.
        for n in range(2 + (minute * 7) % 5):
            who = PEOPLE[(minute + n) % len(PEOPLE)]
            action = DECLINE if (minute + n) % 4 == 0 else AGREE
            items = [response_item(f"friend_{minute}_{n}", action)]
            client.callback(friend_response_body(who, items))
            if action == AGREE:
                client.callback(
                    friend_added_body([(who, f"friend_{minute}_{n}", f"friend_{minute}_{n}")])
                )
        # Requests as they are sent: a person's, and in the wave a farm's spelled-out link.
        client.callback(
            friend_add_body(
                PEOPLE[minute % len(PEOPLE)],
                [friend_add_item(f"new_{minute}", wording="hi, we met at the meetup")],
            )
        )
        if 25 <= minute <= 32:
            client.callback(
                friend_add_body(
                    "coin_farm",
                    [
                        friend_add_item(
                            f"mark_{minute}_{k}", wording="free coins at cheap-coins dot com"
                        )
                        for k in range(3)
                    ],
                )
            )
        if minute >= 50:
            # The strongest spam signal: one account blocklisted by user after user.
            client.callback(blocklist_added_body([(PEOPLE[minute % len(PEOPLE)], "coin_farm")]))
        if 25 <= minute <= 32 or minute % 11 == 0:
            spam = [
                response_item(f"lead_{minute}_{k}", remark="www.cheap-coins.com") for k in range(2)
            ]
            client.callback(friend_response_body("promo_acct", spam))
            client.callback(
                friend_response_body(f"farm_{minute}", [f"t{minute}_{k}" for k in range(5)])
            )


def main() -> int:
    reason = missing_browser()
    if reason:
        print(f"cannot take the screenshots: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        database = f"{folder}/live.sqlite3"
        write_history(database)
        with serve_example(database, env=ENV) as address, chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"http://{address}/")
            page.wait_for_selector("#live-status.status-live")
            page.fill("#block-account", "spam_ring_3")
            page.fill("#block-reason", "reported by 12 users")
            page.click("#block-form button[type=submit]")
            page.wait_for_selector('#blocklist li[data-account="spam_ring_3"]')
            for responder, items, platform, ip in TRAFFIC:
                send(address, responder, *items, client_ip=ip, platform=platform)
                time.sleep(0.15)
            page.wait_for_selector('#decision-rows tr[data-to="haru_s"]')
            page.wait_for_timeout(3000)  # let the arrival highlight fade
            for name, (width, height) in OUTPUTS.items():
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(300)
                path = ROOT / "docs" / name
                page.screenshot(path=str(path))
                print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
