"""The live page in a real browser (Debian's Chromium, headless, driven by Playwright) against
example_app under gunicorn as deployed: callbacks sent through the real endpoint appear without a
reload, and the blocklist managed on the page decides the very next callback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import devtools.browser
from example_app import PolicyCode
from flask_friendcb.testing import response_item

from .browser import chromium, require_browser
from .example_support import send, serve_example


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
    # The binary is looked up where it is defined, in devtools.browser.
    monkeypatch.setattr(devtools.browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and the browser test cannot run"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser()
