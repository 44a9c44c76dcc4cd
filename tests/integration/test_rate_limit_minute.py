"""A per-action rate limit shared by two workers holds over a minute (virtual time): two
engines on one database, each with its own worker, call one rate-limited action; together they
make the limit's number of calls a minute (within 10%), never more than its rate in any
second, and both take turns."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from typing import Any

from plait import Context, Engine, RateLimit
from plait.testing import VirtualClock

RATE = 3  # calls a second (a third of a second apart: no float of the epoch holds it exactly)
MINUTE = 60.0
MakeEngine = Callable[..., Engine]


def worker(
    make: MakeEngine, clock: VirtualClock, name: str, calls: list[tuple[float, str]]
) -> Engine:
    engine = make(clock=clock, poll_seconds=1.0, lease_seconds=10**7, heartbeat_seconds=10**6)

    @engine.action("lookup", rate_limit=RateLimit(RATE, period=1))
    async def lookup(value: Any) -> Any:
        calls.append((clock.time(), name))
        return value

    @engine.workflow(name=f"enrich-{name}")  # each worker claims only its own runs
    async def enrich(ctx: Context, value: Any) -> Any:
        return await ctx.step("lookup", lookup, value)

    return engine


async def test_a_rate_limit_holds_across_two_workers_over_a_minute(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    calls: list[tuple[float, str]] = []
    count = int(RATE * MINUTE) + 20  # more than a minute's worth: the limit must bind
    async with (
        worker(make_engine, clock, "a", calls) as a,
        worker(make_engine, clock, "b", calls) as b,
    ):
        began = clock.time()
        handles = [
            await (a if n % 2 else b).start(f"enrich-{'a' if n % 2 else 'b'}", n)
            for n in range(count)
        ]
        together = asyncio.gather(*(h.result() for h in handles))
        results = await asyncio.wait_for(clock.run_skipping(together), 120)
    assert sorted(results) == list(range(count))
    times = sorted(t - began for t, _ in calls)
    in_minute = sum(1 for t in times if t < MINUTE)
    assert abs(in_minute - RATE * MINUTE) <= 0.1 * RATE * MINUTE, in_minute
    busiest = max(bisect.bisect_left(times, t + 1.0 - 1e-6) - i for i, t in enumerate(times))
    assert busiest <= RATE, f"{busiest} calls within one second"
    assert {name for _, name in calls} == {"a", "b"}  # both workers called it
