"""The ASGI receiver against bare Starlette endpoints, in process and under uvicorn; and the
a2wsgi route (the blueprint's Flask app behind ``a2wsgi.WSGIMiddleware``) beside them.

Each receiver is measured against the bare endpoint that does the same kind of work:

- **(ra)** ``FriendCallbackASGI`` with a token and one no-op ``async def`` hook (awaited on the
  loop), against **(s)**, a bare Starlette endpoint that parses the same JSON and answers the
  same body, with no authentication and no validation;
- **(r)** the same receiver with one no-op plain hook (run in a worker thread, as every plain
  hook is, so that it never blocks the loop), against **(st)**, the same bare endpoint calling
  a no-op plain function the way Starlette's documentation says to call blocking code
  (``run_in_threadpool``): both pay one thread hop per request;
- **(w)** the blueprint's Flask app behind a2wsgi, what an ASGI deployment did before.

In process, each is called as an ASGI app on one event loop, request after request; time is
the process's CPU time (``time.process_time``: the worker threads that plain hooks, the thread
pool and a2wsgi use are counted), a ratio the median of per-round ratios to its baseline. End
to end, uvicorn serves each on its own free port of 127.0.0.1, and wrk runs alternate between
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.servers import ROOT, free_port, wait_for_port
from flask_friendcb.asgi import FriendCallbackASGI
from flask_friendcb.models import FriendResponseEvent, FriendResponseItem

from . import wrk
from .apps import PATH, SDKAPPID, TOKEN, _answer, blueprint_app
from .inprocess import AnswerMismatch, expected_answer
from .workload import body_bytes, signed_query

LUA = Path(__file__).with_name("signed_post.lua")
KINDS = ("s", "st", "r", "ra", "w")
LABELS = {
    "s": "(s) bare Starlette",
    "st": "(st) bare Starlette, a plain call in its thread pool",
    "r": "(r) FriendCallbackASGI, plain hook",
    "ra": "(ra) FriendCallbackASGI, async hook",
    "w": "(w) blueprint behind a2wsgi",
}
#: Each receiver's baseline: the bare endpoint doing the same kind of work.
BASELINES = {"s": "s", "st": "s", "r": "st", "ra": "s", "w": "s"}
#: Bars for a receiver against its baseline in process, by item count; end to end, it keeps
#: this share of its baseline's throughput.
BARS = {1: 1.3, 10: 1.6, 100: 2.5}
E2E_BAR = 0.9
#: The receivers the bars are for.
BARRED = ("ra", "r")
ITEM_COUNTS = (1, 10, 100)
BATCH = {1: 200, 10: 80, 100: 12}
UVICORN_ARGS = ("--workers", "1", "--no-access-log", "--log-level", "warning")


# -- the apps ----------------------------------------------------------------------------------


def bare_starlette() -> Any:
    """(s): a hand-written Starlette endpoint."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def callback(request: Request) -> Response:
        body = await request.json()
        data = json.dumps(_answer(body), separators=(",", ":")).encode()
        return Response(data, media_type="application/json")

    return Starlette(routes=[Route(PATH, callback, methods=["POST"])])


def _noop(body: Any) -> None:
    return None


def bare_starlette_threaded() -> Any:
    """(st): the hand-written Starlette endpoint, calling a plain function in Starlette's
    thread pool."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def callback(request: Request) -> Response:
        body = await request.json()
        await run_in_threadpool(_noop, body)
        data = json.dumps(_answer(body), separators=(",", ":")).encode()
        return Response(data, media_type="application/json")

    return Starlette(routes=[Route(PATH, callback, methods=["POST"])])


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _noop_hook(item: FriendResponseItem, event: FriendResponseEvent) -> None:
    return None


async def _async_noop_hook(item: FriendResponseItem, event: FriendResponseEvent) -> None:
    return None


def receiver() -> FriendCallbackASGI:
    """(r): the ASGI receiver with a token and one no-op plain hook."""
    app = FriendCallbackASGI(_not_found, path=PATH, sdkappid=SDKAPPID, token=TOKEN)
    app.on_friend_response(_noop_hook)
    return app


def async_receiver() -> FriendCallbackASGI:
    """(ra): the ASGI receiver with a token and one no-op ``async def`` hook."""
    app = FriendCallbackASGI(_not_found, path=PATH, sdkappid=SDKAPPID, token=TOKEN)
    app.on_friend_response(_async_noop_hook)
    return app


def a2wsgi_route() -> Any:
    """(w): the blueprint's Flask app behind a2wsgi, marked as ending its input (the wrapper
    of docs/deploying.md)."""
    from a2wsgi import WSGIMiddleware

    flask = blueprint_app().wsgi_app

    def input_terminated(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input_terminated"] = True
        return flask(environ, start_response)

    return WSGIMiddleware(input_terminated)  # type: ignore[arg-type]


BUILDERS = {
    "s": bare_starlette,
    "st": bare_starlette_threaded,
    "r": receiver,
    "ra": async_receiver,
    "w": a2wsgi_route,
}
FACTORIES = {kind: f"bench.asgi:{builder.__name__}" for kind, builder in BUILDERS.items()}


# -- in process --------------------------------------------------------------------------------


def _scope(query: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:
            await asyncio.sleep(3600)  # as a server does: nothing more until the client goes
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _batch(app: Any, scope: dict[str, Any], body: bytes, count: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    started, cpu_started = loop.time(), _process_time()
    for _ in range(count):
        await _call(app, scope, body)
    return (_process_time() - cpu_started) / count, (loop.time() - started) / count


def _process_time() -> float:
    import time

    return time.process_time()


@dataclass
class ASGIInProcessResult:
    """CPU seconds per request, ``samples[items][kind]``, one per round."""

    rounds: int
    batch: dict[int, int]
    samples: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    wall: dict[int, dict[str, list[float]]] = field(default_factory=dict)

    def median_us(self, items: int, kind: str) -> float:
        return statistics.median(self.samples[items][kind]) * 1e6

    def ratio(self, items: int, kind: str, base: str | None = None) -> float:
        """``kind`` against ``base``, its own baseline (:data:`BASELINES`) by default."""
        base = BASELINES[kind] if base is None else base
        pairs = zip(self.samples[items][kind], self.samples[items][base], strict=True)
        return statistics.median(mine / theirs for mine, theirs in pairs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "batch": self.batch,
            "median_us": {
                n: {kind: self.median_us(n, kind) for kind in per}
                for n, per in self.samples.items()
            },
            "baselines": {kind: BASELINES[kind] for kind in next(iter(self.samples.values()))},
            "ratio_to_s": {
                n: {kind: self.ratio(n, kind, "s") for kind in per}
                for n, per in self.samples.items()
            },
            "ratio_to_baseline": {
                n: {kind: self.ratio(n, kind) for kind in per} for n, per in self.samples.items()
            },
            "wall_median_us": {
                n: {kind: statistics.median(v) * 1e6 for kind, v in per.items()}
                for n, per in self.wall.items()
            },
        }


def run_inprocess(
    rounds: int = 30,
    scale: float = 1.0,
    item_counts: Sequence[int] = ITEM_COUNTS,
    kinds: Sequence[str] = KINDS,
    *,
    warmup: int = 1,
) -> ASGIInProcessResult:
    """Time every ASGI receiver at every item count, ``rounds`` times, interleaved, after
    checking that each answers every item count as (s) does."""
    batch = {n: max(1, round(BATCH.get(n, 40) * scale)) for n in item_counts}
    result = ASGIInProcessResult(
        rounds,
        batch,
        {n: {k: [] for k in kinds} for n in item_counts},
        {n: {k: [] for k in kinds} for n in item_counts},
    )

    async def main() -> None:
        apps = {kind: BUILDERS[kind]() for kind in kinds}
        bodies = {n: body_bytes(n) for n in item_counts}
        for n in item_counts:
            scope = _scope(signed_query(), bodies[n])
            for kind, app in apps.items():
                status, data = await _call(app, scope, bodies[n])
                if status != 200 or json.loads(data) != expected_answer(bodies[n]):
                    raise AnswerMismatch(f"{kind} at {n} items answered {status} {data[:200]!r}")
        for number in range(warmup + rounds):
            query = signed_query()
            order = list(kinds[number % len(kinds) :]) + list(kinds[: number % len(kinds)])
            for n in item_counts:
                scope = _scope(query, bodies[n])
                for kind in order:
                    gc.collect()
                    cpu, wall = await _batch(apps[kind], scope, bodies[n], batch[n])
                    if number >= warmup:
                        result.samples[n][kind].append(cpu)
                        result.wall[n][kind].append(wall)

    asyncio.run(main())
    return result


# -- end to end --------------------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn(factory: str, args: Sequence[str] = UVICORN_ARGS) -> Iterator[tuple[str, int]]:
    """Serve ``factory`` with uvicorn on 127.0.0.1 and a free port; yields the address and the
    server's pid."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
        factory,
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
        try:
            try:
                wait_for_port(port, process)
            except (RuntimeError, TimeoutError) as error:
                log.seek(0)
                raise RuntimeError(f"{error}: {log.read().decode(errors='replace')}") from None
            yield f"127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _cpu_seconds(pid: int) -> float:
    # utime + stime of the server process, its threads included.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ASGIEndToEndResult:
    settings: dict[str, Any]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rps(self, kind: str) -> float:
        return statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in self.runs[kind])

    def ratio(self, kind: str, base: str | None = None) -> float:
        """``kind``'s throughput against ``base``'s, its own baseline by default."""
        base = BASELINES[kind] if base is None else base
        return statistics.median(
            (mine["requests"] / mine["duration_us"]) / (theirs["requests"] / theirs["duration_us"])
            for mine, theirs in zip(self.runs[kind], self.runs[base], strict=True)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rps": {kind: self.rps(kind) for kind in self.runs},
            "p99_us": {
                kind: statistics.median(r["latency_p99_us"] for r in runs)
                for kind, runs in self.runs.items()
            },
            "server_cpu_us_per_request": {
                kind: statistics.median(r["server_cpu_us"] / r["requests"] for r in runs)
                for kind, runs in self.runs.items()
            },
            "ratio_to_s": {kind: self.ratio(kind, "s") for kind in self.runs},
            "ratio_to_baseline": {kind: self.ratio(kind) for kind in self.runs},
            "runs": self.runs,
        }


def run_endtoend(
    rounds: int = 10,
    seconds: float = 3.0,
    *,
    items: int = 1,
    kinds: Sequence[str] = KINDS,
    threads: int = 1,
    connections: int = 8,
) -> ASGIEndToEndResult:
    """Alternate wrk runs of ``seconds`` against each kind under uvicorn, ``rounds`` times."""
    if seconds >= 50:
        raise ValueError("each wrk run must stay well inside the 60 s RequestTime window")
    wrk.find_wrk()
    body = body_bytes(items)
    result = ASGIEndToEndResult(
        {
            "uvicorn": " ".join(UVICORN_ARGS),
            "wrk": f"--threads={threads} --connections={connections} --duration={seconds:g}s",
            "rounds": rounds,
            "items": items,
        },
        {kind: [] for kind in kinds},
    )
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file, contextlib.ExitStack() as stack:
        body_file.write(body)
        body_file.flush()
        servers = {kind: stack.enter_context(uvicorn(FACTORIES[kind])) for kind in kinds}

        def once(kind: str, duration: float) -> dict[str, Any]:
            address, pid = servers[kind]
            before = _cpu_seconds(pid)
            run = wrk.run(
                LUA,
                address,
                threads=threads,
                connections=connections,
                seconds=duration,
                script_args=(f"{PATH}?{signed_query()}", body_file.name),
            )
            run["server_cpu_us"] = (_cpu_seconds(pid) - before) * 1e6
            errors = sum(run[key] for key in run if key.endswith("_errors"))
            if errors or not run["requests"]:
                raise AnswerMismatch(f"wrk against {kind}: {errors} errors, {run}")
            return run

        for kind in kinds:
            once(kind, 1)  # warm-up
        for number in range(rounds):
            order = list(kinds) if number % 2 == 0 else list(reversed(kinds))
            for kind in order:
                result.runs[kind].append(once(kind, seconds))
    return result


# -- report ------------------------------------------------------------------------------------


def print_inprocess(result: ASGIInProcessResult) -> list[str]:
    counts = sorted(result.samples)
    kinds = list(next(iter(result.samples.values())))
    print(
        f"\nASGI in process: process CPU µs per request, median of {result.rounds} interleaved "
        "rounds; (xN) = median of per-round ratios to its baseline ((st) for (r), else (s))\n"
    )
    print("| receiver | " + " | ".join(f"{n} item{'s' * (n != 1)}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for kind in kinds:
        cells = [
            f"{result.median_us(n, kind):.1f} µs (x{result.ratio(n, kind):.2f})" for n in counts
        ]
        print(f"| {LABELS[kind]} | " + " | ".join(cells) + " |")
    missed = []
    for kind in BARRED:
        base = BASELINES[kind]
        if kind not in kinds or base not in kinds:
            continue
        for n in counts:
            if n not in BARS:
                continue
            ratio = result.ratio(n, kind)
            verdict = "bar met" if ratio <= BARS[n] else "BAR MISSED"
            print(f"  ({kind})/({base}) at {n}: x{ratio:.2f} (bar {BARS[n]}): {verdict}")
            if ratio > BARS[n]:
                missed.append(f"ASGI ({kind})/({base}) at {n} items is {ratio:.2f} > {BARS[n]}")
    return missed


def print_endtoend(result: ASGIEndToEndResult) -> list[str]:
    data = result.as_dict()
    settings = data["settings"]
    print(
        f"\nASGI end to end: uvicorn {settings['uvicorn']}; wrk {settings['wrk']}; "
        f"{settings['items']} item; median of {settings['rounds']} alternating runs; "
        "x = throughput against its baseline\n"
    )
    print("| receiver | requests/s | x baseline | p99 | server CPU per request |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind in result.runs:
        print(
            f"| {LABELS[kind]} | {data['rps'][kind]:,.0f} | x{data['ratio_to_baseline'][kind]:.2f}"
            f" | {data['p99_us'][kind] / 1000:.2f} ms"
            f" | {data['server_cpu_us_per_request'][kind]:.0f} µs |"
        )
    missed = []
    for kind in BARRED:
        base = BASELINES[kind]
        if kind not in result.runs or base not in result.runs:
            continue
        ratio = data["ratio_to_baseline"][kind]
        verdict = "bar met" if ratio >= E2E_BAR else "BAR MISSED"
        print(f"  ({kind}) keeps x{ratio:.2f} of ({base})'s throughput (bar {E2E_BAR}): {verdict}")
        if ratio < E2E_BAR:
            missed.append(f"ASGI end to end ({kind})/({base}) is {ratio:.2f}")
    return missed


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.asgi``: the ASGI part of ``make bench`` alone, into its own JSON."""
    import argparse

    from .environment import PACKAGES, environment

    parser = argparse.ArgumentParser(prog="python -m bench.asgi", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--e2e-rounds", type=int, default=10)
    parser.add_argument("--e2e-seconds", type=float, default=3.0)
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "bench_asgi.json")
    args = parser.parse_args(argv)
    env = environment((*PACKAGES, "uvicorn", "starlette", "a2wsgi"))
    print(f"{env['date']}, {env['machine']}, Python {env['python']}")
    print(", ".join(f"{name} {v}" for name, v in env["versions"].items()))
    report: dict[str, Any] = {"environment": env}
    result = run_inprocess(args.rounds, args.scale)
    report["asgi_in_process"] = result.as_dict()
    missed = print_inprocess(result)
    if not args.no_e2e:
        e2e = run_endtoend(args.e2e_rounds, args.e2e_seconds)
        report["asgi_end_to_end"] = e2e.as_dict()
        missed += print_endtoend(e2e)
    args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"figures: {args.json}")
    if missed:
        print("\nmissed:", "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main", "run_endtoend", "run_inprocess"]
