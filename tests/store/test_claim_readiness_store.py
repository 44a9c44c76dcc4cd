"""A claim says when each run it leases became runnable and whether its lease had expired (the
queue wait and lease reclaim metrics read them), on every backend, read within the claim's own
transaction from each run's row as it was before the claim."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from plait import Engine
from plait.store.base import Store
from plait.store.records import ClaimedRun, NewRun, StepRecord

T0 = 1_800_000_000.0
WAIT = b'{"type": "Go", "match": null}'


@pytest.fixture
async def routed(store_url: str) -> AsyncIterator[Store]:
    """The store as an engine opens it: with the router that matches events to waits."""
    engine = Engine(database_url=store_url)
    try:
        yield await engine.deps.store()
    finally:
        await engine.close()


async def claim_one(store: Store, owner: str, now: float) -> ClaimedRun:
    [claimed] = await store.claim_runs(owner, ["wf"], 1, now, now + 30)
    return claimed


async def waiting_for_go(store: Store, run_id: str, fence: int, now: float) -> None:
    step = StepRecord("go", 0, "go", "wait", "waiting", 0, WAIT, started_at=now)
    await store.record_wait(run_id, fence, step, "default", "Go", None)
    await store.suspend_run(run_id, fence, None, now)


async def test_a_pending_run_is_ready_from_its_creation(store: Store) -> None:
    for i in range(40):  # one claim of many: each run comes back with its own time
        await store.create_run(NewRun(f"run_{i:02}", "wf", b"[]", T0 + i))
    claimed = await store.claim_runs("w1", ["wf"], 40, T0 + 50, T0 + 80)
    assert [(c.id, c.ready_at, c.reclaimed) for c in claimed] == [
        (f"run_{i:02}", T0 + i, False) for i in range(40)
    ]


async def test_a_timer_is_ready_when_due_and_an_expired_lease_when_it_expired(
    store: Store,
) -> None:
    await store.create_run(NewRun("run_t", "wf", b"[]", T0))
    first = await claim_one(store, "w1", T0)
    await store.suspend_run("run_t", first.fence, T0 + 100, T0 + 1)
    timer = await claim_one(store, "w1", T0 + 130)  # its lease runs to T0 + 160
    assert (timer.ready_at, timer.reclaimed) == (T0 + 100, False)
    reclaimed = await claim_one(store, "w2", T0 + 175)
    assert (reclaimed.ready_at, reclaimed.reclaimed) == (T0 + 160, True)
    assert reclaimed.fence == timer.fence + 1


async def test_an_event_makes_a_waiting_run_ready_when_it_arrives(routed: Store) -> None:
    store = routed
    await store.create_run(NewRun("run_e", "wf", b"[]", T0))
    first = await claim_one(store, "w1", T0)
    await waiting_for_go(store, "run_e", first.fence, T0 + 1)
    _, _, dispatched = await store.emit("default", "Go", b"{}", event_id=None, source="api",
                                        now=T0 + 7)  # fmt: skip
    assert dispatched.resumed == ["run_e"]
    woken = await claim_one(store, "w1", T0 + 9)
    assert (woken.ready_at, woken.reclaimed) == (T0 + 7, False)


async def test_an_event_that_arrived_while_running_counts_from_the_suspension(
    routed: Store,
) -> None:
    store = routed
    await store.create_run(NewRun("run_h", "wf", b"[]", T0))
    first = await claim_one(store, "w1", T0)
    step = StepRecord("go", 0, "go", "wait", "waiting", 0, WAIT, started_at=T0 + 1)
    await store.record_wait("run_h", first.fence, step, "default", "Go", None)
    # The event arrives before the run has suspended: it stays running, hinted to run again.
    await store.emit("default", "Go", b"{}", event_id=None, source="api", now=T0 + 2)
    await store.suspend_run("run_h", first.fence, None, T0 + 5)
    again = await claim_one(store, "w1", T0 + 6)
    assert (again.ready_at, again.reclaimed) == (T0 + 5, False)


async def test_one_claim_of_every_kind_reads_each_run_its_own_way(store: Store) -> None:
    for run_id, created in (("run_p", T0 + 50), ("run_t", T0), ("run_l", T0 + 1)):
        await store.create_run(NewRun(run_id, "wf", b"[]", created))
    [timer, lease] = await store.claim_runs("w1", ["wf"], 2, T0 + 2, T0 + 32)
    assert [timer.id, lease.id] == ["run_t", "run_l"]
    await store.suspend_run("run_t", timer.fence, T0 + 40, T0 + 3)
    # At T0 + 60 the pending run (due T0 + 50), the timer (T0 + 40) and the lease (it expired at
    # T0 + 32) are all due: one claim takes them in the order they fell due.
    claimed = await store.claim_runs("w2", ["wf"], 10, T0 + 60, T0 + 90)
    assert [(c.id, c.ready_at, c.reclaimed) for c in claimed] == [
        ("run_l", T0 + 32, True),
        ("run_t", T0 + 40, False),
        ("run_p", T0 + 50, False),
    ]
    assert all(c.fence == (2 if c.id != "run_p" else 1) for c in claimed)
