"""What example_app costs and carries under gunicorn, against the bare library app in the same
run: part of ``make soak`` (``python -m bench.capacity``).

Four targets, each started with the documented gunicorn command (docs/example.md: gevent, two
workers) on a free loopback port:

- ``library``: the library's blueprint with one no-op hook (``bench.apps:blueprint()``), the
  baseline;
- ``embedded``: example_app on its embedded default (SQLite audit log, blocklist and velocity
  beside it, no Redis);
- ``postgres_redis``: one example_app instance on a throwaway PostgreSQL 15 and Redis;
- ``two_instances``: that instance and a second one on the same PostgreSQL and Redis, each
  loaded by its own wrk (a load balancer's share).

Every callback has one accepted item and a responder of its own (``capacity.lua``): no policy
refuses it and each is a new audit record. Rounds alternate the targets; in each, wrk saturates
the target for a few seconds, then the run waits until the target is idle again, so that the
audit records shipped after the answers are paid for in the same figure. Reported per target:
throughput, p50 and p99 at saturation, server CPU per callback (the gunicorn processes; for the
PostgreSQL + Redis targets also the database's and Redis's processes, apart) and its ratio to
the library's in the same round (median over rounds). Then each single-instance target is
paced at half of its measured capacity (a delay per connection, calibrated by short runs) and its
p99 there is reported. At the end every answered callback must be in the audit logs.

Bounded: a fixed number of rounds of a few seconds each, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from devtools.example_service import documented_gunicorn_command
from devtools.servers import gunicorn
from devtools.services import PostgresServer, RedisServer
from example_app.audit_log import AuditLog

from . import wrk
from .apps import PATH, SDKAPPID, TOKEN
from .environment import PACKAGES, environment
from .server_cpu import server_cpu_seconds
from .workload import signed_query

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("capacity.lua")
TARGETS = ("library", "embedded", "postgres_redis", "two_instances")
LABELS = {
    "library": "library alone (no-op hook)",
    "embedded": "example_app, embedded default",
    "postgres_redis": "example_app, PostgreSQL + Redis",
    "two_instances": "two example_app instances, PostgreSQL + Redis",
}
#: Connections per instance at saturation; the paced runs use fewer, each with a delay.
CONNECTIONS = 16
PACED_CONNECTIONS = 16
#: A paced run is calibrated until within this share of its rate, in at most so many runs.
PACED_TOLERANCE = 0.05
PACED_CALIBRATIONS = 4
#: bench/soak.py says why a connection waits a millisecond between answer and next request.
THINK_MS = 1
#: A target is idle again once its processes use less than this share of one core.
IDLE_SHARE = 0.03
SETTLE_LIMIT_S = 60.0


class CapacityProblem(RuntimeError):
    """An answer that was not an accepted item, a socket error, or an answer not audited."""


@dataclass
class Target:
    """One thing under load: its addresses, how its CPU is read, and its audit log."""

    name: str
    addresses: list[str]
    store_pids: Callable[[], list[int]] = list
    audit_url: str | None = None
    #: Callbacks answered with an accepted item, and how many more may have been served after
    #: wrk stopped reading (one per open connection at the end of each load): the audit log
    #: holds at least the first and at most their sum.
    accepted: int = 0
    unread: int = 0

    def server_cpu(self) -> float:
        return sum(server_cpu_seconds(address) for address in self.addresses)

    def store_cpu(self) -> float:
        total = 0.0
        for pid in self.store_pids():
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
        return total


@dataclass
class Run:
    """One saturating or paced load on a target, with the CPU it cost until idle again."""

    requests: int
    accepted: int
    seconds: float
    p50_us: float
    p99_us: float
    server_cpu_s: float
    store_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "rps": self.rps}


@dataclass
class Result:
    settings: dict[str, Any]
    runs: dict[str, list[Run]] = field(default_factory=lambda: {t: [] for t in TARGETS})
    paced: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: dict[str, dict[str, int]] = field(default_factory=dict)

    def rps(self, target: str) -> float:
        return statistics.median(run.rps for run in self.runs[target])

    def p99_us(self, target: str) -> float:
        return statistics.median(run.p99_us for run in self.runs[target])

    def cpu_us(self, target: str, *, store: bool = False) -> float:
        return statistics.median(
            (run.store_cpu_s if store else run.server_cpu_s) * 1e6 / run.requests
            for run in self.runs[target]
        )

    def cpu_ratio(self, target: str) -> float:
        """Median over rounds of the target's server CPU per callback over the library's."""
        return statistics.median(
            (run.server_cpu_s / run.requests) / (base.server_cpu_s / base.requests)
            for run, base in zip(self.runs[target], self.runs["library"], strict=True)
        )

    def scaling(self) -> float:
        """Median over rounds of two instances' throughput over one's."""
        return statistics.median(
            two.rps / one.rps
            for two, one in zip(
                self.runs["two_instances"], self.runs["postgres_redis"], strict=True
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rps": {t: self.rps(t) for t in TARGETS},
            "p99_us": {t: self.p99_us(t) for t in TARGETS},
            "server_cpu_us_per_callback": {t: self.cpu_us(t) for t in TARGETS},
            "store_cpu_us_per_callback": {
                t: self.cpu_us(t, store=True) for t in ("postgres_redis", "two_instances")
            },
            "cpu_ratio_to_library": {t: self.cpu_ratio(t) for t in TARGETS if t != "library"},
            "two_instances_over_one": self.scaling(),
            "paced": self.paced,
            "audit": self.audit,
            "runs": {t: [run.as_dict() for run in runs] for t, runs in self.runs.items()},
        }


def _gunicorn_args() -> list[str]:
    """The documented command's options, without its --bind (each server gets a free port)."""
    command = documented_gunicorn_command()
    command.pop()  # the app
    bind = command.index("--bind")
    del command[bind : bind + 2]
    return command


def _wrk(address: str, seconds: float, connections: int, think_ms: float, prefix: str) -> Any:
    # wrk takes whole seconds only.
    seconds = max(1, math.ceil(seconds))
    return wrk.run(
        SCRIPT,
        address,
        threads=1,
        connections=connections,
        seconds=seconds,
        timeout="5s",
        script_args=(f"{PATH}?{signed_query()}", f"{think_ms:g}", prefix),
    )


_prefixes = iter(range(1, 1 << 30))


def load(target: Target, seconds: float, connections: int, think_ms: float) -> Run:
    """One wrk per address at once for ``seconds``; then wait until the target is idle."""
    server_before, store_before = target.server_cpu(), target.store_cpu()
    reports: list[Any] = [None] * len(target.addresses)

    def drive(index: int, address: str, prefix: str) -> None:
        reports[index] = _wrk(address, seconds, connections, think_ms, prefix)

    threads = [
        threading.Thread(target=drive, args=(i, address, f"cap{next(_prefixes)}"))
        for i, address in enumerate(target.addresses)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _settle(target)
    for report in reports:
        if report is None:
            raise CapacityProblem(f"wrk against {target.name} gave no figures")
        errors = sum(report[key] for key in report if key.endswith("_errors"))
        if errors or report["other"] or not report["requests"]:
            raise CapacityProblem(f"{target.name}: {errors} socket errors, {report}")
    accepted = sum(report["accepted"] for report in reports)
    target.accepted += accepted
    target.unread += connections * len(target.addresses)
    return Run(
        requests=sum(report["requests"] for report in reports),
        accepted=accepted,
        seconds=max(report["duration_us"] for report in reports) / 1e6,
        # With two wrk at once, the slower instance's figure.
        p50_us=max(report["latency_p50_us"] for report in reports),
        p99_us=max(report["latency_p99_us"] for report in reports),
        server_cpu_s=target.server_cpu() - server_before,
        store_cpu_s=target.store_cpu() - store_before,
    )


def _settle(target: Target) -> None:
    """Wait until the target's processes (and its stores) are idle: the audit records of the
    answers are shipped after the answers, and their cost belongs to the same run."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    step = 0.5
    last = target.server_cpu() + target.store_cpu()
    while time.monotonic() < deadline:
        time.sleep(step)
        now = target.server_cpu() + target.store_cpu()
        if now - last < IDLE_SHARE * step:
            return
        last = now
    raise CapacityProblem(f"{target.name} still busy {SETTLE_LIMIT_S:g} s after its load")


def paced(target: Target, rate: float, seconds: float) -> dict[str, Any]:
    """``rate`` callbacks a second from PACED_CONNECTIONS connections: each waits
    connections / rate less its answer's time between an answer and its next request. The
    answer's time is found by short runs, until one is within PACED_TOLERANCE of ``rate``
    (at most PACED_CALIBRATIONS of them); the rate the measured run reached is reported."""
    think_ms = PACED_CONNECTIONS / rate * 1000
    for _ in range(PACED_CALIBRATIONS):
        calibration = load(target, min(3.0, seconds), PACED_CONNECTIONS, think_ms)
        if abs(calibration.rps / rate - 1) <= PACED_TOLERANCE:
            break
        answer_ms = PACED_CONNECTIONS / calibration.rps * 1000 - think_ms
        think_ms = max(THINK_MS, PACED_CONNECTIONS / rate * 1000 - max(answer_ms, 0.0))
    run = load(target, seconds, PACED_CONNECTIONS, think_ms)
    return {
        "target_rps": rate,
        "rps": run.rps,
        "think_ms": think_ms,
        "p50_us": run.p50_us,
        "p99_us": run.p99_us,
    }


def audited(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return int(db.execute(sa.text("SELECT count(*) FROM callbacks")).scalar_one())
    finally:
        engine.dispose()


@contextlib.contextmanager
def targets(folder: Path) -> Iterator[dict[str, Target]]:
    """Start PostgreSQL, Redis and the four targets' servers; stop them all at the end."""
    args = _gunicorn_args()
    base_env = {
        "FRIENDCB_SDKAPPID": str(SDKAPPID),
        "FRIENDCB_TOKEN": TOKEN,
        "EXAMPLE_SECRET_KEY": "capacity-run-secret-key",
    }
    # PostgreSQL runs as Debian's `postgres` when this runs as root: it must reach its folder.
    folder.chmod(0o755)
    redis = RedisServer(folder)
    postgres_folder = folder / "postgres"
    postgres_folder.mkdir()
    postgres = PostgresServer(postgres_folder)
    with contextlib.ExitStack() as stack:
        redis.start()
        stack.callback(redis.stop)
        postgres.start()
        stack.callback(postgres.stop, "fast")
        url = postgres.new_database()
        log = AuditLog(url)
        log.upgrade()
        log.close()

        def instance(name: str, env: dict[str, str]) -> str:
            return stack.enter_context(
                gunicorn(
                    "example_app:create_app()",
                    env={
                        **base_env,
                        "EXAMPLE_DATABASE": str(folder / f"{name}.sqlite3"),
                        "EXAMPLE_AUDIT_SPOOL": str(folder / f"{name}.spool.sqlite3"),
                        **env,
                    },
                    args=args,
                )
            )

        stores = {"EXAMPLE_DATABASE_URL": url, "EXAMPLE_REDIS_URL": redis.url}
        first, second = instance("first", stores), instance("second", stores)

        def store_pids() -> list[int]:
            pids = [redis.process.pid] if redis.process else []
            postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
            with contextlib.suppress(psutil.Error):
                children = psutil.Process(postmaster).children(recursive=True)
                pids += [postmaster, *(child.pid for child in children)]
            return pids

        yield {
            "library": Target(
                "library", [stack.enter_context(gunicorn("bench.apps:blueprint()", args=args))]
            ),
            "embedded": Target(
                "embedded",
                [instance("embedded", {})],
                audit_url=f"sqlite:///{folder / 'embedded.sqlite3'}",
            ),
            "postgres_redis": Target("postgres_redis", [first], store_pids, url),
            "two_instances": Target("two_instances", [first, second], store_pids, url),
        }


def run(rounds: int, seconds: float, paced_seconds: float) -> Result:
    if seconds >= 50 or paced_seconds >= 50:
        raise ValueError("each wrk run must stay well inside the 60 s RequestTime window")
    wrk.find_wrk()
    result = Result(
        {
            "gunicorn": " ".join(_gunicorn_args()),
            "rounds": rounds,
            "seconds": seconds,
            "connections_per_instance": CONNECTIONS,
            "think_ms": THINK_MS,
            "paced_connections": PACED_CONNECTIONS,
            "paced_seconds": paced_seconds,
        }
    )
    with tempfile.TemporaryDirectory(prefix="capacity-") as name, targets(Path(name)) as found:
        # gunicorn listens before its workers have imported the app (about a second each):
        # load every target until its answers come quickly, then count the audit from there.
        for target in found.values():
            warm_up(target)
        baseline = {name: audited(url) for name, url in _audit_urls(found).items()}
        for number in range(rounds):
            order = TARGETS[number % len(TARGETS) :] + TARGETS[: number % len(TARGETS)]
            for target_name in order:
                result.runs[target_name].append(
                    load(found[target_name], seconds, CONNECTIONS, THINK_MS)
                )
            print(f"  round {number + 1}/{rounds}", file=sys.stderr, flush=True)
        for target_name in ("library", "embedded", "postgres_redis"):
            rate = result.rps(target_name) / 2
            result.paced[target_name] = paced(found[target_name], rate, paced_seconds)
        logs = {
            "embedded": [found["embedded"]],
            "postgres_redis": [found["postgres_redis"], found["two_instances"]],
        }
        for name_, url in _audit_urls(found).items():
            result.audit[name_] = {
                "answered": sum(target.accepted for target in logs[name_]),
                "unread_at_most": sum(target.unread for target in logs[name_]),
                "audited": audited(url) - baseline[name_],
            }
    return result


def _audit_urls(found: dict[str, Target]) -> dict[str, str]:
    """The two audit logs: the embedded one, and the one both PostgreSQL instances share."""
    urls = {name: found[name].audit_url for name in ("embedded", "postgres_redis")}
    return {name: url for name, url in urls.items() if url is not None}


def warm_up(target: Target, tries: int = 10) -> None:
    """Short loads until one has every answer within a second."""
    for _ in range(tries):
        reports = [
            _wrk(address, 2.0, CONNECTIONS, THINK_MS, f"warm{next(_prefixes)}")
            for address in target.addresses
        ]
        if all(r["requests"] and r["latency_max_us"] < 1e6 for r in reports):
            _settle(target)
            return
    raise CapacityProblem(f"{target.name}: answers still slow after {tries} warm-up loads")


def describe(result: Result, env: dict[str, Any]) -> str:
    data = result.as_dict()
    lines = [
        f"{env['date']}, {env['machine']}, Python {env['python']}",
        ", ".join(f"{name} {v}" for name, v in env["versions"].items()),
        "",
        f"gunicorn {data['settings']['gunicorn']}; wrk {CONNECTIONS} connections per instance; "
        f"median of {data['settings']['rounds']} alternating rounds of "
        f"{data['settings']['seconds']:g} s",
        "",
        "| target | callbacks/s | p99 | server CPU per callback | x library "
        "| p99 at half capacity |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in TARGETS:
        cpu = f"{data['server_cpu_us_per_callback'][target]:,.0f} µs"
        if target in data["store_cpu_us_per_callback"]:
            cpu += f" (+{data['store_cpu_us_per_callback'][target]:,.0f} µs stores)"
        ratio = data["cpu_ratio_to_library"].get(target)
        half = data["paced"].get(target)
        paced_p99 = (
            ""
            if half is None
            else f"{half['p99_us'] / 1000:.1f} ms at {half['rps']:,.0f}/s "
            f"({half['rps'] / data['rps'][target]:.0%})"
        )
        lines.append(
            f"| {LABELS[target]} | {data['rps'][target]:,.0f} "
            f"| {data['p99_us'][target] / 1000:.1f} ms | {cpu} "
            f"| {'1' if ratio is None else f'x{ratio:.2f}'} "
            f"| {paced_p99} |"
        )
    lines += [
        "",
        f"two instances carry x{data['two_instances_over_one']:.2f} of one instance's callbacks",
    ]
    for name, counts in data["audit"].items():
        lines.append(
            f"audit log ({name}): {counts['audited']:,} callbacks for {counts['answered']:,} "
            f"answers read and at most {counts['unread_at_most']:,} served as wrk stopped"
        )
    return "\n".join(lines)


def problems(result: Result) -> list[str]:
    """Answers missing from an audit log, or records no request can account for."""
    return [
        f"{name}: {counts['audited']} audited for {counts['answered']} answered "
        f"(+ at most {counts['unread_at_most']} unread)"
        for name, counts in result.audit.items()
        if not counts["answered"]
        <= counts["audited"]
        <= counts["answered"] + counts["unread_at_most"]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--paced-seconds", type=float, default=8.0)
    parser.add_argument("--small", action="store_true", help="one round of 2 s: a smoke run")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "capacity.json")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.rounds, args.seconds, args.paced_seconds, args.no_json = 1, 2.0, 2.0, True
    env = environment((*PACKAGES, "gevent", "SQLAlchemy", "psycopg", "redis"))
    result = run(args.rounds, args.seconds, args.paced_seconds)
    print(describe(result, env))
    if not args.no_json:
        args.json.write_text(
            json.dumps({"environment": env, **result.as_dict()}, indent=1, ensure_ascii=False)
            + "\n"
        )
        print(f"figures: {args.json}")
    found = problems(result)
    if found:
        print("problems:", "; ".join(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
