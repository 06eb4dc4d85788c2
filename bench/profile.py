"""Where a receiver's time goes: ``python -m bench.profile [KIND] [ITEMS] [--pyinstrument]``.

cProfile's table (sorted by own time) of one receiver answering a batch of prepared requests,
or pyinstrument's call tree with ``--pyinstrument``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

from .apps import DISTINCT_BODIES, build
from .inprocess import time_batch
from .workload import body_bytes, environ_factory, signed_query


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("kind", nargs="?", default="c", choices="abcde")
    parser.add_argument("items", nargs="?", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args(argv)

    app = build(args.kind)
    query = signed_query()

    def make(n: int) -> dict[str, object]:
        # example_app counts acceptances per responder: a responder of its own per request.
        salt = f"p{n}" if args.kind in DISTINCT_BODIES else ""
        return environ_factory(body_bytes(args.items, salt), query)()

    time_batch(app, [make(-n - 1) for n in range(100)])  # warm up
    environs = [make(n) for n in range(args.requests)]
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        profiler.start()
        time_batch(app, environs)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=sys.stdout.isatty(), show_all=False))
        return 0
    profile = cProfile.Profile()
    profile.enable()
    time_batch(app, environs)
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
