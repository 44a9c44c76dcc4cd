"""What the retention must never do, on each backend and on virtual time: stall the worker's
claims (its passes run in the background, bounded in time, and any error of one is logged, not
fatal), delete a run it did not archive, delete a child its longer-kept parent still shows and
may resume; and what it must do on real data: prune finished human tasks, leave the costs of
priced runs as they were."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import RunNotFound
from plait.service import retention
from plait.service.archive import ArchiveUnwritable
from plait.testing import VirtualClock, assert_eventually
from tests.backends import BACKENDS, database_url, select
from tests.integration.helpers import clock_of, stored_run_ids, wait_status

T0 = 1_800_000_000.0
DAY = 86_400.0
MakeEngine = Callable[..., Engine]
BROKEN = {"on": True}
PRICING = {"model": "per-execution", "baseRate": 1.5, "stepRates": {"double": 0.25}}


async def double(n: int) -> int:
    return n * 2


async def quick(ctx: Context, n: int) -> int:
    doubled: int = await ctx.step("double", double, n)
    return doubled


async def kid(ctx: Context) -> str:
    return "kid"


async def mom(ctx: Context) -> str:
    got: str = await ctx.child("kid")
    if BROKEN["on"]:
        raise RuntimeError("mom broke after her child")
    return f"mom+{got}"


async def ask(ctx: Context) -> Any:
    return await ctx.human_task("Sign off", "ann", choices=["ok"])


@pytest.fixture(params=BACKENDS)
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeEngine]:
    """Engines on one database and one virtual clock, with the test workflows."""
    made: list[Engine] = []
    clock = VirtualClock(start=T0)
    BROKEN["on"] = True
    with database_url(request.param, tmp_path) as url:

        def build(**settings: Any) -> Engine:
            settings.setdefault("run_retention_days", 0)
            engine = Engine(url, clock=clock, **settings)
            engine.workflow("quick", pricing=PRICING)(quick)
            for fn in (kid, mom, ask):
                engine.workflow(fn.__name__)(fn)
            made.append(engine)
            return engine

        try:
            yield build
        finally:
            for engine in made:
                await engine.close()


async def quick_runs(engine: Engine, *numbers: int) -> list[str]:
    made = []
    for n in numbers:
        handle = await engine.start("quick", n)
        assert await asyncio.wait_for(handle.result(), 20) == n * 2
        made.append(handle.id)
        await clock_of(engine).advance(1)
    return made


async def test_housekeeping_never_holds_claims_back_and_survives_any_error(
    make: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make()
    inside, release = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def stuck(now: float) -> int:  # a retention backlog that takes its time
        calls.append("runs")
        inside.set()
        await release.wait()
        return 0

    async def broken(now: float) -> int:  # not a PlaitError: a bug, a driver's own error
        calls.append("audit")
        raise KeyError("boom")

    monkeypatch.setattr(engine.retention, "maintain", stuck)
    monkeypatch.setattr(engine.audit, "maintain", broken)
    async with engine:
        await asyncio.wait_for(inside.wait(), 20)
        assert len(await quick_runs(engine, 1, 2, 3)) == 3  # claims go on meanwhile
        worker = engine.worker
        assert worker is not None and worker.running  # the KeyError killed nothing
        assert calls == ["audit", "runs"]  # one pass at a time: not again while it is stuck
    assert not release.is_set()  # the close cancelled the stuck pass rather than wait for it


async def test_a_pass_stops_after_its_time_with_more_left(
    make: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "PRUNE_SECONDS", 0.0)
    first = make()
    async with first:
        await quick_runs(first, *range(5))
    await clock_of(first).advance(40 * DAY)
    engine = make(run_retention_days=30)
    pruned = await engine.retention.prune(clock_of(engine).time())
    assert (pruned.runs, pruned.more) == (2, True)  # one batch, however many it may do
    assert len(await stored_run_ids(engine)) == 3


async def test_a_run_that_cannot_be_archived_is_not_deleted(
    make: MakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make()
    async with first:
        runs = await quick_runs(first, 1, 2, 3)
    await clock_of(first).advance(40 * DAY)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    engine = make(archive=str(blocked / "archive"))
    with pytest.raises(ArchiveUnwritable, match="nothing was deleted"):
        await engine.retention.purge("default", "30d")
    assert await stored_run_ids(engine) == set(runs)
    from plait.service.runs import RunService

    get = RunService.get

    async def vanished(self: RunService, org: str, run_id: str, **options: Any) -> Any:
        if run_id == runs[1]:  # say, a read that failed: the run must then stay
            raise RunNotFound(run_id)
        return await get(self, org, run_id, **options)

    monkeypatch.setattr(RunService, "get", vanished)
    done = await engine.retention.purge("default", "30d", archive=str(tmp_path / "ok"))
    assert done.runs == 2 and await stored_run_ids(engine) == {runs[1]}
    (path,) = done.archives
    assert {r["$id"] for r in engine.retention.read_archive(path)} == {runs[0], runs[2]}


async def test_a_child_stays_while_its_longer_kept_parent_does(make: MakeEngine) -> None:
    first = make()
    async with first:
        parent = (await first.start("mom")).id
        await wait_status(first, parent, "failed")
        (child,) = (await first.handle(parent).info()).children
    await first.retention.set("default", {"maxAgeDays": 365}, workflow="mom")
    await clock_of(first).advance(40 * DAY)
    engine = make(run_retention_days=30)
    assert (await engine.retention.prune(clock_of(engine).time())).runs == 0
    assert (await engine.retention.purge("default", "30d", workflow="kid")).runs == 0
    assert await stored_run_ids(engine) == {parent, child}
    BROKEN["on"] = False
    async with engine:  # the parent resumes: its child is still there to read
        await engine.handle(parent).resume()
        assert await asyncio.wait_for(engine.handle(parent).result(), 20) == "mom+kid"
    await clock_of(engine).advance(40 * DAY)
    last = make(run_retention_days=30)
    done = await last.retention.purge("default", "30d")  # kid is swept before mom: again after
    assert done.runs == 2 and await stored_run_ids(last) == set()


async def test_finished_human_tasks_past_their_retention_are_pruned(make: MakeEngine) -> None:
    engine = make(task_retention_days=1)
    async with engine:
        done, still = (await engine.start("ask")).id, (await engine.start("ask")).id

        async def both_open() -> bool:
            found = await engine.tasks.find("default", assignee="ann", status="open")
            return len(found.items) == 2

        await assert_eventually(both_open)
        tasks = (await engine.tasks.find("default", assignee="ann", status="open")).items
        finished = next(t for t in tasks if t.run_id == done)
        await engine.tasks.complete("default", finished.id, by="ann", decision="ok")
        await wait_status(engine, done, "succeeded")
    store = await engine.deps.store()
    query = "SELECT run_id, status FROM tasks ORDER BY run_id"
    assert len(await select(store, query)) == 2
    await clock_of(engine).advance(2 * DAY)
    pruned = await engine.retention.prune(clock_of(engine).time())
    assert pruned.tasks == 1
    assert [tuple(row) for row in await select(store, query)] == [(still, "open")]


async def test_costs_of_priced_runs_are_unchanged_by_a_purge(make: MakeEngine) -> None:
    first = make()
    async with first:
        runs = await quick_runs(first, 1, 2, 3)
    summary = await first.costs.summary("default", period="2027-01")
    assert summary.totals == {"USD": "5.25"}  # 3 x (1.5 + 0.25)
    run = await first.runs.get("default", runs[0])
    assert run.cost is not None and run.cost.total == "1.75"
    await clock_of(first).advance(40 * DAY)
    engine = make()
    assert (await engine.retention.purge("default", "30d")).runs == 3
    after = await engine.costs.summary("default", period="2027-01")
    assert after.wire() == summary.wire() and after.runs == 3


async def test_a_succeeded_count_partial_runs_inherit_is_one_count(make: MakeEngine) -> None:
    engine = make()
    async with engine:
        runs = await quick_runs(engine, *range(4))
    store = await engine.deps.store()
    ends = sorted(row[0] for row in await select(store, "SELECT finished_at FROM runs"))
    both = ("succeeded", "partial")
    assert await store.nth_newest_end("default", "quick", both, 3) == ends[1]
    assert await store.nth_newest_end("default", "quick", both, 5) is None
    await engine.retention.set("default", {"statuses": {"succeeded": {"maxRuns": 2}}})
    assert (await engine.retention.prune(clock_of(engine).time())).runs == 2
    assert await stored_run_ids(engine) == set(runs[-2:])
