"""Signals to one run (``ctx.receive`` / ``engine.signal``) and published state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import RunEnded, RunNotFound
from plait.testing import VirtualClock, assert_eventually

from .helpers import wait_status

MakeEngine = Callable[..., Engine]


def register_collector(engine: Engine) -> Any:
    @engine.workflow("collector")
    async def collector(ctx: Context, count: int) -> list[Any]:
        got = []
        for i in range(count):
            got.append(await ctx.receive("item"))
            await ctx.set_state("received", i + 1)
        return got

    return collector


async def test_signals_sent_before_the_run_waits_are_received_in_order(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    collector = register_collector(engine)
    handle = await engine.start(collector, 3)  # no worker yet: the run is only a row
    for value in ("a", {"b": 2}, None):
        sent = await engine.handle(handle.id).signal("item", value)
        assert sent.delivered is False
    async with engine:
        assert await handle.result(timeout=10) == ["a", {"b": 2}, None]
        assert (await engine.handle(handle.id).info()).replays == 1  # never had to wait


async def test_signals_sent_while_waiting_resume_the_run_exactly_once(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    collector = register_collector(engine)
    async with engine:
        handle = await engine.start(collector, 3)
        await wait_status(engine, handle.id, "waiting")
        sent = await engine.handle(handle.id).signal("item", 1)
        assert sent.delivered is True
        await engine.handle(handle.id).signal("other", "ignored")  # another name: not received
        await engine.handle(handle.id).signal("item", 2)
        await engine.handle(handle.id).signal("item", 3)
        assert await handle.result(timeout=10) == [1, 2, 3]
        info = await engine.handle(handle.id).info()
        receives = [s for s in info.steps if s.kind == "receive"]
        assert [s.output for s in receives] == [1, 2, 3]
        assert info.state == {"received": 3}


async def test_receive_returns_none_after_its_timeout(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("impatient")
    async def impatient(ctx: Context) -> Any:
        first = await ctx.receive("ping", timeout=60)
        second = await ctx.receive("ping", timeout=60)
        return [first, second]

    async with engine:
        handle = await engine.start(impatient)
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(61)

        async def second_waits() -> bool:
            info = await engine.handle(handle.id).info()
            return info.status == "waiting" and len(info.steps) == 2

        await assert_eventually(second_waits)
        await engine.handle(handle.id).signal("ping", "pong")
        assert await handle.result(timeout=10) == [None, "pong"]


async def test_state_is_visible_while_the_run_waits(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("progress")
    async def progress(ctx: Context) -> str:
        await ctx.set_state("phase", "loading")
        await ctx.set_state("phase", "waiting for approval")
        await ctx.set_state("details", {"percent": 50})
        await ctx.receive("approve")
        await ctx.set_state("phase", "done")
        return "ok"

    async with engine:
        handle = await engine.start(progress)
        await wait_status(engine, handle.id, "waiting")
        assert await engine.handle(handle.id).state("phase") == "waiting for approval"
        assert await engine.handle(handle.id).state() == {
            "phase": "waiting for approval", "details": {"percent": 50}}  # fmt: skip
        assert await engine.handle(handle.id).state("missing") is None
        resource = await engine.runs.get("default", handle.id)
        assert resource.state["details"] == {"percent": 50}
        await engine.handle(handle.id).signal("approve")
        assert await handle.result(timeout=10) == "ok"
        assert await engine.handle(handle.id).state("phase") == "done"


async def test_unknown_and_ended_runs_refuse_signals(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("quick")
    async def quick(ctx: Context) -> int:
        return 1

    async with engine:
        handle = await engine.start(quick)
        assert await handle.result(timeout=10) == 1
        with pytest.raises(RunEnded):
            await engine.handle(handle.id).signal("late", 1)
        with pytest.raises(RunNotFound):
            await engine.handle("run_nope").signal("any")
        with pytest.raises(RunNotFound):
            await engine.handle("run_nope").state()
