"""What every Store backend guarantees: idempotent creation, leases, fencing, wake times."""

from __future__ import annotations

import asyncio

import pytest

from plait.errors import LeaseLost
from plait.store.base import Store
from plait.store.records import NewRun, StepRecord, WorkerInfo

T0 = 1_800_000_000.0


def _run(run_id: str, workflow: str = "wf", at: float = T0) -> NewRun:
    return NewRun(run_id, workflow, b"[1]", at)


def _step(key: str, position: int, status: str = "completed") -> StepRecord:
    return StepRecord(key, position, key, "step", status, 1, b'"out"', None, T0, T0)


async def test_create_is_idempotent_by_id(store: Store) -> None:
    first, created = await store.create_run(_run("run_a"))
    again, created_again = await store.create_run(NewRun("run_a", "wf", b"[2]", T0 + 5))
    assert created and not created_again
    assert again.input == b"[1]" and again.status == "pending"
    assert first.id == again.id


async def test_concurrent_creates_of_one_id_create_one_run(store: Store) -> None:
    results = await asyncio.gather(*[store.create_run(_run("run_same")) for _ in range(20)])
    assert sum(created for _, created in results) == 1


async def test_claim_leases_runnable_runs_once_and_increments_the_fence(store: Store) -> None:
    for i in range(3):
        await store.create_run(_run(f"run_{i}", at=T0 + i))
    await store.create_run(_run("run_other", workflow="elsewhere"))
    claimed = await store.claim_runs("w1", ["wf"], 2, T0 + 10, T0 + 40)
    assert [c.id for c in claimed] == ["run_0", "run_1"]
    assert all(c.fence == 1 for c in claimed)
    rest = await store.claim_runs("w2", ["wf"], 10, T0 + 10, T0 + 40)
    assert [c.id for c in rest] == ["run_2"]
    assert await store.claim_runs("w2", ["wf"], 10, T0 + 10, T0 + 40) == []
    record = await store.get_run("run_0")
    assert record is not None
    assert (record.status, record.lease_owner, record.replays) == ("running", "w1", 1)


async def test_expired_lease_is_reclaimed_and_fences_out_the_old_owner(store: Store) -> None:
    await store.create_run(_run("run_x"))
    [old] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 30)
    assert await store.claim_runs("w2", ["wf"], 1, T0 + 29, T0 + 59) == []
    [new] = await store.claim_runs("w2", ["wf"], 1, T0 + 31, T0 + 61)
    assert new.fence == old.fence + 1
    with pytest.raises(LeaseLost):
        await store.record_step("run_x", old.fence, _step("a", 0))
    with pytest.raises(LeaseLost):
        await store.finish_run("run_x", old.fence, "succeeded", b"1", None, T0 + 32)
    await store.record_step("run_x", new.fence, _step("a", 0))
    await store.finish_run("run_x", new.fence, "succeeded", b"1", None, T0 + 33)
    record = await store.get_run("run_x")
    assert record is not None and record.status == "succeeded" and record.output == b"1"


async def test_claim_returns_recorded_steps_in_call_order(store: Store) -> None:
    await store.create_run(_run("run_s"))
    [claim] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 30)
    await store.record_step("run_s", claim.fence, _step("b", 1))
    await store.record_step("run_s", claim.fence, _step("a", 0))
    await store.suspend_run("run_s", claim.fence, T0 + 100, T0)
    assert await store.claim_runs("w1", ["wf"], 1, T0 + 99, T0 + 130) == []
    [again] = await store.claim_runs("w1", ["wf"], 1, T0 + 100, T0 + 130)
    assert [s.key for s in again.steps] == ["a", "b"]


async def test_a_failing_write_in_a_batch_does_not_fail_the_others(store: Store) -> None:
    await store.create_run(_run("run_ok"))
    await store.create_run(_run("run_lost"))
    claims = {c.id: c for c in await store.claim_runs("w1", ["wf"], 2, T0, T0 + 30)}
    ok = store.record_step("run_ok", claims["run_ok"].fence, _step("a", 0))
    lost = store.record_step("run_lost", claims["run_lost"].fence + 7, _step("a", 0))
    results = await asyncio.gather(ok, lost, return_exceptions=True)
    assert results[0] is None and isinstance(results[1], LeaseLost)
    record = await store.get_run("run_ok")
    assert record is not None and [s.key for s in record.steps] == ["a"]


async def test_cancel_ends_the_run_and_fences_out_its_worker(store: Store) -> None:
    await store.create_run(_run("run_c"))
    [claim] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 30)
    done = await store.cancel_run("run_c", T0 + 1)
    assert done is not None and done.run.status == "cancelled"
    assert done.cancelled == ("run_c",)
    with pytest.raises(LeaseLost):
        await store.record_step("run_c", claim.fence, _step("a", 0))
    assert await store.claim_runs("w1", ["wf"], 1, T0 + 100, T0 + 130) == []
    again = await store.cancel_run("run_c", T0 + 2)
    assert again is not None and again.run.finished_at == T0 + 1 and again.cancelled == ()
    assert await store.cancel_run("run_missing", T0) is None


async def test_next_wake_at_is_the_earliest_timer_of_a_waiting_run(store: Store) -> None:
    assert await store.next_wake_at(["wf"]) is None
    for run_id in ("run_1", "run_2"):
        await store.create_run(_run(run_id))
    claims = await store.claim_runs("w1", ["wf"], 2, T0, T0 + 500)
    assert await store.next_wake_at(["wf"]) is None  # leases are housekeeping, not timers
    await store.suspend_run(claims[0].id, claims[0].fence, T0 + 300, T0)
    assert await store.next_wake_at(["wf"]) == T0 + 300
    await store.suspend_run(claims[1].id, claims[1].fence, T0 + 50, T0)
    assert await store.next_wake_at(["wf"]) == T0 + 50
    assert await store.next_wake_at(["other"]) is None


async def test_removing_a_worker_gives_its_runs_back(store: Store) -> None:
    await store.register_worker(WorkerInfo("w1", "host", 1, T0, T0))
    await store.create_run(_run("run_w"))
    await store.claim_runs("w1", ["wf"], 1, T0, T0 + 30)
    assert await store.heartbeat("w1", T0 + 5, T0 + 60, ["run_w", "run_not_mine"]) == {"run_w"}
    assert await store.remove_worker("w1", T0 + 6) == 1
    assert await store.list_workers() == []
    [claim] = await store.claim_runs("w2", ["wf"], 1, T0 + 7, T0 + 37)
    assert claim.id == "run_w"


async def test_list_runs_filters_and_orders_newest_first(store: Store) -> None:
    for i in range(5):
        await store.create_run(_run(f"run_{i}", workflow="a" if i % 2 else "b", at=T0 + i))
    assert [r.id for r in await store.list_runs(None, None, 3)] == ["run_4", "run_3", "run_2"]
    assert [r.id for r in await store.list_runs("a", None, 10)] == ["run_3", "run_1"]
    assert await store.list_runs(None, "failed", 10) == []


async def test_heartbeat_extends_only_the_runs_still_executed(store: Store) -> None:
    for run_id in ("run_live", "run_abandoned"):
        await store.create_run(_run(run_id))
    await store.claim_runs("w1", ["wf"], 2, T0, T0 + 30)
    assert await store.heartbeat("w1", T0 + 10, T0 + 40, ["run_live"]) == {"run_live"}
    # the abandoned run's lease (T0 + 30) runs out; another worker resumes it
    [taken] = await store.claim_runs("w2", ["wf"], 5, T0 + 31, T0 + 61)
    assert taken.id == "run_abandoned"
