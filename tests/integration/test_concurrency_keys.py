"""Concurrency keys (docs/flow-control.md): at most ``limit`` runs of a key execute at once,
the excess queues without blocking other keys, and the strategies cancel-newest and
cancel-in-progress; on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.definitions.validate import InvalidDefinition
from plait.testing import assert_eventually

MakeEngine = Callable[..., Engine]


class Gates:
    """Steps that block until released, counting how many run at once per key."""

    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.order: list[str] = []
        self.release = asyncio.Event()

    async def hold(self, key: str, tag: str) -> str:
        self.running[key] = self.running.get(key, 0) + 1
        self.peak[key] = max(self.peak.get(key, 0), self.running[key])
        self.order.append(tag)
        try:
            await self.release.wait()
        finally:
            self.running[key] -= 1
        return tag


def keyed(engine: Engine, gates: Gates, **flow: Any) -> None:
    @engine.workflow("per_customer", concurrency={"key": "input.customer", **flow})
    async def per_customer(ctx: Context, order: dict[str, Any]) -> str:
        return str(await ctx.step("hold", gates.hold, order["customer"], order["id"]))


async def statuses(engine: Engine, ids: list[str]) -> list[str]:
    return [(await engine.runs.get("default", i)).status for i in ids]


async def test_a_key_runs_at_most_its_limit_and_others_are_not_blocked(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    gates = Gates()
    keyed(engine, gates, limit=2)
    await engine.start_worker()
    a = [await engine.start("per_customer", {"customer": "a", "id": f"a{i}"}) for i in range(5)]
    b = await engine.start("per_customer", {"customer": "b", "id": "b0"})

    async def two_of_a_and_b_hold() -> bool:
        return gates.running == {"a": 2, "b": 1}

    await assert_eventually(two_of_a_and_b_hold)
    assert await statuses(engine, [h.id for h in a]) == ["running"] * 2 + ["pending"] * 3
    gates.release.set()
    assert [await h.result(timeout=10) for h in a] == [f"a{i}" for i in range(5)]
    assert await b.result(timeout=10) == "b0"
    assert gates.peak == {"a": 2, "b": 1}
    assert sorted(gates.order[:3]) == ["a0", "a1", "b0"]
    run = await engine.runs.get("default", a[0].id)
    assert run.concurrency_key == "a" and run.priority == 0


async def test_cancel_newest_cancels_the_start_over_the_limit(make_engine: MakeEngine) -> None:
    engine = make_engine()
    gates = Gates()
    keyed(engine, gates, limit=1, strategy="cancel-newest")
    await engine.start_worker()
    first = await engine.start("per_customer", {"customer": "a", "id": "a0"})
    second = await engine.start("per_customer", {"customer": "a", "id": "a1"})
    other = await engine.start("per_customer", {"customer": "b", "id": "b0"})
    run = await engine.runs.get("default", second.id)
    assert run.status == "cancelled"
    assert "concurrency limit 1 of key 'a' reached (strategy cancel-newest)" in str(run.error)
    gates.release.set()
    assert await first.result(timeout=10) == "a0"
    assert await other.result(timeout=10) == "b0"
    assert gates.order.count("a1") == 0


async def test_cancel_in_progress_cancels_the_oldest(make_engine: MakeEngine) -> None:
    engine = make_engine()
    gates = Gates()
    keyed(engine, gates, limit=1, strategy="cancel-in-progress")
    await engine.start_worker()
    first = await engine.start("per_customer", {"customer": "a", "id": "a0"})

    async def first_holds() -> bool:
        return gates.running.get("a") == 1

    await assert_eventually(first_holds)
    second = await engine.start("per_customer", {"customer": "a", "id": "a1"})
    run = await engine.runs.get("default", first.id)
    assert run.status == "cancelled"
    assert "a newer run took its place" in str(run.error)
    gates.release.set()
    assert await second.result(timeout=10) == "a1"


async def test_a_key_that_fails_to_evaluate_refuses_the_start(make_engine: MakeEngine) -> None:
    engine = make_engine()
    keyed(engine, Gates(), limit=1)
    with pytest.raises(Exception, match="concurrency key 'input.customer' failed"):
        await engine.start("per_customer", {"id": "x"})


def test_bad_options_name_their_path(make_engine: MakeEngine) -> None:
    engine = make_engine()

    async def wf(ctx: Context) -> None:
        return None

    with pytest.raises(InvalidDefinition) as caught:
        engine.workflow("bad", concurrency={"key": "input.(", "limit": 0, "strategy": "x"})(wf)
    assert "$.concurrency.limit" in str(caught.value)
    with pytest.raises(InvalidDefinition, match=r"\$.priority"):
        engine.workflow("bad2", priority=11)(wf)
    with pytest.raises(InvalidDefinition, match=r"\$.singleton.mode"):
        engine.workflow("bad3", singleton={"key": "input", "mode": "later"})(wf)


async def test_runs_started_by_events_take_their_key_from_the_event(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    gates = Gates()

    @engine.workflow("on_order", trigger="Order.placed", priority=3,
                     concurrency={"key": "order.customer", "limit": 1})  # fmt: skip
    async def on_order(ctx: Context, order: dict[str, Any]) -> str:
        return str(await ctx.step("hold", gates.hold, order["customer"], order["id"]))

    await engine.start_worker()
    started = []
    for n in range(3):
        event = await engine.events.emit("default", "Order.placed", {"customer": "a", "id": n})
        started += event.runs

    async def one_holds() -> bool:
        return gates.running == {"a": 1}

    await assert_eventually(one_holds)
    runs = [await engine.runs.get("default", run_id) for run_id in started]
    assert sorted(r.status for r in runs) == ["pending", "pending", "running"]
    assert {(r.priority, r.concurrency_key) for r in runs} == {(3, "a")}
    gates.release.set()
    for run_id in started:
        await engine.handle(run_id).result(timeout=10)
    assert gates.peak == {"a": 1}
