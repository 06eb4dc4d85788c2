"""``hooks.Deadline``: what an asynchronous adapter waits under, for a hook and for a body.

Its timer is armed only once an awaited call suspends; these check that it still keeps every
promise of a deadline either way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from flask_friendcb.hooks import Deadline


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def returns(value: Any) -> Any:
    return value


def test_a_call_that_ends_without_waiting_is_on_time() -> None:
    async def main() -> tuple[bool, Any]:
        deadline = Deadline(1.0)
        try:
            return await deadline.wait(returns(7))
        finally:
            deadline.close()

    assert run(main()) == (False, 7)


def test_a_call_that_ends_without_waiting_but_past_the_deadline_is_late() -> None:
    async def busy() -> str:
        time.sleep(0.05)  # CPU-bound: no timer could interrupt it
        return "done"

    async def main() -> tuple[bool, Any]:
        deadline = Deadline(0.01)
        try:
            return await deadline.wait(busy())
        finally:
            deadline.close()

    assert run(main()) == (True, "done")


def test_a_call_that_waits_past_the_deadline_is_cancelled() -> None:
    seen: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(0)  # suspends once, then waits long
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    async def main() -> tuple[tuple[bool, Any], float, bool]:
        deadline = Deadline(0.05)
        started = time.perf_counter()
        try:
            outcome = await deadline.wait(slow())
        finally:
            deadline.close()
        # The task itself is not left cancelled: it goes on to answer.
        await asyncio.sleep(0)
        return outcome, time.perf_counter() - started, deadline.has_passed()

    outcome, took, passed = run(main())
    assert outcome == (True, None)
    assert seen == ["cancelled"]
    assert took < 2
    assert passed


def test_a_call_that_waits_and_ends_in_time_gives_its_value() -> None:
    async def waits() -> str:
        await asyncio.sleep(0.01)
        return "value"

    async def main() -> tuple[bool, Any]:
        deadline = Deadline(5.0)
        try:
            return await deadline.wait(waits())
        finally:
            deadline.close()

    assert run(main()) == (False, "value")


@pytest.mark.parametrize("waits_first", [False, True])
def test_what_the_call_raises_is_raised(waits_first: bool) -> None:
    async def fails() -> None:
        if waits_first:
            await asyncio.sleep(0)
        raise LookupError("from the hook")

    async def main() -> None:
        deadline = Deadline(5.0)
        try:
            await deadline.wait(fails())
        finally:
            deadline.close()

    with pytest.raises(LookupError, match="from the hook"):
        run(main())


def test_cancelling_the_request_is_not_taken_for_the_deadline() -> None:
    async def main() -> None:
        deadline = Deadline(5.0)

        async def wait_long() -> tuple[bool, Any]:
            try:
                return await deadline.wait(asyncio.sleep(10))
            finally:
                deadline.close()

        task = asyncio.ensure_future(wait_long())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


def test_a_passed_deadline_calls_nothing_more() -> None:
    started: list[str] = []

    async def hook() -> None:
        started.append("ran")

    async def main() -> tuple[bool, Any]:
        deadline = Deadline(0.0)
        await asyncio.sleep(0.001)
        try:
            return await deadline.wait(hook())
        finally:
            deadline.close()

    assert run(main()) == (True, None)
    assert started == []


def test_one_deadline_serves_many_waits_and_arms_one_timer() -> None:
    async def main() -> tuple[list[tuple[bool, Any]], int]:
        loop = asyncio.get_running_loop()
        deadline = Deadline(5.0)
        try:
            outcomes = [await deadline.wait(returns(n)) for n in range(3)]
            before = len(loop._scheduled)  # type: ignore[attr-defined]
            outcomes.append(await deadline.wait(asyncio.sleep(0.001, "slept")))
            outcomes.append(await deadline.wait(asyncio.sleep(0.001, "again")))
            # The sleeps' own timers are gone; the deadline's one stays until closed.
            armed = len(loop._scheduled) - before  # type: ignore[attr-defined]
        finally:
            deadline.close()
        return outcomes, armed

    outcomes, armed = run(main())
    assert outcomes == [(False, 0), (False, 1), (False, 2), (False, "slept"), (False, "again")]
    assert armed == 1
