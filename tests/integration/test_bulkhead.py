"""Bulkheads on every backend: at most ``limit`` executions of an action at once across runs;
the others wait suspended (no worker slot) and go when a permit is free; permits are given back
when an attempt ends, fails or not; a permit of a run no longer running under its fence is
free."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from plait import Bulkhead, Context, Engine
from plait.testing import VirtualClock, assert_eventually

LIMIT = 60.0
MakeEngine = Callable[..., Engine]


class Gauge:
    """An action that notes how many of its calls run at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.calls = 0

    async def __call__(self, value: Any) -> Any:
        self.now += 1
        self.calls += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(0.02)  # real time: the attempt is work, virtual time stands
            if value < 0:
                raise ValueError("negative")
            return value
        finally:
            self.now -= 1


def build(make: MakeEngine, clock: VirtualClock, gauge: Gauge, limit: int) -> Engine:
    engine = make(clock=clock, poll_seconds=10**6, lease_seconds=10**7, heartbeat_seconds=10**6,
                  concurrency=20)  # fmt: skip
    action = engine.action("render", bulkhead=Bulkhead(limit))(gauge)

    @engine.workflow(name="job")
    async def job(ctx: Context, value: int) -> Any:
        try:
            return await ctx.step("render", action, value)
        except Exception as exc:
            return type(exc).__name__

    return engine


async def test_at_most_limit_executions_at_once_and_the_rest_wait(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    gauge = Gauge()
    async with build(make_engine, clock, gauge, 2) as engine:
        handles = [await engine.start("job", n) for n in [1, 2, -3, 4, 5, -6, 7, 8]]
        results = await asyncio.wait_for(
            clock.run_skipping(asyncio.gather(*(h.result() for h in handles))), LIMIT
        )
        store = await engine.deps.store()
        left = await store.bulkhead_permits("default", "render")
    assert gauge.most == 2  # the limit was reached and never passed
    assert gauge.calls == 8
    assert results == [1, 2, "StepFailed", 4, 5, "StepFailed", 7, 8]
    assert left == []  # every permit was given back, failures included


async def test_a_permit_of_a_run_no_longer_running_is_free(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    gauge = Gauge()
    async with build(make_engine, clock, gauge, 1) as engine:
        store = await engine.deps.store()
        handle = await engine.start("job", 1)
        assert await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT) == 1
        # A permit left by a run that ended (as a crashed worker's would be): not counted.
        now = clock.time()
        assert await store.acquire_permit("default", "render", 1, handle.id, "render", 1, now)
        assert await store.bulkhead_permits("default", "render") != []
        again = await engine.start("job", 2)
        assert await asyncio.wait_for(clock.run_skipping(again.result()), LIMIT) == 2
        assert await store.bulkhead_permits("default", "render") == []


async def test_a_worker_that_lost_its_lease_does_not_free_the_new_owner_s_permit(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    gauge = Gauge()
    async with build(make_engine, clock, gauge, 1) as engine:
        store = await engine.deps.store()
        now = clock.time()
        # The run was taken over (fence 2) and took the permit again; the old owner (fence 1)
        # finishing its attempt must not give that permit back.
        assert await store.acquire_permit("default", "render", 1, "run_x", "render", 2, now)
        await store.release_permit("default", "render", "run_x", "render", 1)
        assert [p.fence for p in await store.bulkhead_permits("default", "render")] == [2]
        await store.release_permit("default", "render", "run_x", "render", 2)
        assert await store.bulkhead_permits("default", "render") == []


async def test_a_timed_out_thread_holds_its_permit_until_it_ends(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    release = threading.Event()

    def stuck(value: int) -> int:  # synchronous: its thread cannot be stopped
        release.wait(LIMIT)
        return value

    action = engine.action("stuck", bulkhead=Bulkhead(1))(stuck)

    @engine.workflow(name="slow")
    async def slow(ctx: Context, value: int) -> Any:
        try:
            return await ctx.step("stuck", action, value, timeout=5)
        except Exception as exc:
            return type(exc).__name__

    async with engine:
        store = await engine.deps.store()
        handle = await engine.start("slow", 1)
        assert await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT) == "StepFailed"
        held = await store.bulkhead_permits("default", "stuck")
        assert [p.run_id for p in held] == [handle.id]  # the thread still runs: still held
        release.set()

        async def freed() -> bool:
            return await store.bulkhead_permits("default", "stuck") == []

        await assert_eventually(freed)
