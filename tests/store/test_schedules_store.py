"""Stored schedules: each tick fires exactly once, whichever workers race for it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from plait.errors import PlaitError, StoreError
from plait.schedules import Schedule, due_ticks, new_schedule
from plait.settings import Settings
from plait.store.base import Store
from plait.store.session import Session
from plait.store.urls import open_store
from tests.backends import select

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def hourly(
    org: str = "acme", workflow_id: str = "wf_1", now: float = NOW, **options: Any
) -> Schedule:
    return new_schedule(org, workflow_id, "0 * * * *", now=now, **options)


def ids(schedules: list[Schedule]) -> set[str]:
    return {s.id for s in schedules}


class Starts:
    """A ``start`` callback that records its calls and names a run per tick."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.in_transaction: list[bool] = []

    def __call__(self, db: Session, tick: float) -> str | None:
        self.calls.append(tick)
        self.in_transaction.append(db.in_transaction)
        return f"run_{int(tick)}"


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
        await store.fire_schedule(s.id, s.next_fire_at, ticks, following, Starts(), NOW)
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
    s = await store.create_schedule(hourly(catchup="all"))
    now = NOW + 3 * 3600 + 60  # 11:01: 09:00, 10:00 and 11:00 were missed
    ticks, following = due_ticks(s, now)
    starts = Starts()
    fired = await store.fire_schedule(s.id, s.next_fire_at, ticks, following, starts, now)
    assert fired == [(t, f"run_{int(t)}") for t in ticks] and len(ticks) == 3
    assert starts.calls == ticks and all(starts.in_transaction)
    stored = await store.get_schedule("acme", s.id)
    assert stored is not None and stored.next_fire_at == following
    assert await tick_rows(store) == [(s.id, t, f"run_{int(t)}") for t in ticks]
    assert await store.due_schedules(now, 10) == []


async def test_two_workers_racing_for_a_tick_fire_it_once(store: Store) -> None:
    s = await store.create_schedule(hourly())
    ticks, following = due_ticks(s, s.next_fire_at)
    one, other = Starts(), Starts()
    results = await asyncio.gather(
        store.fire_schedule(s.id, s.next_fire_at, ticks, following, one, NOW + 3600),
        store.fire_schedule(s.id, s.next_fire_at, ticks, following, other, NOW + 3600),
    )
    assert sorted(map(len, results)) == [0, 1]
    assert len(one.calls) + len(other.calls) == 1
    assert len(await tick_rows(store)) == 1


async def test_two_processes_racing_for_a_tick_fire_it_once(store: Store, store_url: str) -> None:
    s = await store.create_schedule(hourly(catchup="all"))
    elsewhere = open_store(Settings.load(database_url=store_url))
    await elsewhere.open()
    try:
        ticks, following = due_ticks(s, NOW + 2 * 3600)
        one, other = Starts(), Starts()
        results = await asyncio.gather(
            store.fire_schedule(s.id, s.next_fire_at, ticks, following, one, NOW),
            elsewhere.fire_schedule(s.id, s.next_fire_at, ticks, following, other, NOW),
        )
    finally:
        await elsewhere.close()
    assert sorted(map(len, results)) == [0, 2]
    assert sorted(one.calls + other.calls) == ticks


async def test_a_tick_already_fired_is_not_started_again(store: Store) -> None:
    s = await store.create_schedule(hourly(catchup="all"))
    first, second = s.next_fire_at, s.next_fire_at + 3600
    starts = Starts()
    await store.fire_schedule(s.id, first, [first], second, starts, NOW)
    # A caller that computed its ticks from a stale view offers the first tick again.
    fired = await store.fire_schedule(s.id, second, [first, second], second + 3600, starts, NOW)
    assert fired == [(second, f"run_{int(second)}")]
    assert starts.calls == [first, second]


async def test_a_stale_or_paused_schedule_fires_nothing(store: Store) -> None:
    s = await store.create_schedule(hourly())
    starts = Starts()
    stale = s.next_fire_at - 3600
    assert await store.fire_schedule(s.id, stale, [stale], s.next_fire_at, starts, NOW) == []
    await store.set_schedules_enabled("acme", "wf_1", False)
    ticks, following = due_ticks(s, s.next_fire_at)
    assert await store.fire_schedule(s.id, s.next_fire_at, ticks, following, starts, NOW) == []
    assert starts.calls == [] and await tick_rows(store) == []


async def test_a_tick_whose_callback_starts_nothing_is_consumed(store: Store) -> None:
    s = await store.create_schedule(hourly())
    ticks, following = due_ticks(s, s.next_fire_at)
    fired = await store.fire_schedule(
        s.id, s.next_fire_at, ticks, following, lambda db, tick: None, NOW
    )
    assert fired == []
    assert await tick_rows(store) == [(s.id, ticks[0], None)]


@pytest.mark.parametrize(
    ("error", "raised"),
    [(PlaitError("workflow is archived"), PlaitError), (KeyError("oops"), StoreError)],
)
async def test_a_failing_callback_undoes_the_firing_alone(
    store: Store, error: Exception, raised: type[Exception]
) -> None:
    s = await store.create_schedule(hourly(catchup="all"))
    ticks, following = due_ticks(s, s.next_fire_at + 3600)
    calls: list[float] = []

    def start(db: Session, tick: float) -> str:
        calls.append(tick)
        if len(calls) == 2:
            raise error
        return "run_1"

    firing = store.fire_schedule(s.id, s.next_fire_at, ticks, following, start, NOW)
    results = await asyncio.gather(
        firing, store.create_schedule(hourly(workflow_id="wf_2")), return_exceptions=True
    )
    assert isinstance(results[0], raised)
    assert isinstance(results[1], Schedule)  # written in the same group commit, kept
    assert await store.get_schedule("acme", s.id) == s  # next_fire_at not moved
    assert await tick_rows(store) == []
    assert len(await store.list_schedules("acme")) == 2


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
    assert await store.set_schedules_enabled("acme", "wf_1", True, now=later) == 1
    resumed = await store.get_schedule("acme", s.id)
    assert resumed is not None and resumed.enabled
    assert resumed.next_fire_at == NOW + 6 * 3600  # 14:00, not 09:00
    assert await store.set_schedules_enabled("acme", "wf_1", True, now=later) == 0
