"""The suite-wide rule of tests/ci.py: under CI, a skip is a failure; elsewhere it is a skip.

Each case runs pytest in a subprocess on a small test file, with the rule's hooks loaded as a
plugin and ``CI`` set as the case says, and reads its outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import browser, conftest
from .ci import in_ci, pytest_make_collect_report, pytest_runtest_makereport

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import pytest

def test_skipped_inside():
    pytest.skip("no frobnicator here")

@pytest.mark.skipif(True, reason="marked away")
def test_skipped_by_mark():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
"""

MODULE_SKIP = """
import pytest

pytest.importorskip("a_package_that_is_not_installed_here")

def test_never_collected():
    pass
"""


def run_probe(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(source)
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the probe needs none; they take seconds
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", ["true", "TRUE", " True ", "1", "yes", "Yes"])
def test_ci_is_true_1_or_yes_in_any_case(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    assert in_ci()


@pytest.mark.parametrize("ci", [None, "false", "FALSE", "0", "no", "", "off", "truthy"])
def test_anything_else_is_not_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert not in_ci()


def test_under_ci_a_skip_is_a_failure(tmp_path: Path) -> None:
    result = run_probe(tmp_path, PROBE, "True")
    assert result.returncode == 1, result.stdout
    # A skip in the test is a failed test; a skip mark, applied at set-up, an error.
    assert "1 failed, 1 passed, 1 xfailed, 1 error" in result.stdout
    assert "a skip is a failure: Skipped: no frobnicator here" in result.stdout
    assert "a skip is a failure: Skipped: marked away" in result.stdout


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    result = run_probe(tmp_path, PROBE, "false")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout


def test_under_ci_a_module_skipped_at_collection_is_a_failure(tmp_path: Path) -> None:
    result = run_probe(tmp_path, MODULE_SKIP, "true")
    assert result.returncode != 0, result.stdout
    assert "a skip is a failure" in result.stdout
    assert "a_package_that_is_not_installed_here" in result.stdout


def test_the_suite_and_the_browser_check_share_the_rule() -> None:
    # conftest installs these very hooks for the whole suite, and the browser check asks the
    # same question.
    assert conftest.pytest_runtest_makereport is pytest_runtest_makereport
    assert conftest.pytest_make_collect_report is pytest_make_collect_report
    assert browser.in_ci is in_ci
