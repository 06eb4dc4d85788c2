"""The capacity benchmark (bench/capacity.py, part of ``make soak``): a tiny run on real
gunicorn, PostgreSQL and Redis gives every figure the README reports, its audit check holds,
and the check catches an answer missing from the log and a record no request accounts for."""

from __future__ import annotations

import pytest

from bench.capacity import TARGETS, Result, Run, describe, problems, run
from bench.environment import environment


def _run(requests: int, server_cpu_s: float) -> Run:
    return Run(
        requests=requests,
        accepted=requests,
        seconds=1.0,
        p50_us=1000.0,
        p99_us=5000.0,
        server_cpu_s=server_cpu_s,
        store_cpu_s=0.1,
    )


def test_ratios_are_taken_round_by_round_against_the_library() -> None:
    result = Result({})
    # Round 1: the library costs 1 ms a callback, example_app 3 ms; round 2: 2 ms and 4 ms.
    result.runs["library"] = [_run(1000, 1.0), _run(1000, 2.0)]
    result.runs["embedded"] = [_run(500, 1.5), _run(500, 2.0)]
    result.runs["postgres_redis"] = [_run(400, 1.6), _run(400, 1.6)]
    result.runs["two_instances"] = [_run(600, 3.0), _run(200, 1.0)]
    assert result.cpu_ratio("embedded") == pytest.approx((3 + 2) / 2)
    assert result.cpu_ratio("postgres_redis") == pytest.approx((4 + 2) / 2)
    assert result.scaling() == pytest.approx((1.5 + 0.5) / 2)
    assert result.cpu_us("library") == pytest.approx(1500)


@pytest.mark.parametrize(
    ("audited", "expected"),
    [(100, []), (116, []), (99, ["embedded"]), (117, ["embedded"])],
)
def test_the_audit_check_wants_every_answer_and_nothing_unaccounted(
    audited: int, expected: list[str]
) -> None:
    result = Result({})
    result.audit["embedded"] = {"answered": 100, "unread_at_most": 16, "audited": audited}
    assert [problem.split(":")[0] for problem in problems(result)] == expected


def test_a_tiny_run_measures_every_target_and_audits_every_answer() -> None:
    result = run(rounds=1, seconds=2, paced_seconds=2)
    print(describe(result, environment()))  # shown when the test fails
    for target in TARGETS:
        (measured,) = result.runs[target]
        assert measured.requests > 0, target
        assert measured.accepted == measured.requests, target
        assert measured.server_cpu_s > 0, target
    for target in ("postgres_redis", "two_instances"):
        assert result.runs[target][0].store_cpu_s > 0, target
    assert set(result.paced) == {"library", "embedded", "postgres_redis"}
    for figures in result.paced.values():
        assert figures["rps"] > 0
        assert figures["p99_us"] > 0
    assert set(result.audit) == {"embedded", "postgres_redis"}
    assert problems(result) == []
    text = describe(result, environment())
    assert text.count("\n| ") == 2 + len(TARGETS)  # the header, its separator, a row each
