"""The ASGI benchmark's receivers answer alike, and a tiny run gives every figure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import asgi
from bench.inprocess import AnswerMismatch


def test_a_tiny_run_gives_a_figure_for_every_receiver_and_item_count() -> None:
    result = asgi.run_inprocess(rounds=2, scale=0.05, item_counts=(1, 10))
    data = result.as_dict()
    for items in (1, 10):
        assert set(data["median_us"][items]) == set(asgi.KINDS)
        assert all(value > 0 for value in data["median_us"][items].values())
        assert data["ratio_to_s"][items]["s"] == 1.0
        # Each receiver is set against the bare endpoint doing its kind of work.
        assert data["baselines"]["r"] == "st"
        assert data["ratio_to_baseline"][items]["r"] == result.ratio(items, "r", "st")
    assert asgi.print_inprocess(result) is not None


def test_the_check_catches_a_receiver_that_answers_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wrong() -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": json.dumps({"no": 1}).encode()})

        return app

    monkeypatch.setitem(asgi.BUILDERS, "ra", wrong)
    with pytest.raises(AnswerMismatch, match="ra at 1 items"):
        asgi.run_inprocess(rounds=1, scale=0.05, item_counts=(1,))


def test_the_servers_of_the_end_to_end_run_answer_alike() -> None:
    # One short wrk run of each, under uvicorn: the bench's own check of every answer runs.
    result = asgi.run_endtoend(rounds=1, seconds=1)
    data = result.as_dict()
    assert set(data["rps"]) == set(asgi.KINDS)
    assert data["ratio_to_baseline"]["r"] == pytest.approx(
        data["rps"]["r"] / data["rps"]["st"], rel=0.5
    )
    assert all(runs[0]["requests"] > 0 for runs in result.runs.values())
