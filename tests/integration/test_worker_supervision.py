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
    async with engine:
        worker = engine.worker
        assert worker is not None
        handle = await engine.start(held)
        await gate.reached()
        await assert_eventually(advancing(clock, 10, lambda: beats.count >= 1))  # alive

        broken = faulty(store.claim_runs, [RuntimeError("injected: claims broken")], [], "claim")
        store.claim_runs = broken  # type: ignore[method-assign]
        worker.wake()
        with pytest.raises(RuntimeError, match="injected: claims broken"):
            await asyncio.wait_for(worker.wait(), 10)

        assert not worker.running
        assert worker.id not in [w.id for w in await store.list_workers()]
        # Its run in flight did not finish within shutdown_seconds: released for another worker.
        assert (await engine.handle(handle.id).info()).status == "pending"
        stopped_at = beats.count
        await clock.advance(100)  # ten heartbeat intervals: none comes from a stopped worker
        assert beats.count == stopped_at
        with pytest.raises(RuntimeError, match="injected"):  # every waiter learns it
            await worker.wait()
        gate.open()
    died = [r for r in caplog.records if "claim loop died" in r.getMessage()]
    assert len(died) == 1 and died[0].levelno == logging.ERROR
    assert died[0].exc_info is not None and "injected" in str(died[0].exc_info[1])


async def test_a_heartbeat_loop_that_dies_stops_the_worker(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30, heartbeat_seconds=10)
    store = await engine.deps.store()
    async with engine:
        worker = engine.worker
        assert worker is not None
        broken = faulty(store.heartbeat, [TypeError("injected: heartbeat broken")], [], "beat")
        store.heartbeat = broken  # type: ignore[method-assign]
        stopped = asyncio.ensure_future(worker.wait())
        await assert_eventually(advancing(clock, 10, stopped.done))
        with pytest.raises(TypeError, match="injected: heartbeat broken"):
            await stopped
        assert not worker.running
        assert worker.id not in [w.id for w in await store.list_workers()]


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
