"""Worker behaviour: cancellation, fencing, shutdown, concurrency, restarts, sync facade."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine, WorkflowCancelled, WorkflowFailed
from plait.store.records import WorkerInfo
from plait.testing import VirtualClock, assert_eventually
from plait.worker import liveness
from tests.integration.helpers import Gate, Held, counter, pump, wait_status

MakeEngine = Callable[..., Engine]


async def test_cancelling_a_waiting_run_ends_it_and_runs_no_further_step(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    counts, step = counter()

    @engine.workflow("later")
    async def later(ctx: Context) -> None:
        await ctx.step("before", step("before"))
        await ctx.sleep(3600)
        await ctx.step("after", step("after"))

    async with engine:
        handle = await engine.start(later)
        await wait_status(engine, handle.id, "waiting")
        info = await engine.handle(handle.id).cancel()
        assert info.status == "cancelled"
        await clock.advance(7200)
        with pytest.raises(WorkflowCancelled):
            await handle.result(timeout=5)
        await asyncio.sleep(0.05)
        run = await engine.handle(handle.id).info()
    assert counts == {"before": 1}
    assert run.status == "cancelled" and run.finished_at is not None


@pytest.mark.parametrize("canceller", ["same engine", "another engine"])
async def test_cancelling_a_running_run_stops_it_before_the_next_step(
    make_engine: MakeEngine, canceller: str
) -> None:
    engine = make_engine()
    # From another engine there is no local task to cancel: only the store knows.
    cancelling = engine if canceller == "same engine" else make_engine()
    counts, step = counter()
    gate = Gate()

    @engine.workflow("busy")
    async def busy(ctx: Context) -> None:
        await ctx.step("first", gate)
        await ctx.step("second", step("second"))

    async with engine:
        handle = await engine.start(busy)
        await gate.reached()
        await cancelling.handle(handle.id).cancel()
        gate.open()
        with pytest.raises(WorkflowCancelled):
            await handle.result(timeout=5)
        run = await engine.handle(handle.id).info()
    assert counts == {}
    assert run.status == "cancelled"
    assert [s.key for s in run.steps] == []


async def test_a_worker_that_lost_its_lease_cannot_write_the_run(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    gate = Gate("late")

    @engine.workflow("contested")
    async def contested(ctx: Context) -> str:
        return str(await ctx.step("slow", gate))

    async with engine:
        handle = await engine.start(contested)
        await gate.reached()
        store = await engine.deps.store()
        far = engine.clock.time() + 3600  # another worker sees the lease as expired
        [stolen] = await store.claim_runs("worker_other", ["contested"], 1, far, far + 30)
        gate.open()
        await asyncio.sleep(0.1)
        record = await store.get_run(handle.id)
    assert record is not None
    assert record.status == "running" and record.lease_owner == "worker_other"
    assert record.fence == stolen.fence and record.steps == []


async def test_same_workflow_code_changed_between_restarts_is_non_deterministic(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    first = make_engine(clock=clock)
    _, step = counter()

    @first.workflow("ship")
    async def ship_v1(ctx: Context) -> str:
        await ctx.step("pack", step("pack"))
        await ctx.step("label", step("label"))
        await ctx.sleep(3600)
        return str(await ctx.step("send", step("send")))

    async with first:
        handle = await first.start(ship_v1)
        await wait_status(first, handle.id, "waiting")

    second = make_engine(clock=clock)

    @second.workflow("ship")
    async def ship_v2(ctx: Context) -> str:
        await ctx.step("pack", step("pack"))
        await ctx.step("print-label", step("label"))
        await ctx.sleep(3600)
        return str(await ctx.step("send", step("send")))

    async with second:
        with pytest.raises(WorkflowFailed) as caught:
            await pump(clock, second.handle(handle.id).result(timeout=10), step=600)
    error = caught.value.error
    assert error["type"] == "plait.errors.NonDeterminismError"
    assert error["step"] == "print-label"
    assert "'print-label'" in error["message"] and "'label'" in error["message"]


async def test_non_determinism_is_reported_even_if_the_workflow_swallows_it(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    first = make_engine(clock=clock)
    _, step = counter()

    @first.workflow("sly")
    async def sly_v1(ctx: Context) -> str:
        await ctx.step("a", step("a"))
        await ctx.sleep(3600)
        return "v1"

    async with first:
        handle = await first.start(sly_v1)
        await wait_status(first, handle.id, "waiting")

    second = make_engine(clock=clock)

    @second.workflow("sly")
    async def sly_v2(ctx: Context) -> str:
        try:
            await ctx.step("b", step("b"))
        except Exception:
            return "swallowed"
        return "v2"

    async with second:
        with pytest.raises(WorkflowFailed, match="NonDeterminismError"):
            await pump(clock, second.handle(handle.id).result(timeout=10), step=600)


async def test_graceful_stop_releases_unfinished_runs_and_a_restart_finishes_them(
    make_engine: MakeEngine,
) -> None:
    first = make_engine(shutdown_seconds=0.1)
    entered = asyncio.Event()

    async def never() -> None:
        entered.set()
        await asyncio.Event().wait()

    @first.workflow("resumable")
    async def resumable_v1(ctx: Context) -> str:
        await ctx.step("work", never)
        return "unreachable"

    await first.start_worker()
    handle = await first.start(resumable_v1)
    await asyncio.wait_for(entered.wait(), 5)
    await first.close()
    second = make_engine()
    store = await second.deps.store()
    record = await store.get_run(handle.id)
    assert record is not None
    assert (record.status, record.lease_owner) == ("pending", None)

    async def quick() -> str:
        return "done"

    @second.workflow("resumable")
    async def resumable_v2(ctx: Context) -> str:
        return str(await ctx.step("work", quick))

    async with second:
        assert await second.handle(handle.id).result(timeout=5) == "done"


async def test_graceful_stop_lets_running_runs_finish(make_engine: MakeEngine) -> None:
    engine = make_engine(shutdown_seconds=5)
    entered = asyncio.Event()

    async def brief() -> str:
        entered.set()
        await asyncio.sleep(0.2)
        return "finished"

    @engine.workflow("brief")
    async def brief_wf(ctx: Context) -> str:
        return str(await ctx.step("brief", brief))

    await engine.start_worker()
    handle = await engine.start(brief_wf)
    await asyncio.wait_for(entered.wait(), 5)
    await engine.close()
    assert (await engine.handle(handle.id).info()).output == "finished"
    await engine.close()


async def test_concurrency_limit_caps_runs_in_flight(make_engine: MakeEngine) -> None:
    engine = make_engine(concurrency=2)
    holder = Held(engine)
    held = holder.workflow

    async with engine:
        handles = [await engine.start(held, i) for i in range(6)]

        async def two_running() -> bool:
            return holder.in_flight == 2

        await assert_eventually(two_running)
        await asyncio.sleep(0.1)
        assert holder.peak == 2
        assert len((await engine.list_runs(status="pending")).items) == 4
        holder.release.set()
        assert [await h.result(timeout=5) for h in handles] == list(range(6))
    assert holder.peak == 2


async def test_a_restarted_engine_resumes_runs_of_a_dead_worker_at_once(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    engine = make_engine(lease_seconds=3600, heartbeat_seconds=60)

    @engine.workflow("orphan")
    async def orphan(ctx: Context) -> str:
        return "resumed"

    # A worker process on this host that died holding the run's hour-long lease.
    store = await engine.deps.store()
    dead_pid = _dead_pid()
    now = engine.clock.time()
    await store.register_worker(WorkerInfo("worker_dead", liveness.HOST, dead_pid, now, now))
    handle = await engine.start(orphan)
    await store.claim_runs("worker_dead", ["orphan"], 1, now, now + 3600)
    async with engine:
        assert await handle.result(timeout=5) == "resumed"
        assert [w.id for w in await store.list_workers()] == [engine.worker.id]  # type: ignore[union-attr]


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_sync_facade_starts_and_waits_without_async(db_url: str) -> None:
    engine = Engine(db_url)

    @engine.workflow("double")
    async def double(ctx: Context, x: int) -> int:
        async def times_two(v: int) -> int:
            return v * 2

        return int(await ctx.step("double", times_two, x))

    with engine.sync() as plait:
        handle = plait.start(double, 21)
        assert handle.result(timeout=5) == 42
        assert plait.handle(handle.id).info().status == "succeeded"
        assert [r.id for r in plait.list_runs().items] == [handle.id]
        assert [r.id for r in plait.runs.find("default", status="succeeded").items] == [handle.id]
        retried = plait.handle(handle.id).retry(by="script")
        assert retried.result(timeout=5) == 42 and retried.id != handle.id


async def test_a_database_failure_inside_a_step_abandons_the_run_for_later(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    from plait.errors import DatabaseUnavailable

    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    calls: list[str] = []

    async def record_once() -> str:
        calls.append("ran")
        return "done"

    @engine.workflow("fragile")
    async def fragile(ctx: Context) -> str:
        return str(await ctx.step("write", record_once))

    async with engine:
        store = await engine.deps.store()
        real = store.record_step
        failures = iter([DatabaseUnavailable("the database went away")])

        def flaky(run_id: str, fence: int, step: Any) -> Any:
            error = next(failures, None)
            if error is not None:
                future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                future.set_exception(error)
                return future
            return real(run_id, fence, step)

        store.record_step = flaky  # type: ignore[method-assign]
        handle = await engine.start(fragile)
        worker = engine.worker
        assert worker is not None

        async def abandoned() -> bool:  # the execution gave up on the run, leaving its lease
            return calls == ["ran"] and handle.id not in worker.executing

        await assert_eventually(abandoned)
        assert (await engine.handle(handle.id).info()).status == "running"  # not failed
        await clock.advance(31)  # its lease runs out; the next poll claims it again
        result = asyncio.ensure_future(handle.result(timeout=20))
        while not result.done():
            # The worker may have set its poll timer after that jump (it was reading the next
            # wake time from the database): move the clock on until a poll finds the run.
            await asyncio.wait({result}, timeout=0.1)
            await clock.advance(1)
        assert await result == "done"
    assert calls == ["ran", "ran"]  # the unrecorded step runs again: at least once
