"""End to end: gunicorn on loopback serving (b) and (c) with the same settings, driven by wrk.

Both servers run at once, each on its own free port of 127.0.0.1, and wrk runs alternate
between them, so both see the same machine. Each wrk run is signed just before it starts and
lasts a few seconds, well inside the default 60 s ``RequestTime`` window: the receiver keeps its
default settings.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.servers import gunicorn

from . import wrk
from .apps import PATH
from .inprocess import AnswerMismatch, expected_answer
from .server_cpu import server_cpu_seconds
from .workload import body_bytes, signed_query

LUA = Path(__file__).with_name("signed_post.lua")
#: The same for both servers: one worker process with threads, which keeps connections
#: alive as Tencent's callbacks do.
GUNICORN_ARGS = ("--worker-class", "gthread", "--workers", "1", "--threads", "4")
APPS = {"b": "bench.apps:bare()", "c": "bench.apps:blueprint()"}


@dataclass
class EndToEndResult:
    """Every wrk run's figures: ``runs[kind]`` has one dict per round."""

    settings: dict[str, Any]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rps(self, kind: str) -> float:
        return statistics.median(
            run["requests"] / (run["duration_us"] / 1e6) for run in self.runs[kind]
        )

    def latency_us(self, kind: str, percentile: str) -> float:
        return statistics.median(run[f"latency_{percentile}_us"] for run in self.runs[kind])

    def server_cpu_us(self, kind: str) -> float:
        """Median over rounds of the server's CPU time per request."""
        return statistics.median(run["server_cpu_us"] / run["requests"] for run in self.runs[kind])

    def ratio(self) -> float:
        """The median over rounds of (c)'s throughput over (b)'s in the same round."""
        return statistics.median(
            (c["requests"] / c["duration_us"]) / (b["requests"] / b["duration_us"])
            for b, c in zip(self.runs["b"], self.runs["c"], strict=True)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rps": {kind: self.rps(kind) for kind in self.runs},
            "p50_us": {kind: self.latency_us(kind, "p50") for kind in self.runs},
            "p99_us": {kind: self.latency_us(kind, "p99") for kind in self.runs},
            "server_cpu_us_per_request": {kind: self.server_cpu_us(kind) for kind in self.runs},
            "ratio_c_to_b": self.ratio(),
            "runs": self.runs,
        }


def _check(address: str, body: bytes) -> None:
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            f"{PATH}?{signed_query()}",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        reply = connection.getresponse()
        data = reply.read()
    finally:
        connection.close()
    if reply.status != 200 or json.loads(data) != expected_answer(body):
        raise AnswerMismatch(f"{address} answered {reply.status} {data[:200]!r}")


def _wrk(
    address: str, body_file: str, seconds: float, threads: int, connections: int
) -> dict[str, Any]:
    cpu_before = server_cpu_seconds(address)
    run = wrk.run(
        LUA,
        address,
        threads=threads,
        connections=connections,
        seconds=seconds,
        script_args=(f"{PATH}?{signed_query()}", body_file),
    )
    run["server_cpu_us"] = (server_cpu_seconds(address) - cpu_before) * 1e6
    errors = sum(run[key] for key in run if key.endswith("_errors"))
    if errors or not run["requests"]:
        raise AnswerMismatch(f"wrk against {address}: {errors} errors, {run}")
    return run


@contextlib.contextmanager
def _servers(args: tuple[str, ...]) -> Iterator[dict[str, str]]:
    with contextlib.ExitStack() as stack:
        yield {kind: stack.enter_context(gunicorn(app, args=args)) for kind, app in APPS.items()}


def run(
    rounds: int = 10,
    seconds: float = 3.0,
    *,
    items: int = 1,
    threads: int = 1,
    connections: int = 8,
    gunicorn_args: tuple[str, ...] = GUNICORN_ARGS,
    progress: bool = False,
) -> EndToEndResult:
    """Alternate wrk runs of ``seconds`` against (b) and (c), ``rounds`` times each, after a
    one-second warm-up of each."""
    if seconds >= 50:
        raise ValueError("each wrk run must stay well inside the 60 s RequestTime window")
    wrk.find_wrk()  # before any server starts: no wrk, no run
    body = body_bytes(items)
    result = EndToEndResult(
        {
            "gunicorn": " ".join(gunicorn_args),
            "wrk": f"--threads={threads} --connections={connections} --duration={seconds:g}s",
            "rounds": rounds,
            "items": items,
        },
        {kind: [] for kind in APPS},
    )
    with (
        tempfile.NamedTemporaryFile(suffix=".json") as body_file,
        _servers(gunicorn_args) as addresses,
    ):
        body_file.write(body)
        body_file.flush()
        for address in addresses.values():
            _check(address, body)
            _wrk(address, body_file.name, 1, threads, connections)
        for number in range(rounds):
            order = list(APPS) if number % 2 == 0 else list(reversed(APPS))
            for kind in order:
                result.runs[kind].append(
                    _wrk(addresses[kind], body_file.name, seconds, threads, connections)
                )
            if progress:
                print(f"  wrk round {number + 1}/{rounds}", end="\r", flush=True)
    if progress:
        print(" " * 30, end="\r")
    return result
