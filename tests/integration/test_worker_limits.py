"""Worker limits under load and over time: the concurrency limit against concurrent starts,
cancellation reaching a child in the middle of a step, and a lease kept by heartbeats through a
step longer than the lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine, WorkflowCancelled
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import Held, wait_status

MakeEngine = Callable[..., Engine]


async def test_gathered_starts_never_put_more_runs_in_flight_than_the_limit(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(concurrency=2, clock=clock)
    holder = Held(engine)
    held = holder.workflow

    async with engine:
        worker = engine.worker
        assert worker is not None

        async def idle() -> bool:  # its first claim done: the heartbeat's and the poll's timers
            return clock.sleepers == 2

        await assert_eventually(idle)
        handles = await asyncio.gather(*(engine.start(held, i) for i in range(6)))
        # Two starts took the free slots and execute here; the other four were stored for a
        # later claim instead of all six seeing the same free slots.
        assert len(worker.executing) == 2
        assert len((await engine.list_runs(status="pending")).items) == 4

        async def two_in_flight() -> bool:
            return holder.in_flight == 2

        await assert_eventually(two_in_flight)
        holder.release.set()
        results = await asyncio.gather(*(h.result(timeout=10) for h in handles))
        runs = (await engine.list_runs()).items
    assert results == list(range(6))
    assert holder.peak == 2
    assert sorted(r.status for r in runs) == ["succeeded"] * 6


async def test_cancelling_a_parent_interrupts_its_child_in_the_middle_of_a_step(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    # Virtual time that never moves: no heartbeat can notice the lost lease, so only the cancel
    # itself can stop the child's step.
    engine = make_engine(clock=clock)
    entered, release = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def long_call() -> str:
        entered.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("side effect")
        return "done"

    @engine.workflow("charge")
    async def charge(ctx: Context) -> str:
        return str(await ctx.step("call", long_call))

    @engine.workflow("order")
    async def order(ctx: Context) -> Any:
        return await ctx.child(charge)

    async with engine:
        handle = await engine.start(order)
        await asyncio.wait_for(entered.wait(), 10)
        [child_id] = (await engine.handle(handle.id).info()).children
        info = await engine.handle(handle.id).cancel(reason="customer left")
        assert info.status == "cancelled"

        async def child_stopped() -> bool:
            return seen == ["cancelled"]

        await assert_eventually(child_stopped)
        release.set()  # had the child kept running, its side effect would happen now
        with pytest.raises(WorkflowCancelled):
            await engine.handle(child_id).result(timeout=10)
        child = await engine.handle(child_id).info()
    assert seen == ["cancelled"]
    assert child.status == "cancelled"
    assert child.error is not None and handle.id in child.error["message"]
    assert [s.status for s in child.steps if s.key == "call"] in ([], ["running"])


async def test_a_step_longer_than_the_lease_keeps_it_through_heartbeats(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    entered, finish = asyncio.Event(), asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        entered.set()
        await finish.wait()
        return "done"

    @engine.workflow("patient")
    async def patient(ctx: Context) -> str:
        return str(await ctx.step("slow", slow))

    async with engine:
        store = await engine.deps.store()
        handle = await engine.start(patient)
        await asyncio.wait_for(entered.wait(), 10)
        first = await store.get_run(handle.id, with_steps=False)
        assert first is not None and first.lease_owner is not None
        armed = 2  # once the worker settles: the heartbeat's timer and the claim loop's poll

        async def settled() -> bool:
            return clock.sleepers == armed

        await assert_eventually(settled)

        for _ in range(12):  # 120 virtual seconds: four leases' worth
            await clock.advance(10)

            async def renewed() -> bool:
                run = await store.get_run(handle.id, with_steps=False)
                assert run is not None
                lease = run.lease_expires_at or 0.0
                return lease >= clock.time() + 30 and clock.sleepers == armed

            await assert_eventually(renewed)
        held = await store.get_run(handle.id, with_steps=False)
        assert held is not None
        assert (held.status, held.lease_owner) == ("running", first.lease_owner)
        assert (held.fence, held.replays) == (first.fence, 1)
        finish.set()
        assert await handle.result(timeout=10) == "done"
        done = await engine.handle(handle.id).info()
    assert calls == 1
    assert done.replays == 1
    assert [(s.key, s.status, s.attempts) for s in done.steps] == [("slow", "completed", 1)]


async def test_a_child_cancelled_from_another_engine_is_fenced_out_and_ends_cancelled(
    make_engine: MakeEngine,
) -> None:
    """Without a local task to cancel, the store's cascade still ends the child."""
    engine, other = make_engine(), make_engine()

    @engine.workflow("listener")
    async def listener(ctx: Context) -> Any:
        return await ctx.receive("never")

    @engine.workflow("family")
    async def family(ctx: Context) -> Any:
        return await ctx.child(listener)

    async with engine:
        handle = await engine.start(family)
        await wait_status(engine, handle.id, "waiting")
        [child_id] = (await engine.handle(handle.id).info()).children
        await wait_status(engine, child_id, "waiting")
        await other.handle(handle.id).cancel(by="ops")
        child = await engine.handle(child_id).info()
    assert child.status == "cancelled"
    assert [(h.action, h.by, h.reason) for h in child.history] == [
        ("cancel", "ops", f"its parent {handle.id} was cancelled")
    ]
