"""Stored schedules: each tick fires exactly once, whichever workers race for it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from plait.service.schedules import due_ticks, new_schedule, next_tick
from plait.settings import Settings
from plait.store.base import Store
from plait.store.records import ScheduleRecord, WorkflowRecord
from plait.store.urls import open_store
from tests.backends import select

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def hourly(
    org: str = "acme", workflow_id: str = "wf_1", now: float = NOW, **options: Any
) -> ScheduleRecord:
    return new_schedule(org, workflow_id, "0 * * * *", now=now, **options)


def ids(schedules: list[ScheduleRecord]) -> set[str]:
    return {s.id for s in schedules}


INPUT = b'[{"report": 1}]'


async def workflow(store: Store, status: str = "Activated", workflow_id: str = "wf_1") -> str:
    """Register a code workflow ``workflow_id`` of org acme in ``status``; return its name."""
    name = f"flow-{workflow_id}"
    record = WorkflowRecord("acme", workflow_id, name, "code", status, 1, {}, 0, 0, 0, 0, None,
                            NOW, NOW)  # fmt: skip
    await store.upsert_code_workflow(record, [])
    return name


async def runs_of(store: Store, name: str) -> list[str]:
    return sorted(run.id for run in await store.list_runs(name, None, 100))


async def tick_rows(store: Store) -> list[tuple[Any, ...]]:
    return await select(
        store, "SELECT schedule_id, tick_at, run_id FROM schedule_ticks ORDER BY tick_at"
    )


# -- resources ----------------------------------------------------------------------------------


async def test_schedules_are_created_read_listed_and_deleted(store: Store) -> None:
    first = await store.create_schedule(hourly(input={"report": ["a", 1]}, catchup="all"))
    second = await store.create_schedule(
        hourly(workflow_id="wf_2", now=NOW + 1, timezone="Europe/Paris")
    )
    assert await store.get_schedule("acme", first.id) == first
    assert await store.list_schedules("acme") == [first, second]
    assert await store.list_schedules("acme", "wf_2") == [second]
    assert await store.delete_schedule("acme", first.id) is True
    assert await store.delete_schedule("acme", first.id) is False
    assert await store.get_schedule("acme", first.id) is None
    assert await store.list_schedules("acme") == [second]


async def test_deleting_a_workflows_schedules_deletes_their_ticks(store: Store) -> None:
    a = await store.create_schedule(hourly())
    b = await store.create_schedule(hourly())
    other = await store.create_schedule(hourly(workflow_id="wf_2"))
    for s in (a, other):
        ticks, following = due_ticks(s, s.next_fire_at)
        await store.fire_schedule(s, ticks, following, INPUT, NOW)
    assert await store.delete_schedules_of("acme", "wf_1") == 2
    assert ids(await store.list_schedules("acme")) == {other.id}
    assert [row[0] for row in await tick_rows(store)] == [other.id]
    assert await store.get_schedule("acme", b.id) is None


async def test_schedules_of_one_organization_are_invisible_to_another(store: Store) -> None:
    s = await store.create_schedule(hourly(org="acme"))
    assert await store.get_schedule("globex", s.id) is None
    assert await store.list_schedules("globex") == []
    assert await store.delete_schedule("globex", s.id) is False
    assert await store.set_schedules_enabled("globex", "wf_1", False) == 0
    assert await store.delete_schedules_of("globex", "wf_1") == 0
    assert await store.get_schedule("acme", s.id) == s


# -- due and firing -----------------------------------------------------------------------------


async def test_due_schedules_are_the_enabled_ones_whose_tick_has_come(store: Store) -> None:
    hourly_ = await store.create_schedule(hourly(org="acme"))  # 09:00
    minutely = await store.create_schedule(
        new_schedule("globex", "wf_9", "* * * * *", now=NOW)  # 08:01
    )
    await store.create_schedule(hourly(org="acme", workflow_id="wf_3", enabled=False))
    assert await store.due_schedules(NOW, 10) == []
    assert await store.due_schedules(NOW + 60, 10) == [minutely]
    assert await store.due_schedules(NOW + 3600, 10) == [minutely, hourly_]
    assert await store.due_schedules(NOW + 3600, 1) == [minutely]


async def test_firing_starts_a_run_per_tick_and_moves_the_next_tick(store: Store) -> None:
    name = await workflow(store)
    s = await store.create_schedule(hourly(catchup="all"))
    now = NOW + 3 * 3600 + 60  # 11:01: 09:00, 10:00 and 11:00 were missed
    ticks, following = due_ticks(s, now)
    fired = await store.fire_schedule(s, ticks, following, INPUT, now)
    assert [tick for tick, _ in fired] == ticks and len(ticks) == 3
    for tick, run_id in fired:
        run = await store.get_run(run_id)
        assert run is not None and (run.workflow, run.trigger) == (name, "schedule")
        assert (run.input, run.created_at, run.workflow_id) == (INPUT, tick, "wf_1")
    stored = await store.get_schedule("acme", s.id)
    assert stored is not None and stored.next_fire_at == following
    assert await tick_rows(store) == [(s.id, tick, run_id) for tick, run_id in fired]
    assert await store.due_schedules(now, 10) == []


async def test_two_workers_racing_for_a_tick_fire_it_once(store: Store) -> None:
    name = await workflow(store)
    s = await store.create_schedule(hourly())
    ticks, following = due_ticks(s, s.next_fire_at)
    results = await asyncio.gather(
        store.fire_schedule(s, ticks, following, INPUT, NOW + 3600),
        store.fire_schedule(s, ticks, following, INPUT, NOW + 3600),
    )
    assert sorted(map(len, results)) == [0, 1]
    assert len(await runs_of(store, name)) == 1
    assert len(await tick_rows(store)) == 1


async def test_two_processes_racing_for_a_tick_fire_it_once(store: Store, store_url: str) -> None:
    name = await workflow(store)
    s = await store.create_schedule(hourly(catchup="all"))
    elsewhere = open_store(Settings.load(database_url=store_url))
    await elsewhere.open()
    try:
        ticks, following = due_ticks(s, NOW + 2 * 3600)
        results = await asyncio.gather(
            store.fire_schedule(s, ticks, following, INPUT, NOW),
            elsewhere.fire_schedule(s, ticks, following, INPUT, NOW),
        )
    finally:
        await elsewhere.close()
    assert sorted(map(len, results)) == [0, 2]
    assert sorted(tick for result in results for tick, _ in result) == ticks
    assert await runs_of(store, name) == sorted(run for result in results for _, run in result)


async def test_a_tick_already_fired_is_not_started_again(store: Store) -> None:
    name = await workflow(store)
    s = await store.create_schedule(hourly(catchup="all"))
    first, second = s.next_fire_at, s.next_fire_at + 3600
    [(tick, run_id)] = await store.fire_schedule(s, [first], second, INPUT, NOW)
    assert tick == first
    moved = await store.get_schedule("acme", s.id)
    assert moved is not None
    # A caller that computed its ticks from a stale view offers the first tick again.
    fired = await store.fire_schedule(moved, [first, second], second + 3600, INPUT, NOW)
    assert [tick for tick, _ in fired] == [second]
    assert await runs_of(store, name) == sorted([run_id, fired[0][1]])


async def test_a_stale_or_paused_schedule_fires_nothing(store: Store) -> None:
    name = await workflow(store)
    s = await store.create_schedule(hourly())
    stale = replace(s, next_fire_at=s.next_fire_at - 3600)  # read before another worker fired
    assert await store.fire_schedule(stale, [stale.next_fire_at], s.next_fire_at, INPUT, NOW) == []
    await store.set_schedules_enabled("acme", "wf_1", False)
    ticks, following = due_ticks(s, s.next_fire_at)
    assert await store.fire_schedule(s, ticks, following, INPUT, NOW) == []
    assert await runs_of(store, name) == [] and await tick_rows(store) == []


@pytest.mark.parametrize("status", ["Paused", "Archived", None])
async def test_a_tick_of_a_workflow_that_cannot_run_is_consumed(
    store: Store, status: str | None
) -> None:
    name = await workflow(store, status) if status is not None else "flow-wf_1"
    s = await store.create_schedule(hourly())
    ticks, following = due_ticks(s, s.next_fire_at)
    assert await store.fire_schedule(s, ticks, following, INPUT, NOW) == []
    assert await tick_rows(store) == [(s.id, ticks[0], None)]
    assert await runs_of(store, name) == []


# -- pausing ------------------------------------------------------------------------------------


async def test_pausing_a_workflow_pauses_its_schedules(store: Store) -> None:
    a = await store.create_schedule(hourly())
    b = await store.create_schedule(hourly())
    other = await store.create_schedule(hourly(workflow_id="wf_2"))
    assert await store.set_schedules_enabled("acme", "wf_1", False) == 2
    assert await store.set_schedules_enabled("acme", "wf_1", False) == 0
    assert await store.due_schedules(NOW + 3600, 10) == [other]
    assert await store.set_schedules_enabled("acme", "wf_1", True) == 2
    assert ids(await store.due_schedules(NOW + 3600, 10)) == {a.id, b.id, other.id}


async def test_resuming_at_a_time_skips_the_ticks_missed_while_paused(store: Store) -> None:
    s = await store.create_schedule(hourly(catchup="all"))
    await store.set_schedules_enabled("acme", "wf_1", False)
    later = NOW + 5 * 3600 + 60  # 13:01

    def after_later(s: ScheduleRecord) -> float:
        return next_tick(s, later)

    assert await store.set_schedules_enabled("acme", "wf_1", True, next_fire=after_later) == 1
    resumed = await store.get_schedule("acme", s.id)
    assert resumed is not None and resumed.enabled
    assert resumed.next_fire_at == NOW + 6 * 3600  # 14:00, not 09:00
    assert await store.set_schedules_enabled("acme", "wf_1", True, next_fire=after_later) == 0
