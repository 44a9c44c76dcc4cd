"""Per-action rate limits on every backend (virtual time): calls are spaced at the limit's
rate across runs, a burst goes at once, and a step waiting for its turn is suspended (the run
waits as a row, its step recorded as waiting, no worker slot held) and does not reserve again
when it resumes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from plait import Context, Engine, RateLimit, RetryPolicy
from plait.testing import VirtualClock, assert_eventually

LIMIT = 60.0
MakeEngine = Callable[..., Engine]


def build(make: MakeEngine, clock: VirtualClock, calls: list[float], limit: Any) -> Engine:
    engine = make(clock=clock, poll_seconds=10**6, lease_seconds=10**7, heartbeat_seconds=10**6)

    @engine.action("lookup", rate_limit=limit)
    async def lookup(value: Any) -> Any:
        calls.append(clock.time())
        return value

    @engine.workflow(name="enrich")
    async def enrich(ctx: Context, value: Any) -> Any:
        return await ctx.step("lookup", lookup, value)

    return engine


async def run_all(engine: Engine, clock: VirtualClock, count: int) -> list[Any]:
    handles = [await engine.start("enrich", n) for n in range(count)]
    together = asyncio.gather(*(h.result() for h in handles))
    return list(await asyncio.wait_for(clock.run_skipping(together), LIMIT))


async def test_calls_across_runs_are_spaced_at_the_rate(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    calls: list[float] = []
    async with build(make_engine, clock, calls, RateLimit(10, period=1)) as engine:
        began = clock.time()
        assert sorted(await run_all(engine, clock, 25)) == list(range(25))
    calls.sort()
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.1  # never two calls closer than 1/10 s
    assert calls[-1] - began >= 2.4 - 1e-4  # 25 calls at 10/s: 2.4 s (epoch float rounding)
    in_first_second = [t for t in calls if t < began + 1.0]
    assert len(in_first_second) <= 10


async def test_a_burst_goes_at_once_then_the_rate_holds(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    calls: list[float] = []
    limit = {"limit": 2, "period": 1, "burst": 4}
    async with build(make_engine, clock, calls, limit) as engine:
        began = clock.time()
        await run_all(engine, clock, 8)
    offsets = sorted(round(t - began, 3) for t in calls)
    assert offsets[:4] == [0.0, 0.0, 0.0, 0.0]  # the burst
    assert offsets[4:] == [0.5, 1.0, 1.5, 2.0]  # then two a second


async def test_a_step_waiting_for_its_turn_is_suspended_and_reserves_once(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    calls: list[float] = []
    async with build(make_engine, clock, calls, RateLimit(1, period=60)) as engine:
        began = clock.time()
        await run_all(engine, clock, 1)  # takes the turn now
        handle = await engine.start("enrich", 1)

        async def suspended() -> bool:
            run = await engine.runs.get("default", handle.id)
            return run.status == "waiting" and bool(run.steps) and (
                run.steps[0].status == "waiting")  # fmt: skip

        await assert_eventually(suspended)
        run = await engine.runs.get("default", handle.id)
        [step] = run.steps
        assert step.error is not None and step.error["type"] == "RateLimited"
        assert engine.worker is not None and not engine.worker.executing  # no slot held
        assert await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT) == 1
        # It went at its reserved turn, not one interval later (no second reservation).
        assert calls == [began, began + 60]
        assert (await engine.runs.get("default", handle.id)).steps[0].attempts == 1


async def test_a_retry_after_a_reserved_turn_reserves_a_turn_of_its_own(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    calls: list[float] = []

    @engine.action("lookup", rate_limit=RateLimit(1, period=60))
    async def lookup(value: Any) -> Any:
        calls.append(clock.time())
        if len(calls) == 2:  # the first attempt of the second run, at its reserved turn
            raise ConnectionError("try again")
        return value

    @engine.workflow(name="enrich")
    async def enrich(ctx: Context, value: Any) -> Any:
        return await ctx.step(
            "lookup", lookup, value, retry=RetryPolicy(max_attempts=2, initial_delay=1)
        )

    async with engine:
        began = clock.time()
        assert await run_all(engine, clock, 2) == [0, 1]
        store = await engine.deps.store()
        # Three calls took three turns (0, 60, 120): the next one free is at 180.
        turn, _ = await store.reserve_rate("default", "action", "lookup", now=clock.time(),
                                           interval=60.0, tolerance=0.0)  # fmt: skip
    assert [round(t - began) for t in calls] == [0, 60, 120]
    assert round(turn - began) == 180
