"""Runs that events start honour their code workflow's debounce and singleton ``skip``
(docs/flow-control.md), on both backends, as ``engine.start`` does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from plait import Context, Engine
from plait.testing import VirtualClock

MakeEngine = Callable[..., Engine]


async def test_a_burst_of_events_collapses_into_one_debounced_run(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    executions: list[Any] = []

    @engine.workflow("notify", trigger="Ping.sent", debounce=("input.k", 30))
    async def notify(ctx: Context, ping: dict[str, Any]) -> int:
        executions.append(ping["n"])
        return int(ping["n"])

    await engine.start_worker()
    runs: list[str] = []
    for n in range(3):
        runs += (await engine.events.emit("default", "Ping.sent", {"k": "a", "n": n})).runs
        await clock.advance(10)
    assert len(set(runs)) == 1
    joined = await engine.start("notify", {"k": "a", "n": 9})  # a code start joins it too
    assert joined.id == runs[0]
    assert (await engine.runs.get("default", runs[0])).status == "waiting"
    assert await clock.run_skipping(engine.handle(runs[0]).result(timeout=120)) == 9
    assert executions == [9]


async def test_an_event_start_of_a_live_singleton_returns_its_run(make_engine: MakeEngine) -> None:
    engine = make_engine()
    release = asyncio.Event()

    @engine.workflow("sync", trigger="Ping.sent", singleton={"key": "input.k", "mode": "skip"})
    async def sync(ctx: Context, ping: dict[str, Any]) -> int:
        async def hold() -> int:
            await release.wait()
            return int(ping["n"])

        return await ctx.step("hold", hold)

    await engine.start_worker()
    first = (await engine.events.emit("default", "Ping.sent", {"k": "a", "n": 0})).runs
    again = (await engine.events.emit("default", "Ping.sent", {"k": "a", "n": 1})).runs
    other = (await engine.events.emit("default", "Ping.sent", {"k": "b", "n": 2})).runs
    assert again == first and other != first
    started = await engine.start("sync", {"k": "a", "n": 3})  # the event's run is the singleton
    assert [started.id] == first
    release.set()
    assert await engine.handle(first[0]).result(timeout=10) == 0
