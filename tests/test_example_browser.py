"""The live page in a real browser (Debian's Chromium, headless, driven by Playwright) against
example_app under gunicorn as deployed: callbacks sent through the real endpoint appear without a
reload, the blocklist managed on the page decides the very next callback, hostile values hold
the layout and show what they hide, the chart follows, and a foreign Host or a frame is
refused."""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools import browser as devtools_browser
from example_app import PolicyCode
from flask_friendcb.testing import (
    blocklist_added_body,
    friend_add_body,
    friend_add_item,
    friend_added_body,
    response_item,
)

from .browser import CHROMIUM, CHROMIUM_ARGS, chromium, require_browser
from .example_support import send, send_body, serve_example

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

AGREE, REJECT = "Response_Action_Agree", "Response_Action_Reject"
REBOUND = "rebound.attacker.test"
# The page's layout, measured in the browser: widths of the page, the viewport, the table.
LAYOUT = """() => ({
    page: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    viewport: window.innerWidth,
    table: document.querySelector('#decisions').getBoundingClientRect().right,
})"""


@pytest.fixture(autouse=True)
def _browser() -> None:
    require_browser()


def test_the_live_page_follows_callbacks_and_manages_the_blocklist(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serve_example(str(tmp_path / "live.sqlite3")) as address, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        elsewhere: list[str] = []
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(f"http://{address}/")
                else elsewhere.append(request.url)
            ),
        )
        page.goto(f"http://{address}/")
        expect(page.locator("#live-status")).to_have_text("live")
        expect(page.locator("#empty")).to_be_visible()
        # Survives only if the page is never reloaded.
        page.evaluate("window.notReloaded = true")

        assert send(address, "alice", "bob") == [0]
        assert send(
            address, "mallory", response_item("spammer1", remark="visit www.example.com")
        ) == [PolicyCode.CONTENT]

        allowed = page.locator('#decision-rows tr[data-to="bob"]')
        blocked = page.locator('#decision-rows tr[data-to="spammer1"]')
        expect(allowed).to_have_class(re.compile(r"\ballowed\b"))
        expect(allowed.locator(".badge")).to_have_text("allowed")
        expect(blocked).to_have_class(re.compile(r"\bblocked\b"))
        expect(blocked.locator(".badge")).to_have_text("blocked 38003")
        expect(blocked.locator(".policy")).to_have_text("content")
        expect(blocked.locator(".info")).to_have_text("the remark holds a link")
        expect(page.locator("#decision-rows tr").first).to_have_attribute("data-to", "spammer1")
        expect(page.locator("#count-accepted")).to_have_text("1")
        expect(page.locator("#count-blocked")).to_have_text("1")

        # The operator blocks eve on the page: eve's next acceptance is refused.
        assert send(address, "eve", "carol") == [0]
        page.fill("#block-account", "eve")
        page.fill("#block-reason", "hijacked account")
        page.click("#block-form button[type=submit]")
        expect(page.locator('#blocklist li[data-account="eve"]')).to_contain_text(
            "hijacked account"
        )
        assert send(address, "eve", "dave") == [PolicyCode.BLOCKLISTED]
        expect(page.locator('#decision-rows tr[data-to="dave"] .badge')).to_have_text(
            "blocked 38001"
        )
        # ... and unblocks eve: the next one passes.
        page.locator('#blocklist li[data-account="eve"] button').click()
        expect(page.locator('#blocklist li[data-account="eve"]')).to_have_count(0)
        assert send(address, "eve", "frank") == [0]
        expect(page.locator('#decision-rows tr[data-to="frank"]')).to_have_class(
            re.compile(r"\ballowed\b")
        )

        # What users write is shown as text, never run as HTML.
        assert send(address, "zed", response_item("x", remark="<img src=x onerror=alert(1)>")) == [
            0
        ]
        expect(page.locator('#decision-rows tr[data-to="x"] .remark')).to_have_text(
            "<img src=x onerror=alert(1)>"
        )

        # Filters: by decision, then by account; live rows obey them too.
        page.select_option("#filter-decision", "blocked")
        expect(page.locator("#decision-rows tr")).to_have_count(2)
        assert send(address, "alice", "gina") == [0]
        page.fill("#filter-account", "eve")
        expect(page.locator("#decision-rows tr")).to_have_count(1)
        page.select_option("#filter-decision", "all")
        expect(page.locator("#decision-rows tr")).to_have_count(3)
        assert send(address, "eve", "harry") == [0]
        expect(page.locator("#decision-rows tr")).to_have_count(4)
        expect(page.locator('#decision-rows tr[data-to="gina"]')).to_have_count(0)

        assert page.evaluate("window.notReloaded") is True
        page.screenshot(path=str(tmp_path / "live-page.png"), full_page=True)
        page.close()
    assert errors == []
    assert elsewhere == [], "the page fetched something from another origin"


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The path is looked up where it is defined: devtools.browser (tests.browser re-exports it).
    monkeypatch.setattr(devtools_browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and the browser test cannot run"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser()


# -- one server and one browser for the checks below (each uses accounts of its own) ----------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    require_browser()
    from playwright.sync_api import sync_playwright

    database = tmp_path_factory.mktemp("operator") / "page.sqlite3"
    with serve_example(str(database)) as address, sync_playwright() as playwright:
        # DNS rebinding, as an attacker stages it: a name of theirs resolves to this machine.
        rebind = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rebind], headless=True
        )
        try:
            yield address, browser
        finally:
            browser.close()


@pytest.fixture
def page(served: tuple[str, Browser]) -> Iterator[Page]:
    address, browser = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Anything the page's own CSP refused (an inline style or script that slipped in).
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"http://{address}/")
    page.wait_for_selector("#live-status.status-live")
    yield page
    page.close()
    assert errors == []


def address_of(page: Page) -> str:
    return page.url.split("/")[2]


def test_a_5000_character_row_keeps_the_table_inside_the_viewport(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    huge = "W" * 5000  # a wide letter, no break opportunity
    zalgo = "z" + "\u0301" * 400
    send(
        address,
        "wide_" + huge,
        response_item("wide_" + huge, remark=huge, tag_name=zalgo),
        client_ip="203.0.113." + "9" * 3,
        platform="P" * 1500,  # the query string: gunicorn takes 4 KiB of request line
    )
    row = page.locator('#decision-rows tr.decision[data-from^="wide_"]')
    expect(row).to_have_count(1)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(100)
        layout = page.evaluate(LAYOUT)
        assert layout["page"] <= layout["viewport"], layout
        assert layout["body"] <= layout["viewport"], layout
        assert layout["table"] <= layout["viewport"], layout
        box = row.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width
        # No row grows into a tower either.
        assert box["height"] < 1200, box
    # Cut in the table, whole on hover and in the details.
    shown = row.locator("td.account").first.inner_text()
    assert len(shown) < 60
    assert shown.endswith("…")
    title = row.locator("td.account .value").first.get_attribute("title") or ""
    assert title.startswith("wide_WWWW")
    row.locator(".details-button").click()
    details = page.locator("#decision-rows tr.details")
    full = details.locator("dd .value").nth(0).text_content() or ""
    assert full == "wide_" + huge
    page.set_viewport_size({"width": 360, "height": 800})
    layout = page.evaluate(LAYOUT)
    assert layout["page"] <= layout["viewport"], layout


def test_at_360_px_the_page_has_no_horizontal_scroll(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    send(address, "narrow_alice", "narrow_bob", response_item("narrow_eve", remark="hi " * 30))
    page.set_viewport_size({"width": 360, "height": 740})
    page.fill("#block-account", "narrow_" + "k" * 25)
    page.fill("#block-reason", "reason " * 25)
    page.click("#block-form button[type=submit]")
    expect(page.locator('#blocklist li[data-account^="narrow_k"]')).to_have_count(1)
    expect(page.locator('#decision-rows tr[data-to="narrow_eve"]')).to_have_count(1)
    layout = page.evaluate(LAYOUT)
    assert layout["page"] <= 360, layout
    assert layout["body"] <= 360, layout
    page.evaluate("window.scrollTo(10000, 0)")
    assert page.evaluate("window.scrollX") == 0
    # Every control stays on the screen.
    for selector in ("#filter-account", "#block-account", "#block-form button", ".block-button"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0, selector
        assert box["x"] + box["width"] <= 360, selector


# What a card at 360 px shows: its labelled cells that are displayed yet hold nothing, and
# each burst phrase's line boxes.
CARDS = """() => ({
    emptyLabelled: [...document.querySelectorAll('#decision-rows td[data-label]')]
        .filter(td => td.dataset.label && getComputedStyle(td).display !== 'none')
        .filter(td => td.textContent.trim() === '').length,
    phraseLines: [...document.querySelectorAll('#decision-rows .burst .phrase')]
        .map(span => span.getClientRects().length),
    axisFont: Math.min(...[...document.querySelectorAll('#chart svg text.axis')]
        .map(text => text.getBoundingClientRect().height)),
})"""


def test_at_360_px_the_chart_reads_the_blocklist_is_one_tap_away_and_cards_are_tidy(
    page: Page,
) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    page.set_viewport_size({"width": 360, "height": 740})
    # A burst refused by the velocity policy (the longest burst line), and plain rows without a
    # remark or friend group.
    send(address, "phone_farm", *[f"phone_t{n}" for n in range(24)])
    for n in range(12):
        send(address, f"phone_from_{n}", response_item(f"phone_to_{n}", REJECT))
    expect(page.locator('#decision-rows tr.group[data-from="phone_farm"]')).to_have_count(2)
    page.wait_for_timeout(200)

    chart = page.locator("#chart svg").bounding_box()
    assert chart is not None
    assert chart["height"] >= 120, chart
    assert chart["x"] + chart["width"] <= 360, chart
    cards = page.evaluate(CARDS)
    assert cards["axisFont"] >= 10, cards
    assert cards["emptyLabelled"] == 0, cards
    assert cards["phraseLines"], cards
    assert set(cards["phraseLines"]) == {1}, cards

    # From the top of the page, one tap reaches the blocklist form.
    page.evaluate("window.scrollTo(0, 0)")
    jump = page.locator("#jump-blocklist")
    box = jump.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 740, box
    jump.click()
    expect(page.locator("#block-account")).to_be_in_viewport()


def test_details_and_the_block_dialog_show_only_what_is_there(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    long_requester = "dialog_" + "r" * 40  # 47 bytes: no UserID, yet a callback may hold it
    send(address, "dialog_from", "dialog_to", response_item(long_requester))
    row = page.locator('#decision-rows tr[data-to="dialog_to"]')
    row.locator(".details-button").click()
    details = page.locator("#decision-rows tr.details")
    result = details.locator("dt", has_text="Result").locator("xpath=following-sibling::dd[1]")
    expect(result).to_have_text("0")
    expect(result.locator(".hidden-char")).to_have_count(0)

    # The requester is over 32 bytes: the dialog says so and offers the responder only.
    page.locator(f'#decision-rows tr[data-to="{long_requester}"] .block-button').click()
    expect(page.locator("#block-dialog")).to_be_visible()
    expect(page.locator('#block-dialog input[value="to"]')).to_be_disabled()
    expect(page.locator('#block-dialog input[value="from"]')).to_be_checked()
    expect(page.locator("#block-dialog-choice-to .too-long-note")).to_contain_text(
        "47 bytes: an account is at most 32"
    )
    expect(page.locator("#block-dialog-confirm")).to_be_enabled()
    page.click("#block-dialog-cancel")


def test_bidi_and_zero_width_names_are_shown_marked(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    send(address, "user\u202egnp.exe", "ali\u200bce", response_item(" spaced", remark="a\u2066b"))
    row = page.locator('#decision-rows tr[data-to="ali\u200bce"]')
    expect(row.locator("td.account").nth(0)).to_have_text("user⟨U+202E⟩gnp.exe")
    expect(row.locator("td.account").nth(1)).to_have_text("ali⟨U+200B⟩ce")
    expect(row.locator(".hidden-char")).to_have_count(2)
    spaced = page.locator('#decision-rows tr[data-to=" spaced"]')
    expect(spaced.locator("td.account").nth(1)).to_have_text("⟨U+0020⟩spaced")
    expect(spaced.locator(".remark")).to_have_text("a⟨U+2066⟩b")
    # The override is defused: the responder reads left to right as sent, not "userexe.png".
    assert "exe.png" not in row.locator("td.account").nth(0).inner_text()
    # The blocklist marks them too.
    row.locator(".block-button").click()
    page.check('#block-dialog input[value="from"]')
    page.click("#block-dialog-confirm")
    entry = page.locator('#blocklist li[data-account="user\u202egnp.exe"]')
    expect(entry.locator(".who")).to_have_text("user⟨U+202E⟩gnp.exe")


def test_block_from_a_row_takes_effect_on_the_next_callback_and_unblock_can_be_undone(
    page: Page,
) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    assert send(address, "rowblock_eve", "rowblock_carol") == [0]
    row = page.locator('#decision-rows tr[data-to="rowblock_carol"]')
    row.locator(".block-button").click()
    expect(page.locator("#block-dialog")).to_be_visible()
    page.check('#block-dialog input[value="from"]')
    page.fill("#block-dialog-reason", "hijacked account")
    page.click("#block-dialog-confirm")
    expect(page.locator("#block-dialog")).to_be_hidden()
    entry = page.locator('#blocklist li[data-account="rowblock_eve"]')
    expect(entry).to_contain_text("hijacked account")
    expect(entry.locator(".added")).to_contain_text(re.compile(r"added \d{4}-\d\d-\d\d \d\d:"))
    assert send(address, "rowblock_eve", "rowblock_dave") == [PolicyCode.BLOCKLISTED]
    expect(page.locator('#decision-rows tr[data-to="rowblock_dave"] .badge')).to_have_text(
        "blocked 38001"
    )

    entry.locator(".unblock").click()
    expect(entry).to_have_count(0)
    assert send(address, "rowblock_eve", "rowblock_frank") == [0]
    expect(page.locator("#undo")).to_be_visible()
    page.click("#undo-button")
    expect(entry).to_contain_text("hijacked account")
    assert send(address, "rowblock_eve", "rowblock_gina") == [PolicyCode.BLOCKLISTED]


def test_a_request_shows_beside_its_response_with_the_pairs_story(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    request = friend_add_body("story_bob", [friend_add_item("story_ann", wording="hi, it's Bob")])
    assert [item["ResultCode"] for item in send_body(address, request)["ResultItem"]] == [0]
    assert send(address, "story_ann", "story_bob") == [0]
    send_body(address, friend_added_body([("story_ann", "story_bob", "story_bob")]))
    request_row = page.locator('#decision-rows tr.step-request[data-from="story_bob"]')
    expect(request_row).to_have_count(1)
    expect(request_row.locator("td.action")).to_contain_text("request")
    expect(request_row.locator("td.text .wording")).to_have_text("hi, it's Bob")
    expect(page.locator('#decision-rows tr.step-response[data-from="story_ann"]')).to_have_count(1)
    added = page.locator('#decision-rows tr.step-after[data-from="story_ann"]')
    expect(added.locator("td.action")).to_contain_text("friends added")
    expect(added.locator(".badge")).to_have_text("observed")
    request_row.locator(".details-button").click()
    stages = page.locator("#decision-rows tr.details .story .stage-name")
    expect(stages).to_have_text(["requested", "accepted", "added"])
    # The walk-through of docs/example.md: a spam request's sender blocked from its row, in
    # the dialog's default choice, and its next request refused at the request step.
    send_body(address, friend_add_body("story_farm", [friend_add_item("story_ann")]))
    spam_row = page.locator('#decision-rows tr.step-request[data-from="story_farm"]')
    spam_row.locator(".block-button").click()
    expect(page.locator("#block-dialog-from-role")).to_have_text("Sender")
    expect(page.locator("#block-dialog-to-role")).to_have_text("Recipient")
    expect(page.locator('#block-dialog input[value="from"]')).to_be_checked()
    page.click("#block-dialog-confirm")
    expect(page.locator('#blocklist li[data-account="story_farm"]')).to_have_count(1)
    refused = send_body(address, friend_add_body("story_farm", [friend_add_item("story_cy")]))
    assert refused["ResultItem"][0]["ResultCode"] == PolicyCode.BLOCKLISTED
    row = page.locator('#decision-rows tr.step-request.blocked[data-to="story_cy"]')
    expect(row.locator(".badge")).to_have_text("blocked 38001")
    row.locator(".details-button").click()
    details = page.locator(
        f'#decision-rows tr.details[data-details-for="{row.get_attribute("data-id")}"]'
    )
    expect(details.locator(".story .stage-name")).to_have_text(["request blocked"])
    # The chart counts a policy's refusals at both steps in one series: the legend names the
    # policy once, never the request step's hook.
    legend = page.locator("#chart-legend")
    expect(legend).to_contain_text("blocked by blocklist")
    expect(legend).not_to_contain_text("request_")


def test_an_account_blocklisted_by_three_users_is_blocked_in_one_click(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    hostile = "rep_\u202e" + "W" * 5000  # any value: a right-to-left override, 5,000 wide
    pairs = [(f"rep_u{i}", account) for i in range(3) for account in ("rep_spammer", hostile)]
    send_body(address, blocklist_added_body(pairs))
    page.reload()
    entry = page.locator('#reported li[data-account="rep_spammer"]')
    expect(entry).to_contain_text("blocklisted by 3 users")
    # The 5,000-character account is shown cut, marked, and cannot be blocked.
    long_entry = page.locator("#reported li").filter(has_text="cannot be blocked")
    expect(long_entry).to_have_count(1)
    layout = page.evaluate(LAYOUT)
    assert layout["page"] <= layout["viewport"], layout
    entry.locator(".block-button").click()
    expect(entry.locator(".badge")).to_have_text("blocked")
    expect(page.locator('#blocklist li[data-account="rep_spammer"]')).to_contain_text(
        "blocklisted by 3 users"
    )
    spam = send_body(address, friend_add_body("rep_spammer", [friend_add_item("rep_u9")]))
    assert spam["ResultItem"][0]["ResultCode"] == PolicyCode.BLOCKLISTED


def test_any_account_can_be_blocked_and_a_too_long_one_is_refused_whole(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    for odd in ("..", "../%2F?#x", "a/b"):
        assert send(address, odd, "odd_target") == [0]
        page.locator(f'#decision-rows tr[data-from="{odd}"] .block-button').first.click()
        page.check('#block-dialog input[value="from"]')
        page.click("#block-dialog-confirm")
        entry = page.locator(f'#blocklist li[data-account="{odd}"]')
        expect(entry).to_have_count(1)
        assert send(address, odd, "odd_target") == [PolicyCode.BLOCKLISTED]
        entry.locator(".unblock").click()
        expect(entry).to_have_count(0)
        assert send(address, odd, "odd_target") == [0]

    too_long = "L" * 33
    page.fill("#block-account", too_long)
    assert page.input_value("#block-account") == too_long  # not cut at 32
    expect(page.locator("#block-bytes")).to_have_text("33 / 32 bytes")
    page.click("#block-form button[type=submit]")
    expect(page.locator("#block-error")).to_contain_text("at most 32 bytes")
    expect(page.locator("#block-error")).to_contain_text("33")
    expect(page.locator('#blocklist li[data-account^="LLLL"]')).to_have_count(0)


def test_the_chart_draws_and_updates_when_callbacks_arrive(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    chart = page.locator("#chart svg")
    expect(chart.locator("g.bar")).to_have_count(60)
    before = int(chart.get_attribute("data-total") or "0")
    last = chart.locator("g.bar").last
    before_last = int(last.get_attribute("data-count") or "0")
    send(address, "chart_a", "chart_b", response_item("chart_c", REJECT))
    send(address, "chart_m", response_item("chart_x", remark="http://spam.example"))
    expect(chart).to_have_attribute("data-total", str(before + 3))
    assert int(last.get_attribute("data-count") or "0") >= before_last + 3
    for series in ("series-accepted", "series-declined", "policy-content"):
        rect = chart.locator(f"g.bar rect.{series}").last
        expect(rect).to_have_count(1)
        assert float(rect.get_attribute("height") or "0") > 0, series
    expect(page.locator("#chart-legend")).to_contain_text("blocked by content")
    # The server's count agrees after a reload.
    page.reload()
    expect(page.locator("#chart svg")).to_have_attribute("data-total", str(before + 3))


def test_bursts_are_grouped_and_search_and_paging_reach_older_rows(page: Page) -> None:
    from playwright.sync_api import expect

    address = address_of(page)
    assert (
        send(address, "burst_farm", *[f"burst_t{n}" for n in range(25)])
        == [0] * 20 + [PolicyCode.VELOCITY] * 5
    )
    group = page.locator('#decision-rows tr.group[data-from="burst_farm"]')
    expect(group).to_have_count(2)  # 20 accepted, then 5 refused by the velocity policy
    accepted = group.filter(has_text="accepted")
    expect(accepted).to_have_attribute("data-count", "20")
    expect(page.locator("#decision-rows tr.member")).to_have_count(0)
    accepted.locator(".group-toggle").click()
    expect(page.locator("#decision-rows tr.member")).to_have_count(20)

    # 205 rows, alternating outcomes so that none group: paging reaches the oldest.
    for n in range(41):
        items = [response_item(f"page_{n}_{k}", AGREE if k % 2 else REJECT) for k in range(5)]
        send(address, f"page_from_{n}", *items)
    with page.expect_response(lambda response: "q=PAGE_" in response.url):
        page.fill("#filter-account", "PAGE_")
    rows = page.locator("#decision-rows tr.decision")
    # Partial, in any case: only these responders' rows, and the newest 200 of them.
    expect(page.locator('#decision-rows tr:not([data-from^="page_from_"])')).to_have_count(0)
    expect(rows).to_have_count(200)
    expect(page.locator("#older")).to_be_visible()
    page.click("#older")
    expect(rows).to_have_count(205)
    expect(page.locator("#older")).to_be_hidden()
    ids = [int(i) for i in rows.evaluate_all("rows => rows.map(row => row.dataset.id)")]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 205
    # Every row is reached, the oldest included. Ids follow the order records reached the
    # log: two workers' journals ship in turns, so two callbacks a few milliseconds apart on
    # different workers may swap places, and the exact order of arrival is not asserted.
    tos = rows.evaluate_all("rows => rows.map(row => row.dataset.to)")
    assert sorted(tos) == sorted(f"page_{n}_{k}" for n in range(41) for k in range(5)), tos


def test_a_refused_live_stream_is_started_again_and_follows(served: tuple[str, Browser]) -> None:
    """The server refuses a stream over its cap with a 503, and a browser's EventSource then
    gives up for good: the page must try again by itself, and be live after."""
    from playwright.sync_api import Route, expect

    address, browser = served
    page = browser.new_page()
    refused: list[str] = []

    def refuse_twice(route: Route) -> None:
        if len(refused) < 2:
            refused.append(route.request.url)
            route.fulfill(
                status=503,
                headers={"Retry-After": "10"},
                content_type="application/json",
                body='{"error": "too many live streams on this server; retry later"}',
            )
        else:
            route.continue_()

    try:
        page.route("**/events?**", refuse_twice)
        page.goto(f"http://{address}/")
        expect(page.locator("#live-status")).to_have_class(re.compile("status-reconnecting"))
        # Two refusals: waits of 2 to 6 s, then 4 to 12 s.
        expect(page.locator("#live-status")).to_have_class(
            re.compile("status-live"), timeout=25_000
        )
        assert len(refused) == 2
        send(address, "after_refusal", "came_back")
        expect(page.locator("#decision-rows")).to_contain_text("after_refusal")
    finally:
        page.close()


def test_a_page_signed_out_stops_starting_its_stream(served: tuple[str, Browser]) -> None:
    """Each try of a page whose password no longer holds would count as a wrong password: on
    a 401 the page stops trying and says so."""
    from playwright.sync_api import Route, expect

    address, browser = served
    page = browser.new_page()
    refused: list[str] = []
    listed: list[str] = []

    def refuse(route: Route) -> None:
        refused.append(route.request.url)
        route.fulfill(status=503, content_type="application/json", body='{"error": "busy"}')

    def signed_out_after_first(route: Route) -> None:
        listed.append(route.request.url)
        if len(listed) == 1:
            route.continue_()
        else:
            route.fulfill(status=401, content_type="application/json", body='{"error": "no"}')

    try:
        page.route("**/events?**", refuse)
        page.route("**/api/decisions?**", signed_out_after_first)
        page.goto(f"http://{address}/")
        expect(page.locator("#live-status")).to_have_text(
            "signed out: reload the page", timeout=15_000
        )
        assert (len(refused), len(listed)) == (1, 2)
    finally:
        page.close()


def test_a_foreign_host_gets_a_4xx(served: tuple[str, Browser]) -> None:
    address, browser = served
    port = address.split(":")[1]
    page = browser.new_page()
    try:
        response = page.goto(f"http://{REBOUND}:{port}/")
        assert response is not None
        assert 400 <= response.status < 500
        assert page.locator("#decision-rows").count() == 0
        # What the rebinding page's script would read: nothing.
        status, text = page.evaluate(
            "async () => { const r = await fetch('/api/decisions');"
            " return [r.status, await r.text()]; }"
        )
        assert 400 <= status < 500
        assert '"decisions"' not in text
        # The same browser, by the loopback name, gets in.
        response = page.goto(f"http://localhost:{port}/")
        assert response is not None
        assert response.status == 200
    finally:
        page.close()


@contextlib.contextmanager
def attacker_site(html: str) -> Iterator[str]:
    """A page on another origin (another local port), as the issue's clickjacking used."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_framed_page_is_refused(served: tuple[str, Browser]) -> None:
    address, browser = served
    url = f"http://{address}/"
    html = f'<!doctype html><iframe id="f" src="{url}" width="800" height="600"></iframe>'

    def framed(strip_headers: bool) -> bool:
        page = browser.new_page()
        try:
            if strip_headers:
                # The control: the same page without its frame headers does load in the frame,
                # so the check below sees a refusal, not a frame that never loads.
                def strip(route: Any) -> None:
                    answer = route.fetch()
                    headers = {
                        name: value
                        for name, value in answer.headers.items()
                        if name.lower() not in ("content-security-policy", "x-frame-options")
                    }
                    route.fulfill(response=answer, headers=headers)

                page.route(url, strip)
            with attacker_site(html) as attacker:
                page.goto(attacker)
                page.wait_for_timeout(1500)
                return page.frame_locator("#f").locator("#decision-rows").count() > 0
        finally:
            page.close()

    assert framed(strip_headers=True) is True
    assert framed(strip_headers=False) is False
