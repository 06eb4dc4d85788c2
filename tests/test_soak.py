"""The soak (bench/soak.py): its plan gets the answers it expects, its checks catch every kind of
miscount, and a small run of the deployed service under wrk loses nothing.

The full run is `make soak`; here, 2,000 requests at concurrency 32, bounded by a minute.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from bench import soak
from bench.soak_plan import (
    BLOCKED,
    BOTS,
    HOSTILE,
    ITEM_COUNTS,
    KINDS,
    PADDED,
    VALID,
    Plan,
    build_plan,
    padded_body,
    write_plan,
    write_signs,
)
from example_app import PolicyCode, create_app, get_service
from example_app.policies import embedded_uris
from flask_friendcb.config import Settings
from flask_friendcb.policies import BlocklistPolicy
from flask_friendcb.testing import sign

from .conftest import TOKEN, example_config

SMALL = 2_000


def replay_in_process(plan: Plan, database: str) -> tuple[soak.SoakResult, dict[str, Counter[Any]]]:
    """Send every planned request to example_app in process, as soak.lua would (signed at
    the second it is sent), and tally the answers as soak.lua does; also the answers by kind,
    which wrk cannot pair with their requests."""
    soak.block_known_spammers(database)
    app = create_app({**example_config(database), **plan.server_env()})
    client = Client(app)
    sent: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    results: Counter[str] = Counter()
    by_kind: dict[str, Counter[Any]] = {}
    started = time.monotonic()
    for request in plan.requests:
        method, path, body = request.materialize(int(time.time()))
        response = client.open(
            path, method=method, data=body, headers={"Content-Type": "application/json"}
        )
        data = json.loads(response.get_data())
        sent[request.kind] += 1
        answers[f"{response.status_code} {data['ErrorCode']}"] += 1
        by_kind.setdefault(request.kind, Counter())[response.status_code, data["ErrorCode"]] += 1
        if response.status_code == 200:
            results.update(str(item["ResultCode"]) for item in data["ResultItem"])
    get_service(app).store.close()
    report = {
        "requests": len(plan.requests),
        "duration_us": int((time.monotonic() - started) * 1e6),
        **{f"{what}_errors": 0 for what in ("connect", "read", "write", "timeout", "status")},
        "latency_p50_us": 0,
        "latency_p99_us": 0,
        "latency_mean_us": 0,
        "soak": {
            "planned": len(plan.requests),
            "sent": dict(sent),
            "answers": dict(answers),
            "results": dict(results),
            "unplanned": 0,
            "unsigned": 0,
        },
    }
    return soak.SoakResult({}, plan, report, soak.read_audit(database), 0.0), by_kind


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> soak.SoakResult:
    """A plan with a quarter of hostile requests, replayed in process: a run that passed."""
    plan = build_plan(400, hostile_share=0.25)
    database = str(tmp_path_factory.mktemp("replay") / "soak.sqlite3")
    result, by_kind = replay_in_process(plan, database)
    # A run that passed: the mutations below each break one count of it.
    assert result.problems() == []
    # Each kind of request got its own answer, every time.
    assert by_kind == {
        name: Counter({KINDS[name].answer: count}) for name, count in plan.sent().items()
    }
    return result


def test_every_planned_request_gets_the_answer_its_kind_expects(
    replayed: soak.SoakResult,
) -> None:
    assert replayed.problems() == []
    plan = replayed.plan
    assert set(plan.sent()) == {kind.name for kind in (VALID, *HOSTILE)}
    assert replayed.audit.callbacks == plan.valid == replayed.answers()[200, 0]
    results = replayed.results()
    assert results[PolicyCode.BLOCKLISTED] == plan.items["blocklisted"] > 0
    assert results[PolicyCode.CONTENT] == plan.items["content"] > 0
    # In process, the run takes far less than the velocity window: each bot gets exactly the
    # limit allowed.
    assert results[PolicyCode.VELOCITY] == plan.items["bot"] - len(BOTS) * plan.velocity_limit
    assert results[PolicyCode.VELOCITY] > 0


def test_the_mix_is_planned_as_documented() -> None:
    now = time.time()
    plan = build_plan(SMALL, now=now)
    sent = plan.sent()
    assert plan.hostile == SMALL // 10
    assert [sent[kind.name] for kind in HOSTILE] == [SMALL // 10 // len(HOSTILE)] * len(HOSTILE)
    assert build_plan(SMALL, now=now) == plan  # the seed fixes it
    assert build_plan(SMALL, now=now, seed=1) != plan
    acceptances: Counter[str] = Counter()
    for request in plan.requests:
        if request.kind == VALID.name:
            body = json.loads(request.body)
            assert 1 <= len(body["ResponseFriendItem"]) <= max(ITEM_COUNTS)
            acceptances[body["From_Account"]] += sum(
                item["ResponseAction"] != "Response_Action_Reject"
                for item in body["ResponseFriendItem"]
            )
    plain = {account: n for account, n in acceptances.items() if account not in BOTS}
    # Many responders, none of whom can reach the velocity limit; bots far past it.
    assert len(plain) > plan.valid // 10
    assert max(plain.values()) <= plan.velocity_limit
    assert min(acceptances[bot] for bot in BOTS) >= 2 * plan.velocity_limit
    assert plan.bot_acceptances == {bot: acceptances[bot] for bot in BOTS}
    assert {"allowed", "declined", "blocklisted", "content"} <= set(plan.items)


def test_plan_and_signs_files_are_what_soak_lua_reads(tmp_path: Path) -> None:
    plan = build_plan(300)
    write_plan(plan, tmp_path / "plan.tsv")
    lines = (tmp_path / "plan.tsv").read_text(encoding="ascii").splitlines()
    assert lines[0].startswith("#")
    assert [line.split("\t") for line in lines[1:]] == [
        [r.kind, r.method, r.path, r.body] for r in plan.requests
    ]
    oversized = next(r for r in plan.requests if r.kind == "oversized")
    assert oversized.body == f"{PADDED}{Settings.max_content_length + 1}"
    assert len(padded_body(Settings.max_content_length + 1)) == Settings.max_content_length + 1

    first = int(time.time())
    write_signs(tmp_path / "signs.lua", first - 5, first + 60)
    table = dict(re.findall(r'\[(\d+)\]="([0-9a-f]{64})"', (tmp_path / "signs.lua").read_text()))
    assert {int(second) for second in table} == set(range(first - 5, first + 61))
    assert all(value == sign(TOKEN, second) for second, value in table.items())


def test_the_blocklist_is_set_before_the_run(tmp_path: Path) -> None:
    database = str(tmp_path / "soak.sqlite3")
    soak.block_known_spammers(database)
    blocklist = BlocklistPolicy(storage_uri=embedded_uris(str(tmp_path))[0])
    try:
        assert sorted(entry.account for entry in blocklist.entries()) == sorted(BLOCKED)
    finally:
        blocklist.close()


def _move(counts: dict[str, int], source: str, target: str) -> None:
    counts[source] -= 1
    counts[target] = counts.get(target, 0) + 1


Mutation = Callable[[dict[str, Any], soak.Audit], soak.Audit]


def _server_error(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    _move(report["soak"]["answers"], "200 0", "500 -1")
    return audit


def _forged_sign_accepted(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    _move(report["soak"]["answers"], "401 38902", "200 0")
    return audit


def _unanswered(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["requests"] -= 1
    return audit


def _timeout(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["timeout_errors"] = 1
    return audit


def _socket_error(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["read_errors"] = 2
    return audit


def _unplanned(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["soak"]["unplanned"] = 1
    return audit


def _unsigned(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["soak"]["unsigned"] = 3
    return audit


def _sent_twice(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    report["soak"]["sent"]["nan"] += 1
    return audit


def _blocklist_missed(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    _move(report["soak"]["results"], "38001", "0")
    return audit


def _velocity_missed(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    _move(report["soak"]["results"], "38002", "0")
    return audit


def _audit_row_lost(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    return dataclasses.replace(audit, callbacks=audit.callbacks - 1)


def _audit_decision_lost(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    codes = dict(audit.by_result_code)
    codes[0] -= 1
    return dataclasses.replace(audit, decisions=audit.decisions - 1, by_result_code=codes)


def _audit_code_differs(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    codes = dict(audit.by_result_code)
    codes[PolicyCode.CONTENT] -= 1
    codes[0] += 1
    return dataclasses.replace(audit, by_result_code=codes)


def _hook_failed(report: dict[str, Any], audit: soak.Audit) -> soak.Audit:
    return dataclasses.replace(audit, by_outcome={**audit.by_outcome, "hook_error": 1})


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (_server_error, "1 answers were 5xx"),
        (_forged_sign_accepted, "answers 401 38902"),
        (_unanswered, "answers to 400 planned requests"),
        (_timeout, "1 timeout errors"),
        (_socket_error, "2 read errors"),
        (_unplanned, "the plan does not hold"),
        (_unsigned, "after the table of Signs ended"),
        (_sent_twice, "sent by kind"),
        (_blocklist_missed, "ResultCode 38001"),
        (_velocity_missed, "velocity refused"),
        (_audit_row_lost, "the audit log holds"),
        (_audit_decision_lost, "decisions for"),
        (_audit_code_differs, "ResultCodes logged"),
        (_hook_failed, "hooks failed"),
    ],
)
def test_the_checks_catch_every_miscount(
    replayed: soak.SoakResult, mutation: Mutation, problem: str
) -> None:
    report = copy.deepcopy(replayed.report)
    audit = mutation(report, replayed.audit)
    result = dataclasses.replace(replayed, report=report, audit=audit)
    problems = result.problems()
    assert any(problem in found for found in problems), problems


def test_a_small_soak_of_the_deployed_service_loses_nothing() -> None:
    result = soak.run(SMALL)
    assert result.problems() == []
    answers = result.answers()
    assert result.answered == SMALL
    assert sum(n for (status, _), n in answers.items() if status >= 500) == 0
    assert [result.report[f"{what}_errors"] for what in ("connect", "read", "write")] == [0] * 3
    assert result.report["timeout_errors"] == 0
    for kind in HOSTILE:
        assert answers[kind.answer] == sum(
            result.plan.sent()[other.name] for other in HOSTILE if other.answer == kind.answer
        )
    assert result.audit.callbacks == answers[VALID.answer] == result.plan.valid == SMALL * 9 // 10
    # wrk stopped once every request was answered, not at its time bound.
    assert result.seconds < result.settings["max_seconds"]
