"""A smoke run of the benchmark (bench/): its receivers agree, its checks can fail, its figures
come out. Tiny counts only: the real run is `make bench`."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import inprocess, memory
from bench.apps import KINDS, blueprint_app, build
from bench.workload import body_bytes, call, environ_factory, signed_query
from flask_friendcb import Reject


def test_the_four_receivers_give_the_same_answers() -> None:
    inprocess.check_answers({kind: build(kind) for kind in KINDS}, (0, 1, 10, 100))


def test_the_answer_check_catches_a_receiver_that_differs() -> None:
    app = blueprint_app()
    friendcb = app.blueprints["friendcb"]
    friendcb.on_friend_response(lambda item, event: Reject(38001, "no"))
    with pytest.raises(inprocess.AnswerMismatch, match="38001"):
        inprocess.check_answers({"b": build("b"), "c": app}, (1,))


def test_the_signed_request_is_what_the_library_accepts_and_the_check_sees_refusals() -> None:
    app = build("c")
    body = body_bytes(3)
    status, _ = call(app, environ_factory(body, signed_query())())
    assert status == "200 OK"
    stale = call(app, environ_factory(body, signed_query(request_time=1_000_000_000))())
    assert stale[0] == "401 UNAUTHORIZED"
    with pytest.raises(inprocess.AnswerMismatch, match="401"):
        inprocess.check_answers({"c": _AlwaysStale(app)}, (1,))


class _AlwaysStale:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ["QUERY_STRING"] = signed_query(request_time=1_000_000_000)
        return self.app(environ, start_response)


def test_a_tiny_interleaved_run_gives_a_figure_for_every_receiver() -> None:
    result = inprocess.run(rounds=2, scale=0.02, item_counts=(1, 10), warmup=0)
    for items in (1, 10):
        for kind in KINDS:
            assert len(result.samples[items][kind]) == 2
            assert 0 < result.median_us(items, kind) < 1e6
            assert math.isfinite(result.ratio(items, kind))
        assert result.ratio(items, "b") == 1
    assert set(result.as_dict()["ratio_to_b"][1]) == set(KINDS)


def test_the_memory_probe_serves_and_measures() -> None:
    row = memory.measure("c", requests=300, warmup=50)
    assert row["rss_after_kib"] > 0
    assert row["peak_kib"] >= row["rss_after_kib"]
    assert row["growth_kib"] == row["rss_after_kib"] - row["rss_before_kib"]
