"""Step-result caching of code workflows (``ctx.step(..., cache=...)``): a hit returns the
cached output without calling the step (counted calls), across runs and across a restart of
the engine; entries expire with their ttl (virtual time); failures are not cached; keys,
namespaces and organizations keep entries apart; a run's hit is recorded and replayed from the
run's own record."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Cache, Context, Engine, WorkflowFailed
from plait.runtime.step_cache import ttl_seconds
from plait.testing import VirtualClock
from tests.backends import select

LIMIT = 30.0
MakeEngine = Callable[..., Engine]


class Counted:
    """A step function that counts its calls (and fails while ``failing``)."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.failing = False

    def __call__(self, value: Any, *rest: Any) -> dict[str, Any]:
        self.calls.append(value)
        if self.failing:
            raise RuntimeError(f"lookup of {value!r} failed")
        return {"value": value, "call": len(self.calls)}


def build(make: MakeEngine, clock: VirtualClock, fn: Counted, cache: Any) -> Engine:
    engine = make(clock=clock, poll_seconds=10**6, lease_seconds=10**7, heartbeat_seconds=10**6)

    @engine.workflow(name="lookup")
    async def lookup(ctx: Context, value: Any, other: Any = None) -> Any:
        return await ctx.step("fetch", fn, value, other, cache=cache)

    return engine


async def run(engine: Engine, clock: VirtualClock, *args: Any) -> tuple[str, Any]:
    handle = await engine.start("lookup", *args)
    result = await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    return handle.id, result


@pytest.fixture
def fn() -> Counted:
    return Counted()


async def test_a_hit_returns_the_cached_output_without_calling_the_step(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl="1h"))
    async with engine:
        first_id, first = await run(engine, clock, "a")
        second_id, second = await run(engine, clock, "a")
        run_one = await engine.runs.get("default", first_id)
        run_two = await engine.runs.get("default", second_id)
    assert fn.calls == ["a"]
    assert first == second == {"value": "a", "call": 1}
    [missed], [hit] = run_one.steps, run_two.steps
    assert (missed.cached, missed.attempts, missed.status) == (False, 1, "completed")
    assert (hit.cached, hit.attempts, hit.status, hit.output) == (True, 0, "completed", first)
    assert hit.wire()["cached"] is True


async def test_the_cache_outlives_a_restart_of_the_engine(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    async with build(make_engine, clock, fn, {"ttl": 3600}) as engine:
        await run(engine, clock, "a")
    async with build(make_engine, clock, fn, {"ttl": 3600}) as again:
        _, result = await run(again, clock, "a")
    assert fn.calls == ["a"]
    assert result == {"value": "a", "call": 1}


async def test_an_entry_expires_after_its_ttl_and_is_pruned(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl="10m"))
    async with engine:
        store = await engine.deps.store()
        await run(engine, clock, "a")
        [(created, expires)] = await select(store, "SELECT created_at, expires_at FROM step_cache")
        await clock.advance(expires - 1 - clock.time())
        await run(engine, clock, "a")  # a second before it expires: a hit
        await clock.advance(expires - clock.time())
        _, third = await run(engine, clock, "a")  # expired: runs again and is stored anew
        [(renewed,)] = await select(store, "SELECT expires_at FROM step_cache")
        await clock.advance(renewed - clock.time())
        listed = await engine.step_cache.entries("default", workflow="lookup")
        await engine.step_cache.prune(clock.time())  # unless the worker's pass did already
        left = await select(store, "SELECT COUNT(*) FROM step_cache")
    assert expires - created == 600
    assert fn.calls == ["a", "a"]
    assert third == {"value": "a", "call": 2}
    assert renewed >= expires + 600
    assert listed == []
    assert left == [(0,)]


async def test_a_failed_step_is_not_cached(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl="1h"))
    async with engine:
        fn.failing = True
        with pytest.raises(WorkflowFailed, match="lookup of 'a' failed"):
            await run(engine, clock, "a")
        fn.failing = False
        _, result = await run(engine, clock, "a")
        _, again = await run(engine, clock, "a")
    assert fn.calls == ["a", "a"]
    assert result == again == {"value": "a", "call": 2}


async def test_different_keys_miss_and_a_key_function_chooses_what_counts(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    cache = Cache(ttl=60, key=lambda value, other: value.lower())
    engine = build(make_engine, clock, fn, cache)
    async with engine:
        for value in ("a", "b", "A", "B", "c"):
            await run(engine, clock, value, {"ignored": value})
    assert fn.calls == ["a", "b", "c"]


async def test_the_default_key_is_every_argument(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl=60))
    async with engine:
        await run(engine, clock, "a", {"x": 1, "y": 2})
        await run(engine, clock, "a", {"y": 2, "x": 1})  # the same JSON: a hit
        await run(engine, clock, "a", {"x": 2})
    assert fn.calls == ["a", "a"]


async def test_a_namespace_shares_entries_between_steps(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7)
    shared = Cache(ttl=60, key="rates", namespace="fx")

    @engine.workflow(name="two")
    async def two(ctx: Context) -> list[Any]:
        first = await ctx.step("one", fn, "x", cache=shared)
        second = await ctx.step("other", fn, "y", cache=shared)
        third = await ctx.step("own", fn, "z", cache=Cache(ttl=60, key="rates"))
        return [first, second, third]

    async with engine:
        handle = await engine.start(two)
        result = await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    assert fn.calls == ["x", "z"]
    assert result[0] == result[1] != result[2]


async def test_replaying_a_run_with_a_hit_does_not_read_the_cache_again(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7)

    shared = Cache(ttl=60, key="k", namespace="shared")

    @engine.workflow(name="warm")
    async def warm(ctx: Context) -> Any:
        return await ctx.step("fetch", fn, "a", cache=shared)

    @engine.workflow(name="pause")
    async def pause(ctx: Context) -> Any:
        value = await ctx.step("fetch", fn, "a", cache=shared)
        await ctx.sleep(3600)  # suspends: the run replays from the top after it
        return value

    async with engine:
        first = await engine.start(warm)
        await asyncio.wait_for(clock.run_skipping(first.result()), LIMIT)
        handle = await engine.start(pause)  # a hit, then asleep for an hour
        result = await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        # The entry expired during the sleep (60 s): the replay took the run's own record.
        assert await engine.step_cache.entries("default") == []
        shown = await engine.runs.get("default", handle.id)
    assert fn.calls == ["a"]
    assert result == {"value": "a", "call": 1}
    assert [(s.key, s.cached) for s in shown.steps] == [("fetch", True), ("sleep", False)]


async def test_entries_are_listed_counted_and_cleared_per_workflow(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl=60))
    async with engine:
        for value in ("a", "a", "a", "b"):
            await run(engine, clock, value)
        entries = await engine.step_cache.entries("default", workflow="lookup")
        other_org = await engine.step_cache.entries("acme")
        cleared = await engine.step_cache.clear("default", workflow="lookup")
        await run(engine, clock, "a")
        store = await engine.deps.store()
        rows = await select(store, "SELECT org, scope, hits FROM step_cache")
    assert sorted((e.step, e.hits) for e in entries) == [("fetch", 0), ("fetch", 2)]
    assert {e.scope for e in entries} == {"lookup/fetch"}
    assert other_org == []
    assert cleared == 2
    assert fn.calls == ["a", "b", "a"]
    assert rows == [("default", "lookup/fetch", 0)]


def test_a_bad_cache_is_refused_when_the_step_is_called() -> None:
    with pytest.raises(ValueError, match="ttl must be seconds"):
        Cache(ttl="soon")
    with pytest.raises(ValueError, match="more than 0 seconds"):
        Cache(ttl=0)
    with pytest.raises(ValueError, match="cache takes ttl"):
        Cache.of({"key": "x"})
    with pytest.raises(ValueError, match="a cache key must be a string or a callable"):
        Cache(ttl=1, key=3)  # type: ignore[arg-type]
    assert [ttl_seconds(v) for v in ("250ms", "90s", "30m", "1h", "7d", 5)] == [
        0.25, 90.0, 1800.0, 3600.0, 604800.0, 5.0]  # fmt: skip


async def test_a_key_that_cannot_be_computed_fails_the_step(
    make_engine: MakeEngine, clock: VirtualClock, fn: Counted
) -> None:
    engine = build(make_engine, clock, fn, Cache(ttl=60, key=lambda value, other: value["id"]))
    async with engine:
        with pytest.raises(WorkflowFailed, match="string indices must be integers"):
            await run(engine, clock, "a")
    assert fn.calls == []
