"""The suite's one definition of "running in CI", and its one rule there: a skip is a failure.

``CI`` is set by CI services (and by ``.ci/run``). It counts as set when it reads ``true``,
``1`` or ``yes`` in any case; ``CI=false``, ``CI=0`` or an empty value is not CI. Under CI, a
test that cannot run (a missing browser, server or package) must not pass as skipped: the
hooks below, which ``tests/conftest.py`` installs, turn every skip, at collection or in a test,
into a failure that says why it was skipped. An expected failure (``xfail``) stays what it is.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

#: The values of ``CI`` that mean CI, compared without case or surrounding spaces.
CI_VALUES = frozenset({"true", "1", "yes"})


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI`` is ``true``, ``1`` or ``yes``, in any case)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    longrepr: Any = report.longrepr
    # A skip's longrepr is (path, line, "Skipped: reason").
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr
    report.outcome = "failed"
    report.longrepr = f"CI is set ({os.environ.get('CI')!r}), so a skip is a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[Any]:
    """A test skipped under CI is reported as failed."""
    outcome = yield
    _fail_the_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[Any]:
    """A module skipped at collection (``pytest.importorskip``, ``allow_module_level``) under
    CI is reported as a failed collection."""
    outcome = yield
    _fail_the_skip(outcome.get_result())
