"""Is memory flat over 100,000 callbacks, hostile ones and failing hooks included?

``python -m bench.rss_growth`` (``make memory``) serves the same request mix to three WSGI
apps, each in a fresh process: the blueprint in a Flask app, the middleware around a bare WSGI
app, and, as the baseline, a bare Flask app whose one route reads the JSON body. The mix, per
100 requests: 60 signed friend-response callbacks whose hooks allow, reject, raise (logged with
a traceback) or return junk; 10 other commands; 30 refusals (forged, stale or repeated Sign,
another SdkAppid, not JSON, nesting past the recursion limit, a 64 KB body). RSS is read after
a warm-up and after every further tenth of the run; the report gives, per app, the median over
rounds of the growth from the end of the warm-up to the end, with the date and the machine.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

import psutil
from flask import Flask, request
from werkzeug.test import EnvironBuilder

from devtools.apps import flask_app, middleware
from devtools.signing import NOW, PATH, SDKAPPID, TOKEN, FrozenClock
from flask_friendcb import FriendResponseAnswer, HookRegistry, Reject
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem
from flask_friendcb.signals import answer_decided
from flask_friendcb.testing import callback_query, friend_response_body, response_item

TARGETS = ("baseline", "blueprint", "middleware")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def policy(hooks: HookRegistry) -> None:
    """Hooks that exercise every path: allow, reject, raise, junk."""

    @hooks.on_friend_response
    def misbehave(item: FriendResponseItem, event: FriendResponseEvent) -> Any:
        if item.to_account.startswith("boom"):
            raise RuntimeError(f"policy store unavailable for {item.to_account}")
        if item.to_account.startswith("junk"):
            return {"verdict": "allow"}
        if item.to_account.startswith("spam"):
            return Reject(38001, "spam")
        return None


def build(target: str) -> WsgiApp:
    clock = FrozenClock(NOW)
    if target == "blueprint":
        app, blueprint = flask_app(FRIENDCB_CLOCK=clock)
        policy(blueprint.hooks)
        return app.wsgi_app  # type: ignore[return-value]
    if target == "middleware":
        wrapped = middleware(clock=clock)
        policy(wrapped.hooks)
        return wrapped  # type: ignore[return-value]
    baseline = Flask("baseline")

    @baseline.post(PATH)
    def callback() -> dict[str, Any]:
        body = request.get_json(silent=True)
        return {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "Seen": type(body).__name__}

    return baseline.wsgi_app  # type: ignore[return-value]


def request_mix() -> list[tuple[dict[str, Any], bytes]]:
    """100 request templates (environ, body)."""
    signed = callback_query(SDKAPPID, token=TOKEN, request_time=NOW)
    other = callback_query(
        SDKAPPID, token=TOKEN, request_time=NOW, command="C2C.CallbackAfterSendMsg"
    )
    mix: list[tuple[str, bytes]] = []
    for n in range(60):
        accounts = [f"user{n}", ("boom", "junk", "spam", "alice")[n // 2 % 4] + str(n)][: 1 + n % 2]
        items = [response_item(a, remark="r" * (n % 7)) for a in accounts]
        body = friend_response_body(f"responder{n}", items, event_time_ms=NOW * 1000)
        mix.append((signed, json.dumps(body).encode()))
    for n in range(10):
        mix.append(
            (other, json.dumps({"CallbackCommand": "C2C.CallbackAfterSendMsg", "N": n}).encode())
        )
    valid = mix[0][1]
    hostile = [
        (callback_query(SDKAPPID, token="forged", request_time=NOW), valid),  # noqa: S106
        (callback_query(SDKAPPID, token=TOKEN, request_time=NOW - 3600), valid),
        (callback_query("1400000001", token=TOKEN, request_time=NOW), valid),
        (signed + "&Sign=" + "0" * 64, valid),
        (signed, b"{not json"),
        (signed, b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"),
        (signed, json.dumps({"From_Account": 1}).encode()),
        (signed, b"[]"),
        (signed, json.dumps({"Padding": "x" * 65536}).encode()),
        (signed, b"\xff\xfe"),
    ]
    mix.extend(hostile * 3)
    return [(_environ(query, body), body) for query, body in mix]


def _environ(query: str, body: bytes) -> dict[str, Any]:
    environ = EnvironBuilder(
        path=PATH, method="POST", data=body, content_type="application/json"
    ).get_environ()
    environ["QUERY_STRING"] = query
    return environ


def run(target: str, requests: int, samples: int) -> dict[str, Any]:
    """Serve ``requests`` requests to one app in this process; RSS in KiB."""
    logger = logging.getLogger("flask_friendcb")
    # Hook failures are logged with their tracebacks, as in production, to a sink.
    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the run)
    logger.addHandler(sink)
    logger.propagate = False
    app = build(target)
    mix = request_mix()
    statuses: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    def count_outcomes(sender: Any, event: Any, answer: FriendResponseAnswer) -> None:
        outcomes.update(str(result.outcome) for result in answer.results)

    answer_decided.connect(count_outcomes)
    process = psutil.Process()

    def serve(count: int, offset: int) -> None:
        for index in range(offset, offset + count):
            template, body = mix[index % len(mix)]
            environ = dict(template)
            environ["wsgi.input"] = io.BytesIO(body)
            seen: list[str] = []
            for _ in app(
                environ, lambda line, headers, exc_info=None, seen=seen: seen.append(line)
            ):
                pass
            statuses[seen[0][:3]] += 1

    def rss() -> int:
        gc.collect()
        return int(process.memory_info().rss // 1024)

    step = requests // samples
    serve(step, 0)  # warm-up: caches, imports, allocator arenas
    series = [rss()]
    started = time.perf_counter()
    for sample in range(1, samples):
        serve(step, sample * step)
        series.append(rss())
    elapsed = time.perf_counter() - started
    return {
        "target": target,
        "requests": step * samples,
        "rss_kib": series,
        "growth_kib": series[-1] - series[0],
        "seconds": round(elapsed, 2),
        "statuses": dict(sorted(statuses.items())),
        "outcomes": dict(sorted(outcomes.items())),
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = psutil.virtual_memory().total / 2**30
    python = f"Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {python}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per app")
    parser.add_argument("--samples", type=int, default=10, help="RSS readings per run")
    parser.add_argument("--target", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if args.target:
        print(json.dumps(run(args.target, args.requests, args.samples)))
        return
    runs: dict[str, list[dict[str, Any]]] = {target: [] for target in TARGETS}
    for _ in range(args.rounds):
        for target in TARGETS:  # interleaved, so that load on the machine falls on all alike
            command = [sys.executable, "-m", "bench.rss_growth", "--target", target]
            command += ["--requests", str(args.requests), "--samples", str(args.samples)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            output = done.stdout
            runs[target].append(json.loads(output))
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "requests": runs["baseline"][0]["requests"],
        "rounds": args.rounds,
        "targets": {
            target: {
                "median_growth_kib": statistics.median(r["growth_kib"] for r in results),
                "median_rss_kib": statistics.median(r["rss_kib"][-1] for r in results),
                "median_seconds": statistics.median(r["seconds"] for r in results),
                "runs": results,
            }
            for target, results in runs.items()
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    base = report["targets"]["baseline"]
    print(f"RSS over {report['requests']:,} requests, median of {args.rounds} fresh processes")
    print(f"{report['date']}, {report['machine']}\n")
    print(
        "| app | RSS at end | growth after warm-up | vs baseline growth | RSS vs baseline "
        "| answers (first run) | item outcomes (first run) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for target, result in report["targets"].items():
        first = result["runs"][0]
        print(
            f"| {target} | {result['median_rss_kib'] / 1024:.1f} MiB "
            f"| {result['median_growth_kib']:+,.0f} KiB "
            f"| {result['median_growth_kib'] - base['median_growth_kib']:+,.0f} KiB "
            f"| {result['median_rss_kib'] / base['median_rss_kib']:.2f}x "
            f"| {_counts(first['statuses'])} | {_counts(first['outcomes'])} |"
        )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{value:,} {key}" for key, value in counts.items()) or "-"


if __name__ == "__main__":
    main()
