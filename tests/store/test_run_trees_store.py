"""Run trees in the store (every backend): the depth and size bounds checked when a child
starts, the paused-workflow rule, and cancelling a tree of tens of thousands of runs."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from plait.store.base import Store
from plait.store.records import NewChild, NewRun, StepRecord
from tests.backends import select

T0 = 1_800_000_000.0


async def held(store: Store, run_id: str, workflow: str = "wf") -> int:
    """Create ``run_id`` and lease it; return its fence."""
    await store.create_run(NewRun(run_id, workflow, b"[]", T0))
    [claimed] = await store.claim_runs("w1", [workflow], 1, T0, T0 + 60)
    return claimed.fence


async def claim(store: Store, run_id: str) -> int:
    [claimed] = await store.claim_runs("w1", ["wf"], 1, T0, T0 + 60)
    assert claimed.id == run_id
    return claimed.fence


def spec(child_id: str, key: str = "child:wf", **limits: int) -> NewChild:
    step = StepRecord(key, 0, key, "child", "completed", 1, started_at=T0, finished_at=T0)
    return NewChild(child_id, "default", "wf", b"[]", step, code_name="wf", **limits)


def error_of(step: StepRecord) -> dict[str, Any]:
    assert step.status == "failed" and step.error is not None
    error: dict[str, Any] = orjson.loads(step.error)
    return error


async def test_a_chain_of_children_stops_at_the_depth_bound(store: Store) -> None:
    parent, fence = "run_d0", await held(store, "run_d0")
    for depth in range(1, 4):
        step = await store.start_child(parent, fence, spec(f"run_d{depth}", max_depth=3))
        assert step.status == "completed"
        parent, fence = f"run_d{depth}", await claim(store, f"run_d{depth}")
    refused = await store.start_child(parent, fence, spec("run_d4", max_depth=3))
    error = error_of(refused)
    assert error["type"] == "plait.LimitExceeded"
    assert error["setting"] == "max_run_tree_depth" and error["limit"] == 3
    assert error["value"] == 4 and "run_d0" in error["message"]
    assert "PLAIT_MAX_RUN_TREE_DEPTH" in error["message"]
    assert await store.get_run("run_d4") is None
    rows = await select(store, "SELECT id, root_run_id, depth FROM runs ORDER BY id")
    assert rows == [("run_d0", None, 0), ("run_d1", "run_d0", 1), ("run_d2", "run_d0", 2),
                    ("run_d3", "run_d0", 3)]  # fmt: skip


async def test_a_tree_stops_at_the_size_bound_counting_its_root(store: Store) -> None:
    fence = await held(store, "run_root")
    for n in range(3):
        step = await store.start_child("run_root", fence, spec(f"run_c{n}", f"c{n}", max_runs=4))
        assert step.status == "completed"
    refused = await store.start_child("run_root", fence, spec("run_c3", "c3", max_runs=4))
    error = error_of(refused)
    assert error["setting"] == "max_run_tree_runs" and error["value"] == 5
    assert error["limit"] == 4 and "run_root" in error["message"]
    assert await store.get_run("run_c3") is None
    assert await select(store, "SELECT runs FROM run_trees") == [(4,)]


async def test_a_replayed_start_does_not_count_twice(store: Store) -> None:
    fence = await held(store, "run_root")
    await store.start_child("run_root", fence, spec("run_c0", max_runs=2))
    again = await store.start_child("run_root", fence, spec("run_c0", max_runs=2))
    assert again.status == "completed"
    assert await select(store, "SELECT runs FROM run_trees") == [(2,)]


async def test_a_paused_workflow_starts_no_child(store: Store) -> None:
    fence = await held(store, "run_parent")
    await store._submit(  # a stored definition workflow, Paused
        lambda db: db.execute(
            "INSERT INTO workflows (org, id, name, kind, status, version, document, "
            "created_at, updated_at) VALUES ('default', 'workflow_p', 'paused-wf', "
            "'definition', 'Paused', 1, '{}', 0, 0)"
        )
    )
    step_record = StepRecord("c", 0, "c", "child", "completed", 1, started_at=T0)
    child = NewChild("run_c", "default", "paused-wf", b"[]", step_record)
    error = error_of(await store.start_child("run_parent", fence, child))
    assert error["type"] == "plait.WorkflowNotActive"
    assert "'paused-wf' is Paused" in error["message"]
    assert await store.get_run("run_c") is None


TREE = 30_000
CHAIN = 3_000


async def build_tree(store: Store) -> None:
    """A root with ``TREE - 1`` live descendants, in one statement: a chain ``CHAIN`` deep (past
    Python's recursion limit) and a binary tree beside it; some pending, some running (leased),
    most waiting."""
    await store.create_run(NewRun("run_t0", "wf", b"[]", T0))
    sql = f"""
        INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at,
                          lease_owner, fence, parent_run_id, parent_step, root_run_id, depth)
        WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {TREE - 1})
        SELECT 'run_t' || i, 'default', 'wf',
               CASE WHEN i % 7 = 0 THEN 'pending' WHEN i % 11 = 0 THEN 'running'
                    ELSE 'waiting' END,
               '[]', 'child', {T0}, {T0}, CASE WHEN i % 11 = 0 THEN 'w9' END, 1,
               'run_t' || CASE WHEN i <= {CHAIN} THEN i - 1 ELSE (i - {CHAIN}) / 2 END,
               'child:wf', 'run_t0', 1
        FROM seq
    """
    await store._submit(lambda db: db.execute(sql))


async def test_cancelling_the_root_of_a_30000_run_tree_cancels_every_run(store: Store) -> None:
    await build_tree(store)
    done = await store.cancel_run("run_t0", T0 + 1, reason="runaway", actor="admin")
    assert done is not None and done.run.status == "cancelled"
    assert len(done.cancelled) == TREE and len(set(done.cancelled)) == TREE
    rows = await select(store, "SELECT status, COUNT(*) FROM runs GROUP BY status")
    assert rows == [("cancelled", TREE)]
    deep = await store.get_run(f"run_t{CHAIN}")
    assert deep is not None and deep.error is not None
    assert b"its parent run_t2999 was cancelled" in deep.error


async def test_a_cancel_again_finishes_an_interrupted_tree_cancel(store: Store) -> None:
    fence = await held(store, "run_root")
    await store.start_child("run_root", fence, spec("run_c0"))
    await store._submit(  # a cancel that stopped after the root
        lambda db: db.execute("UPDATE runs SET status = 'cancelled' WHERE id = 'run_root'")
    )
    done = await store.cancel_run("run_root", T0 + 1)
    assert done is not None and done.cancelled == ("run_c0",)
    child = await store.get_run("run_c0")
    assert child is not None and child.status == "cancelled"


async def test_cancelling_an_ended_run_cancels_its_live_children(store: Store) -> None:
    fence = await held(store, "run_root")
    await store.start_child("run_root", fence, spec("run_c0"))
    await store.finish_run("run_root", fence, "succeeded", b"1", None, T0 + 1)
    done = await store.cancel_run("run_root", T0 + 2)
    assert done is not None and done.run.status == "succeeded"
    assert done.cancelled == ("run_c0",)
    child = await store.get_run("run_c0")
    assert child is not None and child.status == "cancelled"


async def test_the_size_bound_is_exact_when_two_stores_start_children_at_once(
    store: Store, store_url: str
) -> None:
    """Two processes (two stores on one database) take the tree's last places concurrently."""
    from plait.settings import Settings
    from plait.store.urls import open_store

    fence = await held(store, "run_root")
    for n in range(10):
        await store.start_child("run_root", fence, spec(f"run_c{n}", f"c{n}"))
    parents = {c.id: c.fence for c in await store.claim_runs("w1", ["wf"], 10, T0, T0 + 60)}
    assert len(parents) == 10
    other = open_store(Settings.load(database_url=store_url))
    await other.open()
    try:
        starts = [
            (store if n % 2 else other).start_child(
                f"run_c{n}", parents[f"run_c{n}"], spec(f"run_g{n}", f"g{n}", max_runs=15)
            )
            for n in range(10)
        ]
        steps = await asyncio.gather(*starts)
    finally:
        await other.close()
    assert sorted(s.status for s in steps) == ["completed"] * 4 + ["failed"] * 6
    assert await select(store, "SELECT COUNT(*) FROM runs") == [(15,)]
    assert await select(store, "SELECT runs FROM run_trees") == [(15,)]
