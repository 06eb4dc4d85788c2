"""The in-process benchmark: each receiver called as a WSGI app on prepared environs, in
interleaved rounds, so that whatever else the machine is doing weighs on all four alike.

Time is the benchmark thread's CPU time (``time.thread_time``): on a shared machine, the time
other processes hold the CPU is not counted, though their effect on caches still is. Wall-clock
time is kept beside it.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .apps import DISTINCT_BODIES, KINDS, build
from .workload import Captured, body_bytes, call, environ_factory, signed_query

#: Item counts of the table.
ITEM_COUNTS = (1, 10, 100)
#: Requests per timed batch at each item count, at ``scale`` 1: each batch takes some tens
#: of milliseconds, long enough for the clock and short enough to interleave finely.
BATCH = {1: 200, 10: 80, 100: 12}


class AnswerMismatch(AssertionError):
    """Two receivers answered the same request differently."""


def expected_answer(body: bytes) -> dict[str, Any]:
    """What every receiver must answer to ``body`` with a no-op hook: OK for every item."""
    items = json.loads(body)["ResponseFriendItem"]
    return {
        "ActionStatus": "OK",
        "ErrorCode": 0,
        "ErrorInfo": "",
        "ResultItem": [
            {"To_Account": item["To_Account"], "ResultCode": 0, "ResultInfo": ""} for item in items
        ],
    }


def check_answers(apps: dict[str, Any], item_counts: Sequence[int] = ITEM_COUNTS) -> None:
    """Send each receiver the same signed request at each item count; raise
    :class:`AnswerMismatch` unless every one answers 200 with the expected JSON."""
    for items in item_counts:
        body = body_bytes(items)
        make = environ_factory(body, signed_query())
        want = expected_answer(body)
        for kind, app in apps.items():
            status, data = call(app, make())
            try:
                got = json.loads(data)
            except ValueError:
                got = data.decode("utf-8", "replace")
            if status != "200 OK" or got != want:
                raise AnswerMismatch(
                    f"{kind} at {items} items answered {status} {got!r}, expected 200 {want!r}"
                )


def time_batch(app: Any, environs: list[dict[str, Any]]) -> tuple[float, float]:
    """CPU and wall-clock seconds per request over ``environs``, called the way a WSGI server
    does."""
    start_response = Captured()
    started = time.perf_counter()
    cpu_started = time.thread_time()
    for environ in environs:
        result = app(environ, start_response)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    cpu = time.thread_time() - cpu_started
    return cpu / len(environs), (time.perf_counter() - started) / len(environs)


@dataclass
class InProcessResult:
    """CPU seconds per request of every batch: ``samples[items][kind]`` has one per round;
    ``wall`` the same in wall-clock seconds."""

    rounds: int
    batch: dict[int, int]
    samples: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    wall: dict[int, dict[str, list[float]]] = field(default_factory=dict)

    def median_us(self, items: int, kind: str) -> float:
        return statistics.median(self.samples[items][kind]) * 1e6

    def quartiles_us(self, items: int, kind: str) -> tuple[float, float]:
        values = sorted(self.samples[items][kind])
        if len(values) < 2:
            return values[0] * 1e6, values[0] * 1e6
        q1, _, q3 = statistics.quantiles(values, n=4)
        return q1 * 1e6, q3 * 1e6

    def ratio(self, items: int, kind: str, base: str = "b") -> float:
        """The median over rounds of ``kind``'s time over ``base``'s in the same round."""
        pairs = zip(self.samples[items][kind], self.samples[items][base], strict=True)
        return statistics.median(mine / theirs for mine, theirs in pairs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "batch": self.batch,
            "median_us": {
                items: {kind: self.median_us(items, kind) for kind in per}
                for items, per in self.samples.items()
            },
            "ratio_to_b": {
                items: {kind: self.ratio(items, kind) for kind in per}
                for items, per in self.samples.items()
            },
            # example_app against the bare blueprint, in the same rounds.
            "ratio_e_to_c": {
                items: self.ratio(items, "e", base="c")
                for items, per in self.samples.items()
                if "e" in per and "c" in per
            },
            "wall_median_us": {
                items: {kind: statistics.median(values) * 1e6 for kind, values in per.items()}
                for items, per in self.wall.items()
            },
            "samples_us": {
                items: {kind: [value * 1e6 for value in values] for kind, values in per.items()}
                for items, per in self.samples.items()
            },
        }


def run(
    rounds: int = 30,
    scale: float = 1.0,
    item_counts: Sequence[int] = ITEM_COUNTS,
    kinds: Sequence[str] = KINDS,
    *,
    warmup: int = 1,
    progress: bool = False,
) -> InProcessResult:
    """Time every receiver at every item count, ``rounds`` times, interleaved.

    Each round re-signs the query with the current time (so the default 60 s window holds over
    a long run) and rotates the order of the receivers, so none is always first after a
    collection or a context switch. The first ``warmup`` rounds are not kept.
    """
    apps = {kind: build(kind) for kind in kinds}
    check_answers(apps, item_counts)
    batch = {items: max(1, round(BATCH.get(items, 40) * scale)) for items in item_counts}
    result = InProcessResult(
        rounds,
        batch,
        {items: {k: [] for k in kinds} for items in item_counts},
        {items: {k: [] for k in kinds} for items in item_counts},
    )
    bodies = {items: body_bytes(items) for items in item_counts}
    for number in range(warmup + rounds):
        query = signed_query()
        order = list(kinds[number % len(kinds) :]) + list(kinds[: number % len(kinds)])
        for items in item_counts:
            make = environ_factory(bodies[items], query)
            for kind in order:
                if kind in DISTINCT_BODIES:
                    environs = [
                        environ_factory(body_bytes(items, f"{number}_{n}"), query)()
                        for n in range(batch[items])
                    ]
                else:
                    environs = [make() for _ in range(batch[items])]
                gc.collect()
                cpu, wall = time_batch(apps[kind], environs)
                if number >= warmup:
                    result.samples[items][kind].append(cpu)
                    result.wall[items][kind].append(wall)
        if progress and number >= warmup:
            print(f"  round {number - warmup + 1}/{rounds}", end="\r", flush=True)
    if progress:
        print(" " * 30, end="\r")
    return result
