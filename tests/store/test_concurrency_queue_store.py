"""The queue of a full concurrency key (docs/flow-control.md), on every backend: a queued run
that ends while parked takes no unpark meant for a live run, an idempotent start of an
existing run takes no slot, and a long queue of one key does not hold back other runs."""

from __future__ import annotations

from plait.store.base import Store
from plait.store.records import NewRun, RunFlow

T0 = 1_800_000_000.0


def keyed(run_id: str, key: str, at: float, limit: int = 1) -> NewRun:
    return NewRun(run_id, "wf", b"[]", at, flow=RunFlow(concurrency_key=key,
                                                       concurrency_limit=limit))  # fmt: skip


async def claimed_ids(store: Store, owner: str, now: float, limit: int = 10) -> list[str]:
    return [c.id for c in await store.claim_runs(owner, ["wf"], limit, now, now + 30)]


async def test_a_cancelled_queued_run_does_not_strand_the_last_one(store: Store) -> None:
    for i, run_id in enumerate(["a0", "q1", "z", "q2"]):
        await store.create_run(keyed(run_id, "a", T0 + i))
    [a0] = await store.claim_runs("w1", ["wf"], 10, T0 + 5, T0 + 35)
    assert a0.id == "a0"
    assert await claimed_ids(store, "w1", T0 + 5.5) == []  # q1, z, q2 parked
    await store.cancel_run("z", T0 + 6, reason="not needed")  # queued, not the oldest
    assert await claimed_ids(store, "w1", T0 + 7) == []
    await store.finish_run("a0", a0.fence, "succeeded", b"null", None, T0 + 8)
    [q1] = await store.claim_runs("w1", ["wf"], 10, T0 + 9, T0 + 39)
    assert q1.id == "q1"
    await store.finish_run("q1", q1.fence, "succeeded", b"null", None, T0 + 10)
    assert await claimed_ids(store, "w1", T0 + 11) == ["q2"]
    assert await store.slots_used("default", "wf") == {"a": 1}


async def test_an_idempotent_start_of_an_ended_run_takes_no_slot(store: Store) -> None:
    flow = RunFlow(concurrency_key="a", concurrency_limit=1)
    await store.create_run(NewRun("job-1", "wf", b"[]", T0, flow=flow), "w1", T0 + 30)
    await store.finish_run("job-1", 1, "succeeded", b"null", None, T0 + 2)
    again, created = await store.create_run(
        NewRun("job-1", "wf", b"[]", T0 + 3, flow=flow), "w1", T0 + 33
    )
    assert (again.status, created) == ("succeeded", False)
    assert await store.slots_used("default", "wf") == {}
    await store.create_run(NewRun("job-2", "wf", b"[]", T0 + 4, flow=flow))
    assert await claimed_ids(store, "w1", T0 + 5) == ["job-2"]


async def test_a_long_queue_of_one_key_holds_back_no_other_run(store: Store) -> None:
    for i in range(200):
        await store.create_run(keyed(f"a{i:03}", "a", T0 + i * 0.001))
    await store.create_run(keyed("b0", "b", T0 + 1))
    await store.create_run(NewRun("plain", "wf", b"[]", T0 + 1.1))
    assert await claimed_ids(store, "w1", T0 + 10, limit=5) == ["a000", "b0", "plain"]
    assert await claimed_ids(store, "w1", T0 + 11, limit=5) == []


async def test_a_claim_leases_what_it_granted_on_a_key_it_then_parks(store: Store) -> None:
    for i in range(4):
        await store.create_run(keyed(f"a{i}", "a", T0 + i, limit=2))
    assert await claimed_ids(store, "w1", T0 + 5, limit=3) == ["a0", "a1"]
    # their leases ran out: reclaimed with their slots; a2 and a3 stay parked
    a0, a1 = await store.claim_runs("w2", ["wf"], 10, T0 + 40, T0 + 70)
    assert (a0.id, a1.id) == ("a0", "a1")
    await store.finish_run("a0", a0.fence, "succeeded", b"null", None, T0 + 41)
    assert await claimed_ids(store, "w2", T0 + 42) == ["a2"]  # unparked by a0's end


async def test_a_key_a_later_round_would_lock_out_of_order_waits_for_the_next_claim(
    store: Store,
) -> None:
    await store.create_run(keyed("b0", "b", T0))
    assert await claimed_ids(store, "w1", T0 + 1) == ["b0"]
    for i in (1, 2):
        await store.create_run(keyed(f"b{i}", "b", T0 + 1 + i))
    await store.create_run(keyed("a0", "a", T0 + 5))
    # b1 and b2 are parked; "a" sorts before "b", whose slot row the claim holds locked: a
    # PostgreSQL claim leaves a0 to the next claim (never locking slot rows out of order)
    first = await claimed_ids(store, "w1", T0 + 6, limit=2)
    second = await claimed_ids(store, "w1", T0 + 7, limit=2)
    assert first + second == ["a0"]
    assert await store.slots_used("default", "wf") == {"a": 1, "b": 1}


def test_a_later_round_locks_only_slot_rows_in_order() -> None:
    from plait.store.leases import _in_lock_order

    locked = {("o", "wf", "b")}
    held = [("r1", "o", "wf", "a", 1), ("r2", "o", "wf", "b", 1), ("r3", "o", "wf", "c", 1)]
    keep, deferred = _in_lock_order(held, locked)
    assert [h[0] for h in keep] == ["r2", "r3"] and deferred
    assert locked == {("o", "wf", "b"), ("o", "wf", "c")}
    assert _in_lock_order(held[:1], set()) == (held[:1], False)


async def test_a_start_on_the_local_worker_queues_behind_older_runs_of_its_key(
    store: Store,
) -> None:
    await store.create_run(keyed("a0", "a", T0, limit=2))  # queued for a claim
    first, _ = await store.create_run(keyed("a1", "a", T0 + 1, limit=2), "w1", T0 + 31)
    assert first.status == "pending"  # a0 starts first, though a slot is free
    assert await claimed_ids(store, "w1", T0 + 2) == ["a0", "a1"]
    late, _ = await store.create_run(keyed("a2", "a", T0 + 3, limit=2), "w1", T0 + 33)
    assert late.status == "pending" and await claimed_ids(store, "w1", T0 + 4) == []
