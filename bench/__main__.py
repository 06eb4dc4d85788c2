"""``python -m bench``: the in-process table, memory, end to end, and the plot.

``make bench`` runs it with the defaults; ``--quick`` is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import asgi, endtoend, inprocess, memory, policies
from .apps import KINDS, LABELS
from .environment import PACKAGES, environment

ROOT = Path(__file__).resolve().parent.parent
#: In-process bars and aims for (c)/(b), by item count; end to end, (c) keeps this share of
#: (b)'s throughput.
BARS = {1: (1.5, 1.25), 10: (2.5, 1.8), 100: (6.0, 4.0)}
#: (e)/(c) at 1 item: example_app against the bare blueprint (bar, aim).
EXAMPLE_BAR = (2.0, 1.5)
E2E_BAR = 0.85
MEMORY_BAR_KIB = 5 * 1024


def print_inprocess(result: inprocess.InProcessResult) -> list[str]:
    """Print the table; return the bars missed."""
    counts = sorted(result.samples)
    kinds = list(next(iter(result.samples.values())))
    print(
        f"\nIn process: CPU µs per request, median of {result.rounds} interleaved rounds "
        f"(requests per batch: {result.batch}); (xN) = median of per-round ratios to (b)\n"
    )
    print("| receiver | " + " | ".join(f"{n} item{'s' * (n != 1)}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for kind in kinds:
        cells = [
            f"{result.median_us(n, kind):.1f} µs (x{result.ratio(n, kind):.2f})" for n in counts
        ]
        print(f"| {LABELS[kind]} | " + " | ".join(cells) + " |")
    missed = []
    if "b" in kinds:
        for kind in ("c", "d"):
            if kind not in kinds:
                continue
            for n in counts:
                if n not in BARS:
                    continue
                bar, aim = BARS[n]
                ratio = result.ratio(n, kind)
                verdict = "aim met" if ratio <= aim else "bar met" if ratio <= bar else "BAR MISSED"
                print(f"  {LABELS[kind]} at {n}: x{ratio:.2f} (bar {bar}, aim {aim}): {verdict}")
                if ratio > bar and kind == "c":
                    missed.append(f"(c)/(b) at {n} items is {ratio:.2f} > {bar}")
    if "c" in kinds and "e" in kinds:
        bar, aim = EXAMPLE_BAR
        for n in counts:
            ratio = result.ratio(n, "e", base="c")
            verdict = "aim met" if ratio <= aim else "bar met" if ratio <= bar else "BAR MISSED"
            limits = f" (bar {bar}, aim {aim}): {verdict}" if n == 1 else ""
            print(f"  {LABELS['e']} against {LABELS['c']} at {n}: x{ratio:.2f}{limits}")
            if n == 1 and ratio > bar:
                missed.append(f"(e)/(c) at 1 item is {ratio:.2f} > {bar}")
    return missed


def print_memory(results: list[dict[str, Any]]) -> list[str]:
    print("\nMemory: one fresh process per receiver, 1 item per request\n")
    print("| receiver | requests | RSS after warm-up | growth | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: |")
    missed = []
    for row in results:
        before, growth, peak = (
            row[key] / 1024 for key in ("rss_before_kib", "growth_kib", "peak_kib")
        )
        print(
            f"| {LABELS[row['kind']]} | {row['requests']:,} | {before:.1f} MiB"
            f" | {growth:+.2f} MiB | {peak:.1f} MiB |"
        )
        if row["growth_kib"] >= MEMORY_BAR_KIB:
            missed.append(f"{row['kind']} grew {row['growth_kib']} KiB")
    return missed


def print_endtoend(result: endtoend.EndToEndResult) -> list[str]:
    data = result.as_dict()
    print(
        f"\nEnd to end: gunicorn {data['settings']['gunicorn']}; wrk {data['settings']['wrk']}; "
        f"{data['settings']['items']} item; median of {data['settings']['rounds']} alternating "
        "runs\n"
    )
    print("| receiver | requests/s | p50 | p99 | server CPU per request |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind in result.runs:
        print(
            f"| {LABELS[kind]} | {data['rps'][kind]:,.0f} | {data['p50_us'][kind] / 1000:.2f} ms"
            f" | {data['p99_us'][kind] / 1000:.2f} ms"
            f" | {data['server_cpu_us_per_request'][kind]:.0f} µs |"
        )
    ratio = data["ratio_c_to_b"]
    print(f"  (c) keeps x{ratio:.2f} of (b)'s throughput (bar {E2E_BAR})")
    return [] if ratio >= E2E_BAR else [f"end to end (c)/(b) throughput is {ratio:.2f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30, help="in-process rounds (30)")
    parser.add_argument("--scale", type=float, default=1.0, help="batch size factor (1)")
    parser.add_argument("--items", type=int, nargs="+", default=list(inprocess.ITEM_COUNTS))
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--e2e-rounds", type=int, default=10)
    parser.add_argument("--e2e-seconds", type=float, default=3.0)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-e2e", action="store_true")
    parser.add_argument("--no-asgi", action="store_true", help="skip the ASGI receiver's runs")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "docs" / "bench.json", help="every figure, as JSON"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: tiny counts, no memory, no wrk"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.scale, args.json = 3, 0.05, None
        args.no_memory = args.no_e2e = args.no_plot = True

    env = environment((*PACKAGES, "uvicorn", "starlette", "a2wsgi"))
    print(f"{env['date']}, {env['machine']}, Python {env['python']}")
    print(", ".join(f"{name} {v}" for name, v in env["versions"].items()))
    report: dict[str, Any] = {"environment": env}

    result = inprocess.run(args.rounds, args.scale, args.items, KINDS, progress=sys.stdout.isatty())
    print("(b), (c) and (d) gave the same answers at", ", ".join(map(str, args.items)), "items")
    report["in_process"] = result.as_dict()
    missed = print_inprocess(result)
    if not args.no_plot:
        title = f"{env['date']}, {env['machine']}\nPython {env['python']}, " + ", ".join(
            f"{name} {v}" for name, v in env["versions"].items() if name != "gunicorn"
        )
        from .plot import draw

        draw(result, args.plot, title)
        print(f"\nplot: {args.plot}")

    if not args.no_memory:
        rows = [memory.measure_in_child(kind, args.memory_requests) for kind in ("b", "c")]
        report["memory"] = rows
        missed += print_memory(rows)

    if not args.no_e2e:
        e2e = endtoend.run(args.e2e_rounds, args.e2e_seconds, progress=sys.stdout.isatty())
        report["end_to_end"] = e2e.as_dict()
        missed += print_endtoend(e2e)

    if not args.no_asgi:
        asgi_result = asgi.run_inprocess(args.rounds, args.scale, args.items)
        report["asgi_in_process"] = asgi_result.as_dict()
        missed += asgi.print_inprocess(asgi_result)
        if not args.no_e2e:
            asgi_e2e = asgi.run_endtoend(args.e2e_rounds, args.e2e_seconds)
            report["asgi_end_to_end"] = asgi_e2e.as_dict()
            missed += asgi.print_endtoend(asgi_e2e)

    report["policies"] = policies.run(
        **(
            {"rounds": 3, "words": 2000, "redis_seconds": 0.5, "public": False}
            if args.quick
            else {}
        )
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
        print(f"figures: {args.json}")
    if missed:
        print("\nmissed:", "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
