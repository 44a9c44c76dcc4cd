"""Concurrency slots in the store (docs/flow-control.md), on every backend: a claim leases a
keyed run only with a free slot of its key and parks the rest without blocking other keys; the
slot belongs to the run, so a run reclaimed after its lease expired keeps it (a crashed worker
leaks nothing); every way out of ``running`` gives it back and unparks the next run."""

from __future__ import annotations

from plait.store.base import Store
from plait.store.records import NewRun, RunFlow

T0 = 1_800_000_000.0


def keyed(run_id: str, key: str, at: float, limit: int = 1, priority: int = 0) -> NewRun:
    flow = RunFlow(priority=priority, concurrency_key=key, concurrency_limit=limit)
    return NewRun(run_id, "wf", b"[]", at, flow=flow)


async def claimed_ids(store: Store, owner: str, now: float, limit: int = 10) -> list[str]:
    return [c.id for c in await store.claim_runs(owner, ["wf"], limit, now, now + 30)]


async def test_a_full_key_parks_its_runs_and_blocks_no_other(store: Store) -> None:
    for i in range(5):
        await store.create_run(keyed(f"a{i}", "a", T0 + i, limit=2))
    await store.create_run(keyed("b0", "b", T0 + 10, limit=2))
    await store.create_run(NewRun("plain", "wf", b"[]", T0 + 11))
    # a2 is parked, and the claim looks past it: b0 (another key) comes in its place
    assert await claimed_ids(store, "w1", T0 + 20, limit=3) == ["a0", "a1", "b0"]
    assert await claimed_ids(store, "w1", T0 + 21) == ["plain"]  # a2..a4 parked, skipped
    assert await store.slots_used("default", "wf") == {"a": 2, "b": 1}
    assert await claimed_ids(store, "w2", T0 + 22) == []


async def test_a_reclaimed_run_keeps_its_slot(store: Store) -> None:
    await store.create_run(keyed("a0", "a", T0))
    await store.create_run(keyed("a1", "a", T0 + 1))
    [first] = await store.claim_runs("crashed", ["wf"], 10, T0 + 2, T0 + 32)
    assert first.id == "a0"
    # The worker dies: its lease runs out, and another worker reclaims the run with its slot.
    [again] = await store.claim_runs("w2", ["wf"], 10, T0 + 40, T0 + 70)
    assert (again.id, again.reclaimed) == ("a0", True)
    assert await store.slots_used("default", "wf") == {"a": 1}
    await store.finish_run("a0", again.fence, "succeeded", b"null", None, T0 + 41)
    assert await store.slots_used("default", "wf") == {}
    assert await claimed_ids(store, "w2", T0 + 42) == ["a1"]  # unparked by the release


async def test_suspend_cancel_and_release_give_the_slot_back(store: Store) -> None:
    for i in range(4):
        await store.create_run(keyed(f"a{i}", "a", T0 + i))
    [a0] = await store.claim_runs("w1", ["wf"], 10, T0 + 5, T0 + 35)
    await store.suspend_run("a0", a0.fence, T0 + 1000, T0 + 6)  # asleep: holds nothing
    [a1] = await store.claim_runs("w1", ["wf"], 10, T0 + 7, T0 + 37)
    assert a1.id == "a1"
    await store.cancel_run("a1", T0 + 8, reason="test")
    assert await claimed_ids(store, "w1", T0 + 9) == ["a2"]
    assert await store.remove_worker("w1", T0 + 10) == 1  # a2 back to pending, slot freed
    assert await store.slots_used("default", "wf") == {}
    assert await claimed_ids(store, "w3", T0 + 11, limit=1) == ["a2"]


async def test_the_next_run_unparked_is_the_highest_priority(store: Store) -> None:
    await store.create_run(keyed("a0", "a", T0))
    await store.create_run(keyed("low", "a", T0 + 1, priority=-5))
    await store.create_run(keyed("high", "a", T0 + 2, priority=5))
    assert await claimed_ids(store, "w1", T0 + 3) == ["high"]
    assert await claimed_ids(store, "w1", T0 + 4) == []  # a0 and low are parked
    [run] = [r for r in await store.claim_runs("w2", ["wf"], 10, T0 + 40, T0 + 70)]
    assert (run.id, run.reclaimed) == ("high", True)
    await store.finish_run("high", run.fence, "succeeded", b"null", None, T0 + 41)
    assert await claimed_ids(store, "w2", T0 + 42) == ["a0"]
