"""What example_app adds to a callback, and how soon the live page hears of it.

``make bench-example``. Two measurements, each against a baseline from the same run:

1. In process, per callback of one accepted item: the library with no hooks (baseline) versus
   example_app (four policies, a SQLite read and a velocity write, the audit journal's write).
2. Under gunicorn as documented: from the callback's answer to its event on an open live
   stream, which the drainer's feed tells once the record is shipped (the stream polls the
   database every ``POLL_SECONDS`` only while no feed tells it).

Bounded: a fixed number of callbacks, to a server on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone

from flask import Flask

from devtools.apps import example_config
from devtools.example_service import send, serve_example
from devtools.signing import SDKAPPID, TOKEN
from example_app import create_app, get_service
from example_app.operator import POLL_SECONDS
from flask_friendcb import FriendCallbackBlueprint
from flask_friendcb.testing import friend_response_body, signed_client

ROUNDS = 5
PER_ROUND = 200
STREAM_SAMPLES = 40


def bare_app() -> Flask:
    app = Flask("bare")
    app.config.update(FRIENDCB_SDKAPPID=int(SDKAPPID), FRIENDCB_TOKEN=TOKEN)
    app.register_blueprint(FriendCallbackBlueprint(), url_prefix="/im")
    return app


def per_callback_ms(app: Flask, offset: int) -> list[float]:
    client = signed_client(app)
    timings = []
    for i in range(PER_ROUND):
        # A responder of its own each time: the velocity limit never refuses here.
        body = friend_response_body(f"user{offset + i}", [f"friend{i}"])
        started = time.perf_counter()
        response = client.callback(body)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return timings


def in_process() -> None:
    with tempfile.TemporaryDirectory() as folder:
        apps = {"library, no hooks": bare_app()}
        apps["example_app"] = create_app(example_config(f"{folder}/bench.sqlite3"))
        timings: dict[str, list[float]] = {name: [] for name in apps}
        for round_ in range(ROUNDS):  # interleaved, so that drift hits both alike
            for name, app in apps.items():
                timings[name] += per_callback_ms(app, round_ * PER_ROUND)
        # Its drainer ships what is left and stops before the folder goes.
        get_service(apps["example_app"]).drainer.stop()
    base = statistics.median(timings["library, no hooks"])
    print(f"per callback, in process ({ROUNDS} x {PER_ROUND} each):")
    for name, values in timings.items():
        median = statistics.median(values)
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"  {name:20} median {median:6.3f} ms  p95 {p95:6.3f} ms  x{median / base:5.1f}")


def stream_delay() -> None:
    delays = []
    with tempfile.TemporaryDirectory() as folder, serve_example(f"{folder}/s.sqlite3") as address:
        host, port = address.split(":")
        stream = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            stream.request("GET", "/events")
            reply = stream.getresponse()
            for i in range(STREAM_SAMPLES):
                send(address, f"user{i}", f"friend{i}")
                answered = time.perf_counter()
                while not reply.readline().startswith(b"event: decision"):
                    pass
                delays.append((time.perf_counter() - answered) * 1000)
                # A random phase against the stream's polling, as real traffic has.
                time.sleep(random.uniform(0, POLL_SECONDS))  # noqa: S311
        finally:
            stream.close()
    print(f"answer -> live page event, gunicorn 2 gevent workers ({STREAM_SAMPLES} callbacks):")
    print(
        f"  median {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms "
        f"(told by the feed once shipped; {POLL_SECONDS * 1000:.0f} ms polls without it)"
    )


def main() -> int:
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, ", end="")
    print(f"Python {platform.python_version()}, {platform.platform()}")
    in_process()
    stream_delay()
    return 0


if __name__ == "__main__":
    sys.exit(main())
