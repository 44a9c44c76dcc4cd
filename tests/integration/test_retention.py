"""Retention of ended runs, on each backend and on virtual time: a purge deletes only old ended
runs (with their rows in every table), never a run that has not ended nor a child its waiting
parent still needs, and moves no workflow counter and no cost total; archives read back as the
runs that went; policies per workflow (age, count, status) and the default drive the worker's
pruner; one pruner at a time holds the lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import ConfigurationError
from plait.service.retention import RetentionInvalid, parse_duration
from plait.settings import Settings
from plait.testing import VirtualClock, assert_eventually
from tests.backends import BACKENDS, database_url, select
from tests.integration.helpers import clock_of, stored_run_ids, wait_status

T0 = 1_800_000_000.0
DAY = 86_400.0
MakeEngine = Callable[..., Engine]
GREET: dict[str, Any] = {
    "name": "greet",
    "triggerEvent": "Customer.created",
    "steps": [{"id": "hello", "action": "log", "mapping": {"message": "'hello'"}}],
    "pricing": {"model": "per-execution", "baseRate": "1.25", "stepRates": {"hello": "0.25"}},
}


async def double(n: int) -> int:
    return n * 2


async def quick(ctx: Context, n: int) -> int:
    doubled: int = await ctx.step("double", double, n)
    return doubled


async def waits(ctx: Context) -> Any:
    return await ctx.receive("go")


async def kid(ctx: Context) -> str:
    return "kid"


async def mom(ctx: Context) -> str:
    got: str = await ctx.child("kid")
    note = await ctx.receive("go")
    return f"{got}+{note}"


@pytest.fixture(params=BACKENDS)
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeEngine]:
    """Engines on one database and one virtual clock; each registers the test workflows.
    Time is moved between engines (a worker's loop sleeps on the clock: days of its turns)."""
    made: list[Engine] = []
    clock = VirtualClock(start=T0)
    with database_url(request.param, tmp_path) as url:

        def build(**settings: Any) -> Engine:
            settings.setdefault("run_retention_days", 0)
            engine = Engine(url, clock=clock, **settings)
            for fn in (quick, waits, kid, mom):
                engine.workflow(fn.__name__)(fn)
            made.append(engine)
            return engine

        try:
            yield build
        finally:
            for engine in made:
                await engine.close()


async def count(engine: Engine, sql: str) -> int:
    return int((await select(await engine.deps.store(), sql))[0][0])


async def quick_runs(engine: Engine, *numbers: int) -> list[str]:
    made = []
    for n in numbers:
        handle = await engine.start("quick", n)
        assert await handle.result() == n * 2
        made.append(handle.id)
        await clock_of(engine).advance(1)
    return made


async def test_a_purge_deletes_only_old_ended_runs_and_a_dry_run_nothing(make: MakeEngine) -> None:
    first = make()
    async with first:
        old = await quick_runs(first, 1, 2, 3)
        waiting = (await first.start("waits")).id
        await wait_status(first, waiting, "waiting")
    await clock_of(first).advance(40 * DAY)
    engine = make()
    async with engine:
        young = await quick_runs(engine, 4)
        dry = await engine.retention.purge("default", "30d", dry_run=True)
        assert dry.runs == 3 and dry.dry_run
        assert await stored_run_ids(engine) == {*old, waiting, *young}
        done = await engine.retention.purge("default", "30d")
        assert done.runs == 3 and not done.dry_run
        assert await stored_run_ids(engine) == {waiting, *young}
        in_old = ", ".join(f"'{i}'" for i in old)
        for table in ("steps", "run_history", "step_attempts"):
            gone = f"SELECT COUNT(*) FROM {table} WHERE run_id IN ({in_old})"
            assert await count(engine, gone) == 0
        assert await count(engine, f"SELECT COUNT(*) FROM steps WHERE run_id = '{young[0]}'") == 1
        await engine.handle(waiting).signal("go", "now")
        assert await engine.handle(waiting).result() == "now"
        assert (await engine.retention.purge("default", "30d")).runs == 0  # it just ended


async def test_a_child_its_waiting_parent_needs_survives(make: MakeEngine) -> None:
    first = make()
    async with first:
        parent = (await first.start("mom")).id
        await wait_status(first, parent, "waiting")
        (child,) = (await first.handle(parent).info()).children
        await wait_status(first, child, "succeeded")
    await clock_of(first).advance(40 * DAY)
    engine = make()
    async with engine:
        assert (await engine.retention.purge("default", "30d", dry_run=True)).runs == 0
        assert (await engine.retention.purge("default", "30d")).runs == 0
        assert await stored_run_ids(engine) == {parent, child}
        await engine.handle(parent).signal("go", "late")
        assert await engine.handle(parent).result() == "kid+late"
    await clock_of(engine).advance(40 * DAY)
    last = make()
    assert (await last.retention.purge("default", "30d")).runs == 2
    assert await stored_run_ids(last) == set()


async def test_counters_and_cost_totals_are_unchanged_by_a_purge(make: MakeEngine) -> None:
    first = make()
    made = await first.workflows.create("acme", GREET)
    await first.workflows.activate("acme", made.id)
    async with first:
        for n in range(3):
            await first.events.emit("acme", "Customer.created", {"n": n}, source="api")

        async def ended() -> bool:
            now = await first.workflows.get("acme", made.id)
            return now.success_count + now.failure_count == 3

        await assert_eventually(ended)
    before = await first.workflows.get("acme", made.id)
    assert (before.success_count, before.failure_count) == (3, 0)
    assert await count(first, "SELECT COUNT(*) FROM run_costs") == 3  # priced as they ended
    costs = await first.costs.summary("acme", period="2027-01")
    assert costs.totals == {"USD": "4.5"} and costs.runs == 3  # 3 x (1.25 + 0.25)
    await clock_of(first).advance(40 * DAY)
    engine = make()
    assert (await engine.retention.purge("acme", "30d", workflow="greet")).runs == 3
    after = await engine.workflows.get("acme", made.id)
    assert (after.run_count, after.success_count, after.failure_count) == (
        before.run_count, before.success_count, before.failure_count)  # fmt: skip
    assert after.run_count == 3
    assert (await engine.costs.summary("acme", period="2027-01")).wire() == costs.wire()
    assert await count(engine, "SELECT COUNT(*) FROM run_costs") == 0


async def test_archived_lines_read_back_as_the_deleted_runs(
    make: MakeEngine, tmp_path: Path
) -> None:
    first = make()
    async with first:
        old = await quick_runs(first, 1, 2)
        shown = {i: (await first.runs.get("default", i, include="metrics")).wire() for i in old}
    await clock_of(first).advance(40 * DAY)
    engine = make(archive=str(tmp_path / "archive"))
    done = await engine.retention.purge("default", "30d")
    assert done.runs == 2 and len(done.archives) == 1
    (path,) = done.archives
    assert Path(path).parent == tmp_path / "archive" and path.endswith(".jsonl.gz")
    read = list(engine.retention.read_archive(path))
    assert {run["$id"]: run for run in read} == shown
    assert read[0]["steps"][0]["output"] in (2, 4)
    assert await stored_run_ids(engine) == set()


async def test_a_workflow_max_count_keeps_its_newest_runs(make: MakeEngine) -> None:
    engine = make()
    async with engine:
        runs = await quick_runs(engine, *range(5))
        waiting = (await engine.start("waits")).id
        await wait_status(engine, waiting, "waiting")
        await engine.retention.set("default", {"maxRuns": 2}, workflow="quick")
        pruned = await engine.retention.prune(clock_of(engine).time())
        assert pruned.ran and pruned.runs == 3
        assert await stored_run_ids(engine) == {*runs[-2:], waiting}


async def test_a_status_policy_and_the_org_policy_decide_per_status(make: MakeEngine) -> None:
    first = make()
    async with first:
        ok = await quick_runs(first, 1)
        cancelled = (await first.start("waits")).id
        await wait_status(first, cancelled, "waiting")
        await first.runs.cancel("default", cancelled)
    await clock_of(first).advance(3 * DAY)
    engine = make()
    policy = {"maxAgeDays": 10, "statuses": {"cancelled": {"maxAgeDays": 1}}}
    await engine.retention.set("default", policy)
    assert (await engine.retention.prune(clock_of(engine).time())).runs == 1
    assert await stored_run_ids(engine) == set(ok)
    shown = await engine.retention.show("default")
    assert shown.policy is not None and shown.policy.statuses["cancelled"].max_age_days == 1


async def test_the_worker_prunes_by_the_default_and_a_workflow_override(make: MakeEngine) -> None:
    first = make()
    async with first:
        gone = await quick_runs(first, 1, 2)
        kept = (await first.start("mom")).id
        await first.handle(kept).signal("go", "x")
        await first.handle(kept).result()
    await first.retention.set("default", {"maxAgeDays": 0}, workflow="mom")  # mom: forever
    await first.retention.set("default", {"maxAgeDays": 0}, workflow="kid")
    await clock_of(first).advance(31 * DAY)
    engine = make(run_retention_days=30)
    everything = await stored_run_ids(engine)
    assert set(gone) <= everything
    async with engine:

        async def pruned() -> bool:
            return await stored_run_ids(engine) == everything - set(gone)

        await assert_eventually(pruned)
    assert kept in await stored_run_ids(engine)


async def test_one_pruner_at_a_time(make: MakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make()
    async with first:
        await quick_runs(first, 1, 2)
    await clock_of(first).advance(40 * DAY)
    one, two = make(run_retention_days=30), make(run_retention_days=30)
    store = await one.deps.store()
    inside, go_on = asyncio.Event(), asyncio.Event()
    delete = store.delete_ended_runs

    async def held(run_ids: Any) -> list[str]:
        inside.set()
        await go_on.wait()
        return await delete(run_ids)

    monkeypatch.setattr(store, "delete_ended_runs", held)
    now = clock_of(one).time()
    first_pass = asyncio.create_task(one.retention.prune(now))
    await asyncio.wait_for(inside.wait(), 10)
    assert not (await two.retention.prune(now)).ran  # the lease is held
    go_on.set()
    assert (await first_pass).runs == 2
    assert (await two.retention.prune(now)).ran  # released at the end of the pass
    await store.acquire_retention_lease("a-dead-pruner", now, 300)
    assert not (await two.retention.prune(now + 299)).ran
    assert (await two.retention.prune(now + 301)).ran  # the dead pruner's lease expired


async def test_events_and_finished_tasks_have_their_own_retention(make: MakeEngine) -> None:
    engine = make(event_retention_days=1, task_retention_days=0)
    await engine.events.emit("default", "Old.one", {}, source="api")
    await clock_of(engine).advance(2 * DAY)
    await engine.events.emit("default", "New.one", {}, source="api")
    pruned = await engine.retention.prune(clock_of(engine).time())
    assert pruned.events == 1 and pruned.tasks == 0
    types = await select(await engine.deps.store(), "SELECT type FROM events")
    assert [row[0] for row in types] == ["New.one"]


async def test_bad_arguments_are_refused_with_their_path(make: MakeEngine) -> None:
    engine = make()
    with pytest.raises(RetentionInvalid, match="not a duration"):
        await engine.retention.purge("default", "30x")
    with pytest.raises(RetentionInvalid, match="not a status"):
        await engine.retention.purge("default", "1d", statuses=["done"])
    for endless in ("9" * 400 + "d", 1e300, float("nan"), 0):
        with pytest.raises(RetentionInvalid, match="at most 100 years"):
            await engine.retention.purge("default", endless)
    with pytest.raises(RetentionInvalid, match="must not be empty"):
        await engine.retention.purge("default", "1d", workflow=" ")
    with pytest.raises(RetentionInvalid) as caught:
        await engine.retention.set("default", {"maxRuns": -1})
    assert caught.value.path == "$.body.maxRuns"
    with pytest.raises(RetentionInvalid) as caught:
        await engine.retention.set("default", {"statuses": {"lost": {"maxRuns": 1}}})
    assert caught.value.path == "$.body.statuses.lost"
    assert (await engine.retention.show("default")).policy is None


def test_durations_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_duration("30d") == 30 * DAY and parse_duration("12h") == 43_200
    assert parse_duration("90s") == 90 and parse_duration("2w") == 14 * DAY
    assert parse_duration("1d12h") == 1.5 * DAY
    for bad in ("", "30", "d", "-1d", "3 days", "0s"):
        with pytest.raises(RetentionInvalid):
            parse_duration(bad)
    assert Settings.load().run_retention_days == 30
    monkeypatch.setenv("PLAIT_RUN_RETENTION_DAYS", "forever")
    monkeypatch.setenv("PLAIT_EVENT_RETENTION_DAYS", "7")
    monkeypatch.setenv("PLAIT_ARCHIVE", "/var/lib/plait/archive")
    loaded = Settings.load()
    assert (loaded.run_retention_days, loaded.event_retention_days) == (0, 7)
    assert loaded.archive == "/var/lib/plait/archive"
    with pytest.raises(ConfigurationError, match="task_retention_days"):
        Settings.load(task_retention_days=-1)


async def test_a_pass_deletes_a_bounded_number_of_batches_and_says_more_remain(
    make: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plait.service import retention

    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "PRUNE_PASSES", 1)
    first = make()
    async with first:
        await first.start("mom")  # a workflow with nothing to delete, listed before quick
        runs = await quick_runs(first, *range(5))
    await clock_of(first).advance(40 * DAY)
    engine = make(run_retention_days=30)
    passes = [await engine.retention.prune(clock_of(engine).time()) for _ in range(3)]
    assert [(p.runs, p.more) for p in passes] == [(2, True), (2, True), (1, False)]
    assert not set(runs) & await stored_run_ids(engine)
    assert await engine.retention.maintain(clock_of(engine).time()) == 0
