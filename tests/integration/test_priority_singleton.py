"""Priority and singletons (docs/flow-control.md), on both backends: claims take higher
priorities first; a singleton key has at most one live run (``skip`` returns it, ``cancel``
cancels the older)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import InvalidArguments
from plait.testing import assert_eventually

MakeEngine = Callable[..., Engine]


async def test_claims_take_higher_priority_first(make_engine: MakeEngine) -> None:
    engine = make_engine(concurrency=1)
    order: list[str] = []
    gate = asyncio.Event()

    @engine.workflow("job", priority=-1)
    async def job(ctx: Context, name: str) -> str:
        order.append(name)
        if name == "blocker":
            await ctx.step("wait", gate.wait)
        return name

    await engine.start_worker()
    blocker = await engine.start("job", "blocker")

    async def blocking() -> bool:
        return order == ["blocker"]

    await assert_eventually(blocking)
    low = await engine.start("job", "default")  # the workflow's -1
    high = await engine.start("job", "high", priority=5)
    mid = await engine.start("job", "mid", priority=0)
    assert (await engine.runs.get("default", high.id)).priority == 5
    assert (await engine.runs.get("default", low.id)).priority == -1
    gate.set()
    for handle in (blocker, low, high, mid):
        await handle.result(timeout=10)
    assert order == ["blocker", "high", "mid", "default"]


async def test_a_priority_out_of_range_is_refused(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("job")
    async def job(ctx: Context) -> None:
        return None

    with pytest.raises(InvalidArguments, match="priority must be a whole number from -10 to 10"):
        await engine.start("job", priority=11)


def singleton(engine: Engine, gate: asyncio.Event, mode: str) -> list[str]:
    seen: list[str] = []

    @engine.workflow("sync", singleton={"key": "input.account", "mode": mode})
    async def sync(ctx: Context, job: dict[str, Any]) -> str:
        seen.append(job["n"])
        await ctx.step("wait", gate.wait)
        return str(job["n"])

    return seen


async def test_singleton_skip_returns_the_live_run(make_engine: MakeEngine) -> None:
    engine = make_engine()
    gate = asyncio.Event()
    seen = singleton(engine, gate, "skip")
    await engine.start_worker()
    first = await engine.start("sync", {"account": "a", "n": "1"})
    again = await engine.start("sync", {"account": "a", "n": "2"})
    other = await engine.start("sync", {"account": "b", "n": "3"})
    assert again.id == first.id and other.id != first.id
    gate.set()
    assert await first.result(timeout=10) == "1"
    assert await other.result(timeout=10) == "3"
    later = await engine.start("sync", {"account": "a", "n": "4"})  # none live: a new run
    assert later.id != first.id
    assert await later.result(timeout=10) == "4"
    assert sorted(seen) == ["1", "3", "4"]


async def test_singleton_cancel_cancels_the_older_run(make_engine: MakeEngine) -> None:
    engine = make_engine()
    gate = asyncio.Event()
    seen = singleton(engine, gate, "cancel")
    await engine.start_worker()
    first = await engine.start("sync", {"account": "a", "n": "1"})

    async def first_started() -> bool:
        return seen == ["1"]

    await assert_eventually(first_started)
    second = await engine.start("sync", {"account": "a", "n": "2"})
    older = await engine.runs.get("default", first.id)
    assert older.status == "cancelled"
    assert "singleton key 'a': a newer run took its place" in str(older.error)
    gate.set()
    assert await second.result(timeout=10) == "2"
