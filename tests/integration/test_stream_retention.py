"""The change feed's retention, on each backend and on virtual time: a worker's pass deletes the
oldest changes (a prefix of the feed, never a hole), in batches, at most once a minute; a stream
resumed from a cursor the feed no longer keeps starts at what is kept; a filtered stream reads
past whole pages of changes it does not show; a run's stream counts the progress of steps whose
changes are gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.service import streams
from plait.testing import assert_eventually
from plait.testing.clock import VirtualClock
from tests.backends import BACKENDS, database_url

T0 = 1_800_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    with database_url(request.param, tmp_path) as url:
        engine = Engine(url, clock=VirtualClock(start=T0), stream_retention_seconds=HOUR)
        try:  # no worker: the test calls the retention's pass itself
            yield engine
        finally:
            await engine.close()


async def emit(engine: Engine, *types: str) -> None:
    for kind in types:
        await engine.events.emit("default", kind, {"t": kind}, source="api")


async def test_a_pass_deletes_what_is_past_the_retention_and_no_more(engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, VirtualClock)
    store = await engine.deps.store()
    await emit(engine, "Old.a", "Old.b")
    await clock.advance(30)
    await emit(engine, "Mid.c")
    await clock.advance(HOUR - 29)  # Old.* are now past the hour, Mid.c is not
    await emit(engine, "New.d")
    assert await engine.streams.maintain(clock.time()) == 2
    kept = await store.changes_kept_from(0)
    shown = await store.org_changes("default", 0, kept + 10)
    assert [c.detail for c in shown] == ["Mid.c", "New.d"]
    await clock.advance(40)  # Mid.c is past the hour too, but a pass ran within the minute
    assert await engine.streams.maintain(clock.time()) == 0
    await clock.advance(20)
    assert await engine.streams.maintain(clock.time()) == 1
    await clock.advance(2 * HOUR)
    head = await store.changes_head()
    assert await engine.streams.maintain(clock.time()) == 0  # the newest is always kept ...
    assert await store.oldest_change() == head
    await emit(engine, "Later.e")  # ... so numbers go on: a cursor never points back
    assert await store.changes_head() == head + 1


async def test_a_backlog_is_deleted_in_batches_and_the_next_pass_comes_soon(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "PRUNE_BATCH", 2)
    monkeypatch.setattr(streams, "PRUNE_PASSES", 2)
    clock = engine.clock
    assert isinstance(clock, VirtualClock)
    await emit(engine, *(f"Old.n{n}" for n in range(7)))
    await clock.advance(HOUR + 1)
    assert await engine.streams.maintain(clock.time()) == 4  # two batches of two
    await clock.advance(1)
    assert await engine.streams.maintain(clock.time()) == 2  # a second later, all but the newest
    await clock.advance(1)
    assert await engine.streams.maintain(clock.time()) == 0


async def test_a_cursor_older_than_the_feed_resumes_at_what_is_kept(engine: Engine) -> None:
    clock = engine.clock
    assert isinstance(clock, VirtualClock)
    await emit(engine, "Old.a", "Old.b")
    await clock.advance(HOUR + 1)
    await emit(engine, "New.c", "New.d")
    await engine.streams.maintain(clock.time())
    got = []
    async for change in engine.streams.organization("default", after="1"):
        got.append(change.wire()["data"]["type"])
        if len(got) == 2:
            break
    assert got == ["New.c", "New.d"]


async def test_a_filtered_stream_reads_past_whole_pages_of_other_changes(engine: Engine) -> None:
    """More changes than one page of the feed, few of them selected: none is skipped."""
    from plait.store.changes import PAGE

    await emit(engine, "Want.first")
    others = [f"Other.n{n}" for n in range(PAGE + 20)]
    await asyncio.gather(*(emit(engine, kind) for kind in others))
    await emit(engine, "Want.last")
    got = []
    async for change in engine.streams.organization("default", types="Want.*", after="0"):
        got.append(change.wire()["data"]["type"])
        if len(got) == 2:
            break
    assert got == ["Want.first", "Want.last"]


@pytest.fixture(params=BACKENDS)
async def worked(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine for a worker on virtual time (that sleeps until its next wake, not each
    second)."""
    with database_url(request.param, tmp_path) as url:
        engine = Engine(url, clock=VirtualClock(start=T0), stream_retention_seconds=HOUR,
                        poll_seconds=1e6, lease_seconds=1e7, heartbeat_seconds=1e6)  # fmt: skip
        try:
            yield engine
        finally:
            await engine.close()


async def test_a_run_stream_counts_progress_from_the_steps_whose_changes_are_pruned(
    worked: Engine,
) -> None:
    """A run waiting for days: its early changes go, its stream's progress still counts them."""
    engine, clock = worked, worked.clock
    assert isinstance(clock, VirtualClock)

    @engine.action("echo")
    async def echo(value: Any) -> Any:
        return value

    engine.define({"name": "approval", "dialect": "canonical", "steps": [
        {"kind": "action", "id": "a", "action": "echo", "input": "a"},
        {"kind": "action", "id": "b", "action": "echo", "input": "b", "depends_on": ["a"]},
        {"kind": "sleep", "id": "wait", "seconds": 3 * DAY, "depends_on": ["b"]},
        {"kind": "action", "id": "c", "action": "echo", "input": "c", "depends_on": ["wait"]},
    ]})  # fmt: skip
    async with engine:
        run_id = (await engine.start("approval")).id

        async def sleeping() -> bool:
            run = await engine.runs.get("default", run_id)
            return run.status == "waiting" and any(s.key == "wait" for s in run.steps)

        await assert_eventually(sleeping)
        await clock.advance(DAY)
        await engine.streams.maintain(clock.time())  # (unless the worker's pass did)
        store = await engine.deps.store()
        assert not {"a", "b"} & set(await store.run_ended_steps(run_id))  # their ends are gone
        before = await engine.runs.get("default", run_id)
        assert before.progress is not None and before.progress.completed_steps == 2

        async def follow() -> list[tuple[int, int | None]]:
            changes = engine.streams.run("default", run_id)
            shown = [c.data.progress async for c in changes if c.event == "progress"]  # type: ignore[union-attr]
            return [(p.completed_steps, p.total_steps) for p in shown]

        following = asyncio.create_task(follow())
        await clock.advance(2 * DAY)  # the wait ends
        shown = await asyncio.wait_for(following, 30)
    assert shown == [(3, 4), (4, 4), (4, 4)]  # wait, c, then the run's success
