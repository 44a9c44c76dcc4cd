"""The worker's loops are supervised: a loop that dies stops the whole worker (no more claims, no
more heartbeats, its runs released as by a graceful stop) and ``Worker.wait`` raises its error;
the store's transient faults are still retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import DatabaseUnavailable
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import Gate

MakeEngine = Callable[..., Engine]


class Beats:
    """Counts the heartbeats of a store (wraps its ``heartbeat`` verb)."""

    def __init__(self, store: Any) -> None:
        self.count = 0
        self._real = store.heartbeat
        store.heartbeat = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._real(*args, **kwargs)


def advancing(clock: VirtualClock, seconds: float, done: Callable[[], bool]) -> Any:
    """A check for ``assert_eventually`` that moves ``clock`` on by ``seconds`` each time, so a
    loop sleeping on it wakes whenever it began its sleep."""

    async def check() -> bool:
        await clock.advance(seconds)
        return done()

    return check


def faulty(real: Any, faults: list[BaseException], calls: list[str], name: str) -> Any:
    """``real``, a store verb, raising each of ``faults`` once first."""

    async def verb(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if faults:
            raise faults.pop(0)
        return await real(*args, **kwargs)

    return verb


async def test_a_claim_loop_that_dies_stops_the_worker_and_releases_its_runs(
    make_engine: MakeEngine, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10, shutdown_seconds=0.1)
    gate = Gate()

    @engine.workflow("held")
    async def held(ctx: Context) -> str:
        return str(await ctx.step("hold", gate))

    store = await engine.deps.store()
    beats = Beats(store)

    async def block() -> None:
        async with engine:
            worker = engine.worker
            assert worker is not None
            handle = await engine.start(held)
            await gate.reached()
            await assert_eventually(advancing(clock, 10, lambda: beats.count >= 1))  # alive

            broken = faulty(store.claim_runs, [RuntimeError("injected: claims broken")], [],
                            "claim")  # fmt: skip
            store.claim_runs = broken  # type: ignore[method-assign]
            worker.wake()
            with pytest.raises(RuntimeError, match="injected: claims broken"):
                await asyncio.wait_for(worker.wait(), 10)

            assert not worker.running
            assert worker.id not in [w.id for w in await store.list_workers()]
            # Its run in flight did not finish within shutdown_seconds: released for another.
            assert (await engine.handle(handle.id).info()).status == "pending"
            stopped_at = beats.count
            await clock.advance(100)  # ten heartbeat intervals: none comes from a stopped worker
            assert beats.count == stopped_at
            with pytest.raises(RuntimeError, match="injected"):  # every waiter learns it
                await worker.wait()
            gate.open()

    with pytest.raises(RuntimeError, match="injected"):  # the block does not end normally
        await block()
    died = [r for r in caplog.records if "claim loop died" in r.getMessage()]
    assert len(died) == 1 and died[0].levelno == logging.ERROR
    assert died[0].exc_info is not None and "injected" in str(died[0].exc_info[1])


async def test_a_heartbeat_loop_that_dies_stops_the_worker(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    store = await engine.deps.store()

    async def block() -> None:
        async with engine:
            worker = engine.worker
            assert worker is not None
            broken = faulty(store.heartbeat, [TypeError("injected: heartbeat broken")], [],
                            "beat")  # fmt: skip
            store.heartbeat = broken  # type: ignore[method-assign]
            stopped = asyncio.ensure_future(worker.wait())
            await assert_eventually(advancing(clock, 10, stopped.done))
            with pytest.raises(TypeError, match="injected: heartbeat broken"):
                await stopped
            assert not worker.running
            assert worker.id not in [w.id for w in await store.list_workers()]

    with pytest.raises(TypeError, match="injected: heartbeat broken"):  # raised as it ends
        await block()


async def test_a_clean_stop_ends_the_wait_without_an_error(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        worker = engine.worker
        assert worker is not None
        waiting = asyncio.ensure_future(worker.wait())
        assert not waiting.done()
    await asyncio.wait_for(waiting, 10)  # returns: no error
    assert waiting.result() is None


async def test_transient_store_errors_are_retried_and_the_worker_keeps_running(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    starter = make_engine(clock=clock)  # no worker: its runs are stored for a claim

    @engine.workflow("quick")
    async def quick(ctx: Context) -> str:
        return "done"

    starter.workflow("quick")(quick.fn)

    store = await engine.deps.store()
    calls: list[str] = []
    transient: list[BaseException] = [DatabaseUnavailable("gone"), OSError("connection reset")]
    store.claim_runs = faulty(store.claim_runs, transient, calls, "claim")  # type: ignore[method-assign]
    store.heartbeat = faulty(  # type: ignore[method-assign]
        store.heartbeat, [DatabaseUnavailable("gone")], calls, "heartbeat"
    )
    async with engine:
        worker = engine.worker
        assert worker is not None
        await assert_eventually(advancing(clock, 10, lambda: calls.count("heartbeat") >= 2))
        handle = await starter.start("quick")

        async def succeeded() -> bool:
            worker.wake()  # retry the claim now rather than at the poll interval
            return (await engine.handle(handle.id).info()).status == "succeeded"

        await assert_eventually(succeeded)
        assert calls.count("claim") >= 3  # two faults, then the claim that took the run
        assert worker.running


async def test_a_close_whose_caller_gives_up_goes_on_to_release_the_worker(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(shutdown_seconds=30)
    reader = make_engine()  # another process's view of the database
    gate = Gate()

    @engine.workflow("held")
    async def held(ctx: Context) -> str:
        return str(await ctx.step("hold", gate))

    await engine.start_worker()
    worker = engine.worker
    assert worker is not None
    handle = await engine.start(held)
    await gate.reached()
    # A lifespan timeout: the caller is cancelled while the stop waits for the run in flight.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(engine.close(), 0.05)
    gate.open()  # the run finishes within shutdown_seconds; the stop goes on meanwhile
    await asyncio.wait_for(engine.close(), 10)  # a later close waits for it, it does not raise
    assert not worker.running
    assert (await reader.handle(handle.id).info()).status == "succeeded"
    assert worker.id not in [w.id for w in await (await reader.deps.store()).list_workers()]
    await asyncio.wait_for(worker.stop(), 10)  # stopped: nothing left to do


async def test_a_stop_that_failed_is_retried_by_the_next_and_close_closes_the_store(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    store = await engine.deps.store()
    calls: list[str] = []
    outage: list[BaseException] = [DatabaseUnavailable("injected: outage")]
    real_remove = store.remove_worker
    store.remove_worker = faulty(real_remove, outage, calls, "remove")  # type: ignore[method-assign]
    worker = await engine.start_worker()
    with pytest.raises(DatabaseUnavailable, match="injected: outage"):
        await worker.stop()
    assert worker.id in [w.id for w in await store.list_workers()]
    await asyncio.wait_for(worker.stop(), 10)  # retried: the database is back
    assert calls == ["remove", "remove"]
    assert worker.id not in [w.id for w in await store.list_workers()]

    # Through the engine: a stop that keeps failing still closes the store, then raises.
    down: list[BaseException] = [DatabaseUnavailable("injected: still down")] * 2
    store.remove_worker = faulty(real_remove, down, calls, "remove")  # type: ignore[method-assign]
    await engine.start_worker()
    with pytest.raises(DatabaseUnavailable, match="injected: still down"):
        await engine.close()
    assert engine.worker is None and engine.deps.local.worker is None
    assert await engine.deps.store() is not store  # the old one was closed: a new one opens


async def test_a_loop_that_dies_while_the_worker_stops_fails_its_wait(
    make_engine: MakeEngine, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    store = await engine.deps.store()
    beating = asyncio.Event()

    async def heartbeat(*args: Any, **kwargs: Any) -> Any:
        beating.set()
        try:
            await asyncio.Event().wait()  # a round trip that never answers
        except asyncio.CancelledError:
            raise RuntimeError("injected: died as the stop cancelled it") from None

    store.heartbeat = heartbeat  # type: ignore[method-assign]
    worker = await engine.start_worker()
    await assert_eventually(advancing(clock, 10, beating.is_set))
    with pytest.raises(RuntimeError, match="injected: died as the stop"):
        await asyncio.wait_for(engine.close(), 10)  # the stop goes on; the error is not lost
    with pytest.raises(RuntimeError, match="injected: died as the stop"):
        await worker.wait()
    died = [r for r in caplog.records if "heartbeat loop died" in r.getMessage()]
    assert len(died) == 1 and died[0].exc_info is not None


async def test_after_the_worker_died_starts_are_pending_until_a_fresh_worker_takes_them(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()

    @engine.workflow("quick")
    async def quick(ctx: Context) -> str:
        return "done"

    store = await engine.deps.store()
    dead = await engine.start_worker()
    real_claim = store.claim_runs
    broken: list[BaseException] = [RuntimeError("injected: claims broken")]
    store.claim_runs = faulty(real_claim, broken, [], "claim")  # type: ignore[method-assign]
    dead.wake()
    with pytest.raises(RuntimeError, match="injected"):
        await asyncio.wait_for(dead.wait(), 10)
    assert engine.deps.local.worker is None  # unlinked as it died

    handle = await engine.start(quick)
    assert (await handle.info()).status == "pending"  # stored for a worker's claim

    fresh = await engine.start_worker()  # a fresh worker in the dead one's place
    assert fresh is not dead and fresh.running and engine.deps.local.worker is fresh
    assert await asyncio.wait_for(handle.result(), 10) == "done"
    await engine.close()  # the fresh worker stops cleanly: no error


async def test_a_stop_that_was_cancelled_is_started_afresh_by_the_next(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(shutdown_seconds=30)
    gate = Gate()

    @engine.workflow("held")
    async def held(ctx: Context) -> str:
        return str(await ctx.step("hold", gate))

    worker = await engine.start_worker()
    handle = await engine.start(held)
    await gate.reached()
    first = asyncio.ensure_future(worker.stop())
    stops: list[asyncio.Task[Any]] = []

    async def stop_began() -> bool:
        name = f"plait-stop-{worker.id}"
        stops[:] = [t for t in asyncio.all_tasks() if t.get_name() == name]
        return bool(stops)

    await assert_eventually(stop_began)
    [stopping] = stops
    stopping.cancel()  # what an event loop's teardown does to the tasks it finds
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.ensure_future(worker.stop())  # a fresh stop, not the cancelled one
    gate.open()
    await asyncio.wait_for(second, 10)
    assert (await handle.info()).status == "succeeded"
    store = await engine.deps.store()
    assert worker.id not in [w.id for w in await store.list_workers()]
