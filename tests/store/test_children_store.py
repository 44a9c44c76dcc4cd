"""Store contract of child runs, signals and published state (every backend)."""

from __future__ import annotations

import asyncio

import pytest

from plait.errors import LeaseLost, RunEnded, RunNotFound
from plait.store.base import Store
from plait.store.records import NewChild, NewRun, StepRecord

T0 = 1_800_000_000.0


async def held(store: Store, run_id: str) -> int:
    """Create ``run_id`` and lease it; return its fence."""
    await store.create_run(NewRun(run_id, "wf", b"[]", T0))
    [claimed] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 60)
    return claimed.fence


def start_step(key: str = "child:wf") -> StepRecord:
    return StepRecord(key, 0, key, "child", "completed", 1, started_at=T0, finished_at=T0)


def child(ref: str = "wf", child_id: str = "run_child") -> NewChild:
    return NewChild(child_id, "default", ref, b"[1]", start_step(), code_name=ref)


def receive_step(key: str, position: int, name: str = "note") -> StepRecord:
    return StepRecord(key, position, name, "receive", "waiting", started_at=T0)


async def test_starting_a_child_twice_creates_one_run_linked_to_its_parent(store: Store) -> None:
    fence = await held(store, "run_parent")
    first = await store.start_child("run_parent", fence, child())
    again = await store.start_child("run_parent", fence, child())  # a replay after a crash
    assert first.status == again.status == "completed"
    runs = await store.list_runs("wf", None, 10)
    assert sorted(r.id for r in runs) == ["run_child", "run_parent"]
    record = await store.get_run("run_child")
    assert record is not None and record.parent_run_id == "run_parent"
    assert record.parent_step == "child:wf" and record.trigger == "child"
    assert await store.child_runs("run_parent") == ["run_child"]


async def test_an_unknown_child_workflow_records_a_failed_step(store: Store) -> None:
    fence = await held(store, "run_parent")
    spec = NewChild("run_x", "default", "nowhere", b"[]", start_step())
    step = await store.start_child("run_parent", fence, spec)
    assert step.status == "failed" and step.error is not None and b"nowhere" in step.error
    assert await store.get_run("run_x") is None


async def test_a_stale_fence_starts_no_child(store: Store) -> None:
    fence = await held(store, "run_parent")
    with pytest.raises(LeaseLost):
        await store.start_child("run_parent", fence + 1, child())
    assert await store.get_run("run_child") is None


async def test_a_child_that_ends_wakes_its_waiting_parent(store: Store) -> None:
    fence = await held(store, "run_parent")
    await store.start_child("run_parent", fence, child())
    await store.suspend_run("run_parent", fence, None, T0 + 1)
    [claimed] = await store.claim_runs("w2", ["wf"], 1, T0 + 2, T0 + 60)
    assert claimed.id == "run_child"
    await store.finish_run("run_child", claimed.fence, "succeeded", b"2", None, T0 + 3)
    assert await store.child_outcome("run_child") == ("succeeded", b"2", None)
    [woken] = await store.claim_runs("w2", ["wf"], 1, T0 + 4, T0 + 60)
    assert woken.id == "run_parent"


async def test_signals_queue_in_order_and_each_is_taken_once(store: Store) -> None:
    fence = await held(store, "run_r")
    for n in (1, 2, 3):
        sent = await store.send_signal("run_r", "note", str(n).encode(), T0)
        assert sent.step is None
    taken = await asyncio.gather(
        *[store.take_signal("run_r", fence, receive_step(f"r{i}", i)) for i in range(4)]
    )
    assert taken == [b"1", b"2", b"3", None]


async def test_a_signal_completes_a_waiting_receive_and_wakes_the_run(store: Store) -> None:
    fence = await held(store, "run_r")
    assert await store.take_signal("run_r", fence, receive_step("r1", 0)) is None
    await store.suspend_run("run_r", fence, None, T0 + 1)
    sent = await store.send_signal("run_r", "note", b'{"a": 1}', T0 + 2)
    assert sent.step == "r1"
    [claimed] = await store.claim_runs("w1", ["wf"], 1, T0 + 3, T0 + 60)
    assert claimed.steps[0].status == "completed" and claimed.steps[0].output == b'{"a": 1}'
    # a timeout that fires after the delivery keeps the signal
    assert await store.expire_receive("run_r", claimed.fence, "r1", T0 + 4) == b'{"a": 1}'


async def test_an_expired_receive_returns_null(store: Store) -> None:
    fence = await held(store, "run_r")
    await store.take_signal("run_r", fence, receive_step("r1", 0))
    assert await store.expire_receive("run_r", fence, "r1", T0 + 5) == b"null"
    sent = await store.send_signal("run_r", "note", b"1", T0 + 6)
    assert sent.step is None  # queued for the next receive, not the expired one


async def test_signals_to_unknown_or_ended_runs_are_refused(store: Store) -> None:
    with pytest.raises(RunNotFound):
        await store.send_signal("run_none", "note", b"1", T0)
    fence = await held(store, "run_done")
    await store.finish_run("run_done", fence, "succeeded", b"null", None, T0)
    with pytest.raises(RunEnded):
        await store.send_signal("run_done", "note", b"1", T0)


async def test_published_values_are_upserted_and_fenced(store: Store) -> None:
    fence = await held(store, "run_s")
    for i, value in enumerate((b'"a"', b'{"b": 2}')):
        step = StepRecord(f"state:k#{i}", i, "k", "state", "completed", 1, value,
                          started_at=T0, finished_at=T0)  # fmt: skip
        await store.set_run_value("run_s", fence, step, "k", value)
    assert await store.run_values("run_s") == {"k": {"b": 2}}
    stale = StepRecord("state:x", 9, "x", "state", "completed", 1, b"1")
    with pytest.raises(LeaseLost):
        await store.set_run_value("run_s", fence + 1, stale, "x", b"1")
    assert await store.run_published("run_s") == ({"k": {"b": 2}}, [])
