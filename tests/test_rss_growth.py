"""`make memory` keeps working: a short run of bench/rss_growth.py reports what the long one
does. The figures themselves are measured by `make memory`, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys

from .servers import ROOT


def test_a_short_memory_run_reports_every_app_and_no_server_error() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.rss_growth",
            "--requests",
            "1000",
            "--rounds",
            "1",
            "--samples",
            "2",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["requests"] == 1000
    assert report["machine"]
    assert set(report["targets"]) == {"baseline", "blueprint", "middleware"}
    for target in ("blueprint", "middleware"):
        (run,) = report["targets"][target]["runs"]
        assert len(run["rss_kib"]) == 2
        assert isinstance(run["growth_kib"], int)
        # The mix is 70% accepted and 30% refused, each refusal for its own reason.
        assert run["statuses"] == {"200": 700, "400": 180, "401": 90, "403": 30}
        # Hooks raised or returned junk on 160 items, rejected 70, let 670 through.
        assert run["outcomes"] == {"hook_error": 160, "no_decision": 670, "rejected": 70}
