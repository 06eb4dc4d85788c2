"""Memory: the resident set of one receiver before and after many requests, each in a fresh
process so that one receiver's peak is not another's.

``python -m bench.memory KIND REQUESTS`` prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from .apps import build
from .workload import Captured, body_bytes, environ_factory, signed_query

# Bodies are rebuilt every this many requests, with new accounts, so a cache keyed on input
# would show as growth; and re-signed, so a long run stays in the 60 s window.
_REFRESH = 5_000


def _status_kib(field: str) -> int:
    # Linux's own accounting; VmHWM is the peak of VmRSS, so the two compare.
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(kind: str, requests: int, items: int = 1, warmup: int = 2_000) -> dict[str, Any]:
    """RSS after ``warmup`` requests and after ``requests`` more, and the peak, in KiB."""
    app = build(kind)
    start_response = Captured()

    def serve(count: int, offset: int) -> None:
        done = 0
        while done < count:
            batch = min(_REFRESH, count - done)
            make = environ_factory(body_bytes(items, salt=str(offset + done)), signed_query())
            for _ in range(batch):
                result = app(make(), start_response)
                for _chunk in result:
                    pass
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                if not start_response.status.startswith("200"):
                    raise RuntimeError(f"{kind} answered {start_response.status}")
            done += batch

    serve(warmup, 0)
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    serve(requests, warmup)
    seconds = time.perf_counter() - started
    after = _status_kib("VmRSS")
    return {
        "kind": kind,
        "requests": requests,
        "items": items,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "growth_kib": after - before,
        "peak_kib": _status_kib("VmHWM"),
        "seconds": seconds,
    }


def measure_in_child(kind: str, requests: int, items: int = 1) -> dict[str, Any]:
    """:func:`measure` in a new interpreter."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.memory", kind, str(requests), str(items)],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    kind, count, *rest = sys.argv[1:]
    print(json.dumps(measure(kind, int(count), int(rest[0]) if rest else 1)))
