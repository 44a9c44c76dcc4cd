"""Cancelling a run tree through runs that ended by themselves (every backend): a succeeded root
whose fire-and-forget children still run, an ended run between live ones (in one batch and
across batches), and a worker that claims a run left live below a cancelled one (a tree cancel
that stopped between its batches) cancels it instead of running it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from plait.store import trees
from plait.store.base import Store
from plait.store.records import NewRun
from tests.backends import select

T0 = 1_800_000_000.0

LIVE = ("pending", "running", "waiting")


async def plant(store: Store, runs: list[tuple[str, str | None, str]]) -> None:
    """Insert ``(id, parent id, status)`` runs as they would be stored: each child knows the
    tree's root (the first run) and its depth; an ended run has finished."""
    root = runs[0][0]
    depth: dict[str, int] = {root: 0}
    await store.create_run(NewRun(root, "wf", b"[]", T0))
    for run_id, parent, status in runs:
        depth[run_id] = 0 if parent is None else depth[parent] + 1
        if run_id != root:
            await store.create_run(NewRun(run_id, "wf", b"[]", T0))
        tree = (
            ""
            if parent is None
            else (f", parent_run_id = '{parent}', root_run_id = '{root}', trigger = 'child'")
        )
        finished = "NULL" if status in LIVE else str(T0)
        sql = (
            f"UPDATE runs SET status = '{status}', finished_at = {finished}, "
            f"depth = {depth[run_id]}{tree} "
            f"WHERE id = '{run_id}'"
        )
        await store._submit(lambda db, sql=sql: db.execute(sql))


async def statuses(store: Store) -> dict[str, str]:
    return dict(await select(store, "SELECT id, status FROM runs"))


async def error_of(store: Store, run_id: str) -> dict[str, Any]:
    run = await store.get_run(run_id)
    assert run is not None and run.error is not None
    error: dict[str, Any] = orjson.loads(run.error)
    return error


async def test_cancelling_a_succeeded_root_cancels_its_live_fire_and_forget_descendants(
    store: Store,
) -> None:
    await plant(store, [
        ("run_r", None, "succeeded"),
        ("run_a", "run_r", "succeeded"),   # a fire-and-forget child that finished ...
        ("run_a1", "run_a", "waiting"),    # ... and its own children, still live
        ("run_a2", "run_a", "pending"),
        ("run_b", "run_r", "running"),     # a live child
        ("run_b1", "run_b", "failed"),
        ("run_b2", "run_b", "waiting"),
    ])  # fmt: skip
    done = await store.cancel_run("run_r", T0 + 1, reason="runaway", actor="ops")
    assert done is not None and done.run.status == "succeeded"
    assert set(done.cancelled) == {"run_a1", "run_a2", "run_b", "run_b2"}
    assert done.cancelled.index("run_b") < done.cancelled.index("run_b2")
    assert await statuses(store) == {
        "run_r": "succeeded", "run_a": "succeeded", "run_a1": "cancelled",
        "run_a2": "cancelled", "run_b": "cancelled", "run_b1": "failed", "run_b2": "cancelled",
    }  # fmt: skip
    error = await error_of(store, "run_a1")
    assert error["reason"] == "the tree below run run_r was cancelled"
    assert (
        error["message"]
        == "run run_a1 was cancelled by ops: the tree below run run_r was cancelled"
    )
    assert (await error_of(store, "run_b2"))["reason"] == "its parent run_b was cancelled"
    history = await select(
        store,
        "SELECT run_id, action, actor, reason, detail FROM run_history "
        "WHERE run_id IN ('run_r', 'run_a1') ORDER BY run_id",
    )
    assert [row[:4] for row in history] == [
        ("run_a1", "cancel", "ops", "the tree below run run_r was cancelled"),
        ("run_r", "cancel", "ops", "runaway"),
    ]
    assert orjson.loads(history[1][4]) == {"descendants": 4}


async def test_cancelling_an_ended_run_with_nothing_live_below_changes_nothing(
    store: Store,
) -> None:
    await plant(store, [("run_r", None, "succeeded"), ("run_a", "run_r", "failed")])
    done = await store.cancel_run("run_r", T0 + 1)
    assert done is not None and done.run.status == "succeeded" and done.cancelled == ()
    assert await statuses(store) == {"run_r": "succeeded", "run_a": "failed"}
    assert await select(store, "SELECT COUNT(*) FROM run_history") == [(0,)]


@pytest.mark.parametrize("batch", [500, 1])
async def test_an_ended_run_between_live_ones_keeps_nothing_live_below_it(
    store: Store, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a batch of 1 the ended run is reached in one transaction, its child in the next."""
    monkeypatch.setattr(trees, "TREE_CANCEL_BATCH", batch)
    await plant(store, [
        ("run_r", None, "waiting"),
        ("run_m", "run_r", "succeeded"),
        ("run_g", "run_m", "running"),
        ("run_gg", "run_g", "pending"),
    ])  # fmt: skip
    done = await store.cancel_run("run_r", T0 + 1)
    assert done is not None and done.cancelled == ("run_r", "run_g", "run_gg")
    assert await statuses(store) == {"run_r": "cancelled", "run_m": "succeeded",
                                     "run_g": "cancelled", "run_gg": "cancelled"}  # fmt: skip
    assert (await error_of(store, "run_gg"))["reason"] == "its parent run_g was cancelled"


async def test_a_claimed_run_below_a_cancelled_run_is_cancelled_instead(store: Store) -> None:
    """A tree cancel that stopped after its first batch: the root is cancelled, the rest live."""
    await plant(store, [
        ("run_r", None, "cancelled"),
        ("run_p", "run_r", "waiting"),     # waits on its child (no wake time)
        ("run_c", "run_p", "pending"),
        ("run_m", "run_r", "succeeded"),
        ("run_g", "run_m", "pending"),
        ("run_x", None, "pending"),        # another tree, untouched
    ])  # fmt: skip
    claimed = await store.claim_runs("w1", ["wf"], 10, T0 + 1, T0 + 60)
    assert [c.id for c in claimed] == ["run_x"]
    found = await statuses(store)
    assert (found["run_c"], found["run_g"]) == ("cancelled", "cancelled")
    assert (await error_of(store, "run_c"))["reason"] == "its ancestor run_r was cancelled"
    assert (await error_of(store, "run_g"))["reason"] == "its ancestor run_r was cancelled"
    assert found["run_p"] == "pending"  # woken by its child's end, so a claim sees it next
    assert await store.claim_runs("w1", ["wf"], 10, T0 + 2, T0 + 60) == []
    found = await statuses(store)
    assert found["run_p"] == "cancelled"
    assert (await error_of(store, "run_p"))["reason"] == "its parent run_r was cancelled"
    assert await select(store, "SELECT action FROM run_history WHERE run_id = 'run_p'") == [
        ("cancel",)
    ]
