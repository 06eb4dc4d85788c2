"""The browser tests' Chromium (:mod:`devtools.browser`), and how a test that cannot have it
skips, or fails under CI."""

from __future__ import annotations

import pytest

import devtools.browser
from devtools.browser import CHROMIUM, CHROMIUM_ARGS, chromium, missing_browser

# The suite's one definition of CI: CI=false is not CI.
from .ci import in_ci

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium", "in_ci", "missing_browser", "require_browser"]


def require_browser() -> None:
    """Skip the test when there is no browser; under CI=true, fail it instead."""
    # Read where it is defined, at each call: a test points it elsewhere.
    reason = missing_browser(devtools.browser.CHROMIUM)
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true and the browser test cannot run: {reason}")
        pytest.skip(reason)
