"""The soak: example_app deployed as the README documents, under a bounded load of signed
callbacks with hostile requests mixed in, driven by wrk; every answer and every audit row is
counted against the plan.

``make soak`` runs the full size (20,000 requests at concurrency 32, 10% hostile), prints the
report and writes ``docs/soak.json``; ``tests/test_soak.py`` runs a small one in ``make test``.

How: the plan (``soak_plan.py``) is written to a file before the service starts; the
service gets a fresh SQLite database with a blocklist, and is started with the README's
gunicorn command on a free loopback port; the load starts once every worker has answered (the
access log holds worker pids, nothing else). wrk (``soak.lua``) then sends each planned request
once, signed at its own second, and counts the answers by status and ``ErrorCode``, and the
items of 200 answers by ``ResultCode``; wrk cannot tell which answer went with which request,
so ``tests/test_soak.py`` also replays a plan in process, request by request.

What is checked, and makes the run fail: every planned request sent once and answered; no 5xx,
no timeout (an answer slower than Tencent's 2 s) and no socket error; each kind of request
answered with its status and ``ErrorCode``; each policy's ``ResultCode`` on the items it must
decide; and the audit log holding one callback row per valid callback answered 200, one
decision row per item answered, with the same result codes, and no hook that failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.example_service import (
    access_log_args,
    documented_gunicorn_command,
    documented_workers,
    serve_example,
    wait_for_workers,
)
from example_app import PolicyCode
from example_app.policies import embedded_uris
from example_app.store import Store
from flask_friendcb.policies import BlocklistPolicy

from . import wrk
from .environment import PACKAGES, environment
from .server_cpu import server_cpu_seconds
from .soak_plan import BLOCKED, HOSTILE, VALID, Plan, build_plan, write_plan, write_signs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("soak.lua")
#: What soak.lua prints when one of its threads has had every answer.
FINISHED = "soak: thread finished"
#: Tencent waits 2 s for an answer, then goes ahead without it: a slower answer is a timeout.
TIMEOUT = "2s"
#: The full run of ``make soak``.
REQUESTS = 20_000
CONNECTIONS = 32
#: wrk's threads: one per core of the development machine.
THREADS = 2
HOSTILE_SHARE = 0.1
#: Milliseconds a connection waits between an answer and its next request. Tencent's requests
#: cross a network, so a worker always finds its socket empty after answering and goes back to
#: its event loop. wrk on loopback sends the next request within microseconds: a gevent worker
#: then finds it already there, serves it without yielding, and one connection can hold the
#: worker while the others wait (for up to 1.9 s, measured with the library alone and no
#: hooks). One millisecond restores what a network does, and leaves the load saturating.
THINK_MS = 1


@dataclass(frozen=True)
class Audit:
    """What the audit log holds after a run."""

    callbacks: int
    decisions: int
    by_result_code: dict[int, int]
    by_outcome: dict[str, int]


def read_audit(database: str) -> Audit:
    """Count the rows of example_app's audit log at ``database``."""
    store = Store(database)
    try:
        callbacks, decisions = store.counts()
    finally:
        store.close()
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        codes = db.execute("SELECT result_code, count(*) FROM decisions GROUP BY result_code")
        by_code = {int(code): int(count) for code, count in codes}
        outcomes = db.execute("SELECT outcome, count(*) FROM decisions GROUP BY outcome")
        by_outcome = {str(outcome): int(count) for outcome, count in outcomes}
    db.close()
    return Audit(callbacks, decisions, by_code, by_outcome)


def block_known_spammers(database: str) -> None:
    """Put :data:`~bench.soak_plan.BLOCKED` on the service's blocklist, as its operator
    would, before the service starts."""
    folder = os.path.dirname(os.path.abspath(database))
    blocklist = BlocklistPolicy(storage_uri=embedded_uris(folder)[0])
    try:
        for account in BLOCKED:
            blocklist.add(account, "a known spam farm")
    finally:
        blocklist.close()


@dataclass
class SoakResult:
    """A run's plan, wrk's report and tallies, the audit log's counts, the server's CPU."""

    settings: dict[str, Any]
    plan: Plan
    #: The JSON soak.lua printed: wrk's figures, and its tallies under "soak".
    report: dict[str, Any]
    audit: Audit
    server_cpu_s: float

    @property
    def answered(self) -> int:
        return int(self.report["requests"])

    @property
    def seconds(self) -> float:
        return float(self.report["duration_us"]) / 1e6

    @property
    def rps(self) -> float:
        return self.answered / self.seconds

    def answers(self) -> Counter[tuple[int, int]]:
        """Answers by (status, ``ErrorCode``); -1 for an answer without one."""
        answers: Counter[tuple[int, int]] = Counter()
        for key, count in self.report["soak"]["answers"].items():
            status, code = key.split(" ")
            answers[int(status), int(code) if code.isdigit() else -1] += int(count)
        return answers

    def results(self) -> Counter[int]:
        """Items of the 200 answers, by ``ResultCode``."""
        return Counter({int(code): int(n) for code, n in self.report["soak"]["results"].items()})

    def problems(self) -> list[str]:
        """Every count that is not what the plan says; empty when the run passed."""
        found: list[str] = []
        soak, plan = self.report["soak"], self.plan
        planned = len(plan.requests)
        if soak["planned"] != planned:
            found.append(f"wrk's threads read {soak['planned']} of {planned} planned requests")
        if Counter(soak["sent"]) != plan.sent():
            found.append(f"sent by kind {dict(soak['sent'])}, planned {dict(plan.sent())}")
        if self.answered != planned:
            found.append(f"{self.answered:,} answers to {planned:,} planned requests")
        for what in ("connect", "read", "write", "timeout"):
            if self.report[f"{what}_errors"]:
                found.append(f"{self.report[f'{what}_errors']} {what} errors")
        if soak["unplanned"]:
            found.append(f"{soak['unplanned']} requests were sent that the plan does not hold")
        if soak["unsigned"]:
            found.append(f"{soak['unsigned']} requests were sent after the table of Signs ended")
        answers, expected = self.answers(), plan.expected_answers()
        server_errors = sum(n for (status, _), n in answers.items() if status >= 500)
        if server_errors:
            found.append(f"{server_errors} answers were 5xx")
        for status, code in sorted(set(answers) | set(expected)):
            got, want = answers[status, code], expected[status, code]
            if got != want:
                found.append(f"{got:,} answers {status} {code}, {want:,} expected")
        found += self._result_problems()
        found += self._audit_problems()
        return found

    def _result_problems(self) -> list[str]:
        found = []
        results, plan = self.results(), self.plan
        for code, want in plan.expected_results().items():
            if code and results[code] != want:
                found.append(f"{results[code]:,} items got ResultCode {code}, {want:,} expected")
        # Plain acceptances and declines, and the bots' acceptances the limit let through.
        refused = results[PolicyCode.VELOCITY]
        if results[0] + refused != plan.expected_results()[0] + plan.items["bot"]:
            found.append(
                f"{results[0]:,} items allowed and {refused:,} refused by velocity, "
                f"{plan.expected_results()[0] + plan.items['bot']:,} expected in all"
            )
        low, high = plan.velocity_refusals(self.seconds)
        if not low <= refused <= high:
            found.append(f"velocity refused {refused} bot acceptances, not {low} to {high}")
        others = set(results) - {0, *PolicyCode}
        if others:
            found.append(f"unexpected ResultCodes {sorted(others)}")
        return found

    def _audit_problems(self) -> list[str]:
        found = []
        audit, answered_ok = self.audit, self.answers()[VALID.answer]
        if not audit.callbacks == answered_ok == self.plan.valid:
            found.append(
                f"the audit log holds {audit.callbacks:,} callbacks; {answered_ok:,} were "
                f"answered 200, {self.plan.valid:,} valid ones sent"
            )
        items = sum(self.results().values())
        if audit.decisions != items:
            found.append(f"the audit log holds {audit.decisions:,} decisions for {items:,} items")
        if Counter(audit.by_result_code) != self.results():
            found.append(
                f"ResultCodes logged {audit.by_result_code} differ from those answered "
                f"{dict(self.results())}"
            )
        failed = {k: n for k, n in audit.by_outcome.items() if k in ("hook_error", "deadline")}
        if failed:
            found.append(f"hooks failed or ran out of time: {failed}")
        return found

    def as_dict(self) -> dict[str, Any]:
        results = self.results()
        return {
            "settings": self.settings,
            "requests": len(self.plan.requests),
            "valid": self.plan.valid,
            "hostile": self.plan.hostile,
            "answered": self.answered,
            "seconds": self.seconds,
            "rps": self.rps,
            "latency_p50_us": self.report["latency_p50_us"],
            "latency_p99_us": self.report["latency_p99_us"],
            "latency_mean_us": self.report["latency_mean_us"],
            "latency_max_us": self.report["latency_max_us"],
            "server_cpu_us_per_request": self.server_cpu_s * 1e6 / max(self.answered, 1),
            "errors": {
                what: self.report[f"{what}_errors"]
                for what in ("connect", "read", "write", "timeout")
            },
            "server_errors": sum(n for (s, _), n in self.answers().items() if s >= 500),
            "sent_by_kind": dict(self.plan.sent()),
            "answers": {
                f"{status} {code}": {"got": self.answers()[status, code], "expected": n}
                for (status, code), n in sorted(self.plan.expected_answers().items())
            },
            "items": dict(self.plan.items),
            "result_codes": {str(code): n for code, n in sorted(results.items())},
            "velocity_refusals_bounds": self.plan.velocity_refusals(self.seconds),
            "audit": {
                "callbacks": self.audit.callbacks,
                "decisions": self.audit.decisions,
                "by_result_code": {str(k): n for k, n in sorted(self.audit.by_result_code.items())},
                "by_outcome": self.audit.by_outcome,
            },
            "problems": self.problems(),
        }


def default_bound(requests: int) -> float:
    """Seconds a run of ``requests`` may last: generous (50 requests a second) and at least a
    minute, so that only a server that stalls reaches it."""
    return max(60.0, requests / 50)


def run(
    requests: int = REQUESTS,
    *,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
    hostile_share: float = HOSTILE_SHARE,
    max_seconds: float | None = None,
    think_ms: int = THINK_MS,
    seed: int = 20261125,
) -> SoakResult:
    """One soak of ``requests`` against a fresh example_app; see the module's docstring."""
    if requests < connections:
        raise ValueError(f"{requests} requests cannot keep {connections} connections busy")
    bound = default_bound(requests) if max_seconds is None else max_seconds
    wrk.find_wrk()  # before the server starts: no wrk, no run
    plan = build_plan(requests, hostile_share=hostile_share, seed=seed)
    command = documented_gunicorn_command()
    bind = command.index("--bind")
    settings = {
        # The README's command; serve_example binds a free loopback port instead of 8000, and
        # the access log holds worker pids only (to know that every worker is up).
        "gunicorn": " ".join(command[:bind] + command[bind + 2 :]),
        "wrk": f"--threads={threads} --connections={connections} --timeout={TIMEOUT}",
        "think_ms": think_ms,
        "max_seconds": bound,
        "hostile_share": hostile_share,
        "seed": seed,
    }
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        database = str(Path(folder, "soak.sqlite3"))
        plan_file, signs_file = Path(folder, "plan.tsv"), Path(folder, "signs.lua")
        access_log = Path(folder, "access.log")
        block_known_spammers(database)
        write_plan(plan, plan_file)
        with serve_example(
            database, env=plan.server_env(), args=access_log_args(access_log)
        ) as address:
            # The load starts once every worker has loaded the app and answered.
            wait_for_workers(address, access_log, documented_workers())
            warm_up = access_log.stat().st_size
            now = int(time.time())
            # Every second the run may reach, and a few before (a request signed at second t
            # is checked a moment later).
            write_signs(signs_file, now - 5, now + math.ceil(bound) + 5)
            cpu_before = server_cpu_seconds(address)
            report = wrk.run(
                SCRIPT,
                address,
                threads=threads,
                connections=connections,
                seconds=bound,
                timeout=TIMEOUT,
                script_args=(str(plan_file), str(signs_file), str(threads), str(think_ms)),
                finished_marker=FINISHED,
            )
            server_cpu = server_cpu_seconds(address) - cpu_before
        with access_log.open() as log:
            log.seek(warm_up)
            served = Counter(log.read().split())
        audit = read_audit(database)
    settings["requests_per_worker"] = sorted(served.values(), reverse=True)
    return SoakResult(settings, plan, report, audit, server_cpu)


def describe(result: SoakResult, env: dict[str, Any]) -> str:
    """The report ``make soak`` prints (Markdown tables)."""
    data = result.as_dict()
    lines = [
        f"{env['date']}, {env['machine']}, Python {env['python']}",
        ", ".join(f"{name} {v}" for name, v in env["versions"].items()),
        f"gunicorn {data['settings']['gunicorn']}; wrk {data['settings']['wrk']}; "
        f"{data['settings']['think_ms']} ms between an answer and the next request",
        "",
        "| requests | hostile | answered | 5xx | socket errors | timeouts | requests/s "
        "| p50 | p99 | server CPU per request |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {data['requests']:,} | {data['hostile']:,} | {data['answered']:,} "
        f"| {data['server_errors']} "
        f"| {sum(n for what, n in data['errors'].items() if what != 'timeout')} "
        f"| {data['errors']['timeout']} | {data['rps']:,.0f} "
        f"| {data['latency_p50_us'] / 1000:.1f} ms | {data['latency_p99_us'] / 1000:.1f} ms "
        f"| {data['server_cpu_us_per_request']:,.0f} µs |",
        "",
        f"slowest answer {data['latency_max_us'] / 1000:.0f} ms; workers served "
        + " and ".join(f"{n:,}" for n in data["settings"].get("requests_per_worker", []))
        + " requests",
        "",
        "| answer | requests | expected | got |",
        "| --- | --- | ---: | ---: |",
    ]
    answers, expected = result.answers(), result.plan.expected_answers()
    sent = result.plan.sent()
    for answer in sorted(set(answers) | set(expected)):
        kinds = [kind for kind in (VALID, *HOSTILE) if kind.answer == answer]
        names = "; ".join(f"{kind.description} ({sent[kind.name]:,})" for kind in kinds)
        lines.append(
            f"| {answer[0]} {answer[1]} | {names or 'none'} | {expected[answer]:,} "
            f"| {answers[answer]:,} |"
        )
    results, items = result.results(), result.plan.items
    low, high = result.plan.velocity_refusals(result.seconds)
    lines += [
        "",
        f"items answered: {sum(results.values()):,}; by ResultCode "
        + ", ".join(f"{code}: {n:,}" for code, n in sorted(results.items())),
        f"planned: {items['allowed']:,} allowed, {items['declined']:,} declined, "
        f"{items['blocklisted']:,} blocklisted (38001), {items['content']:,} content (38003), "
        f"{items['bot']:,} bot acceptances of which {low:,} to {high:,} over the velocity "
        "limit (38002)",
        f"audit log: {result.audit.callbacks:,} callbacks for {answers[VALID.answer]:,} "
        f"answered 200; {result.audit.decisions:,} decisions; by ResultCode "
        + ", ".join(f"{code}: {n:,}" for code, n in sorted(result.audit.by_result_code.items())),
    ]
    problems = result.problems()
    lines.append("")
    lines.append("problems: " + "; ".join(problems) if problems else "every count as planned")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--hostile", type=float, default=HOSTILE_SHARE, help="share (0.1)")
    parser.add_argument("--max-seconds", type=float, help="the run's time bound")
    parser.add_argument(
        "--think-ms", type=int, default=THINK_MS, help="wait between answer and next request"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "soak.json")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    env = environment((*PACKAGES, "gevent"))
    env["versions"]["wrk"] = wrk.version()
    print(f"soak: {args.requests:,} requests at concurrency {args.connections} ...", flush=True)
    result = run(
        args.requests,
        connections=args.connections,
        threads=args.threads,
        hostile_share=args.hostile,
        max_seconds=args.max_seconds,
        think_ms=args.think_ms,
    )
    print(describe(result, env))
    if not args.no_json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"environment": env, **result.as_dict()}, indent=1, ensure_ascii=False)
            + "\n"
        )
        print(f"figures: {args.json}")
    return 1 if result.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
