"""Retake docs/live-page.png: example_app under gunicorn as deployed, some traffic, the page.

Run with ``make screenshot``. Traffic goes to a server on 127.0.0.1 only, and the database is a
temporary one.
"""

from __future__ import annotations

import sys
import tempfile
import time

from devtools.browser import chromium, missing_browser
from devtools.example_service import send, serve_example
from devtools.servers import ROOT
from flask_friendcb.testing import response_item

OUTPUT = ROOT / "docs" / "live-page.png"
AGREE, DECLINE = "Response_Action_Agree", "Response_Action_Reject"
# www.cheap-coins.com in full-width letters: the content policy reads through it.
FULL_WIDTH_LINK = "".join(chr(ord(c) + 0xFEE0) for c in "www.cheap-coins.com")

# (responder, items, platform, client IP): a quiet minute, then a bot and a spammer.
TRAFFIC = [
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
    ("farm_bot_17", [f"target_{i}" for i in range(4)], "Android", "198.51.100.200"),
    ("tom_h", [response_item("casino_king", remark="Casino night!")], "Windows", "203.0.113.77"),
    ("li_wei", ["spam_ring_3"], "iOS", "203.0.113.24"),
    ("yuki_t", [response_item("haru_s", AGREE, tag_name="Family")], "iOS", "198.51.100.12"),
]


def main() -> int:
    reason = missing_browser()
    if reason:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        env = {"EXAMPLE_VELOCITY_LIMIT": "3", "EXAMPLE_BANNED_WORDS": "casino, 赌场"}
        with serve_example(f"{folder}/live.sqlite3", env=env) as address, chromium() as browser:
            page = browser.new_page(viewport={"width": 1440, "height": 820})
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
            page.screenshot(path=str(OUTPUT))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
