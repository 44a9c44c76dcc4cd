"""Run trees (child workflows): the bounds on a tree's depth and size, checked in the
transaction that starts a child, and cancelling a run with every live run below it.

A run tree is a root run and every run started below it as a child. Each run stores its root
(``root_run_id``, NULL for a root) and its depth; each tree with children has one counter row in
``run_trees`` (migration 012).

Why a counter row rather than counting the tree's runs with an indexed query: the count would
cost a scan of up to ``max_run_tree_runs`` index entries for every child started (quadratic for
a tree that grows to the bound), and on PostgreSQL two workers starting children of one tree at
once would each count under READ COMMITTED without seeing the other's uncommitted insert, and
could both take the last place. The conditional upsert of the counter row is one indexed write,
and its row lock orders concurrent starts in one tree, so the bound is exact on both backends
(SQLite serialises writers anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from plait.errors import LimitExceeded
from plait.store.announcements import announce_end
from plait.store.backend import Backend
from plait.store.concurrency import slot_freed
from plait.store.counters import run_ended
from plait.store.operations import add_history
from plait.store.records import Cancellation, NewChild, Operation, RunRecord
from plait.store.runs import fetch_run, wake_parent
from plait.store.schedules import schedule_run_ended
from plait.store.session import Session
from plait.store.tasks import cancel_tasks_of_runs

TREE_CANCEL_BATCH = 500
"""Most runs one transaction of a tree cancel visits: a level of the tree costs a few statements
whatever its width, so a batch holds the writer for milliseconds (a deep chain, tens of them)
and other writes interleave between batches."""


@dataclass(frozen=True, slots=True)
class TreePlace:
    """Where a new child goes: its tree's root and its depth (its parent's + 1)."""

    root_run_id: str
    depth: int


def take_place(db: Session, parent_id: str, child: NewChild) -> TreePlace | LimitExceeded:
    """Inside the transaction that starts a child of ``parent_id``: count the child in its tree
    and return its place, or the limit it would go over (nothing is written then)."""
    row = db.run("tree_of_run", {"run_id": parent_id}).fetchone()
    root, depth = (parent_id, 1) if row is None else (str(row[0]), int(row[1]) + 1)
    if depth > child.max_depth:
        what = f"the depth of a child run below its tree's root run {root}"
        return LimitExceeded(what, depth, child.max_depth, "max_run_tree_depth")
    params = {"root_run_id": root, "max_runs": child.max_runs}
    if child.max_runs < 2 or db.run("tree_take_place", params).fetchone() is None:
        size = db.run("tree_size", params).fetchone()
        what = f"the number of runs in the tree of root run {root} with this child"
        return LimitExceeded(what, (1 if size is None else int(size[0])) + 1, child.max_runs,
                             "max_run_tree_runs")  # fmt: skip
    return TreePlace(root, depth)


def refusal(exc: LimitExceeded) -> dict[str, Any]:
    """The start step's recorded error for a refused child (never retried: it is certain)."""
    return {"type": "plait.LimitExceeded", "message": str(exc), "what": exc.what,
            "value": exc.value, "limit": exc.limit, "setting": exc.setting}  # fmt: skip


class TreeVerbs(Backend):
    """Cancelling a run's whole tree."""

    async def cancel_run(
        self, run_id: str, now: float, *, reason: str | None = None, actor: str | None = None
    ) -> Cancellation | None:
        """Cancel a run that has not ended and every live run below it (its run tree).

        Each becomes ``cancelled`` with its lease cleared and its fence incremented (so a worker
        still executing it can write nothing more), its open human tasks are cancelled, and the
        cancel is recorded in its history with ``actor`` and ``reason`` (descendants: "its parent
        ... was cancelled", or "the tree below run ... was cancelled" below a run that ended by
        itself). The run itself is cancelled in one transaction; its descendants then level by
        level, breadth first and iteratively (no depth of tree overflows a stack), in
        transactions of at most ``TREE_CANCEL_BATCH`` runs (a tree of tens of thousands of runs
        holds the writer briefly at a time). The walk passes through runs that ended by
        themselves, so a run that already ended (say a root that succeeded after starting
        children it does not wait for) keeps its status but its live descendants are cancelled,
        and its history records the cancel (detail ``{"descendants": n}``). A run cancelled
        before (an interrupted cancel) has its live descendants cancelled again by a new call;
        ``claim_runs`` also cancels, instead of returning, a run with a cancelled run above it.

        Returns the run as it now is (unchanged when it had already ended) with the ids of every
        run cancelled, so the caller can stop executing them; ``None`` if the run is unknown.
        """
        op = Operation(now, actor, reason)
        first = await self._submit(lambda db: _cancel_root(db, run_id, op))
        if first is None:
            return None
        record, cancelled, frontier = first
        above = f"the tree below run {run_id} was cancelled"
        while frontier:
            # The op returns what is left instead of consuming a shared queue: a backend may
            # run an op twice (a batch replayed with savepoints).
            done, frontier = await self._submit(
                partial(_walk, frontier=frontier, op=op, above=above)
            )
            cancelled.extend(done)
        if cancelled and cancelled[0] != run_id:  # the run had ended: its history says so
            detail = {"descendants": len(cancelled)}
            await self._submit(lambda db: add_history(db, run_id, "cancel", op, detail))
        return Cancellation(record, tuple(cancelled))


def _cancel_root(
    db: Session, run_id: str, op: Operation
) -> tuple[RunRecord, list[str], list[str]] | None:
    """Cancel ``run_id`` if it is live (waking its parent, if any); all its children, live
    or ended, come next."""
    error = {"type": "RunCancelled", "message": _cancel_message(run_id, op),
             "reason": op.reason, "by": op.actor}  # fmt: skip
    params = {"run_id": run_id, "now": op.now, "error": orjson.dumps(error)}
    cancelled = db.run("cancel_run", params).rowcount > 0
    if cancelled:
        slot_freed(db, run_id)
        run_ended(db, run_id, "cancelled", op.now)
        schedule_run_ended(db, run_id, "cancelled", "cancelled", op.now)
        wake_parent(db, run_id, op.now)
        add_history(db, run_id, "cancel", op)
        cancel_tasks_of_runs(db, [run_id], op.now)
    record = fetch_run(db, run_id, with_steps=False)
    if record is None:
        return None
    return record, [run_id] if cancelled else [], _children(db, [run_id])


def _walk(
    db: Session, frontier: Sequence[str], op: Operation, above: str
) -> tuple[list[str], list[str]]:
    """Visit the runs of ``frontier`` (descendants of the cancelled run, live or ended)
    level by level, a few statements per level, cancelling the live ones, until
    ``TREE_CANCEL_BATCH`` runs are visited; return those cancelled and the ids left. Every
    visited run passes its children on, whether it was live, ended by itself, or ended
    between two batches."""
    cancelled: list[str] = []
    left, budget = list(frontier), TREE_CANCEL_BATCH
    while left and budget > 0:
        level, left = left[:budget], left[budget:]
        budget -= len(level)
        cancelled.extend(_cancel_level(db, level, op, above))
        left.extend(_children(db, level))
    return cancelled, left


def _cancel_level(db: Session, ids: list[str], op: Operation, above: str) -> list[str]:
    """Cancel the live runs among ``ids``; ``above`` is the reason of one whose parent was
    not cancelled (it ended by itself)."""
    by = f" by {op.actor}" if op.actor else ""
    params = {"ids": orjson.dumps(ids).decode(), "now": op.now, "actor": op.actor, "by": by,
              "above": above}  # fmt: skip
    rows = db.run("tree_cancel_runs", params).fetchall()
    for run_id, org, workflow_id in rows:
        if workflow_id is not None:
            db.counters.ended(org, workflow_id, "cancelled", op.now)
            announce_end(db, str(run_id), org, workflow_id, "cancelled", "cancelled", op.now)
    done = [str(row[0]) for row in rows]
    if done:
        params["ids"] = orjson.dumps(done).decode()
        db.run("tree_cancel_history", params)
        db.run("tree_cancel_tasks", params)
    return done


def cancel_orphans(db: Session, run_ids: Sequence[str], now: float) -> set[str]:
    """Inside the transaction that claims ``run_ids``: cancel each one that has a cancelled
    run above it instead of running it, and return their ids.

    Only a tree cancel that stopped between its batches (its process died) leaves such a
    run live; it is caught when a worker next claims it. A run with no parent costs one
    lookup by primary key, a child one per ancestor up to the nearest cancelled one."""
    if not run_ids:
        return set()
    params = {"ids": orjson.dumps(list(run_ids)).decode()}
    orphans: set[str] = set()
    for run_id, ancestor in db.run("tree_cancelled_above", params).fetchall():
        above = f"its ancestor {ancestor} was cancelled"
        if _cancel_level(db, [str(run_id)], Operation(now, None, None), above):
            wake_parent(db, str(run_id), now)  # a live parent waiting on it goes next
            orphans.add(str(run_id))
    return orphans


def _children(db: Session, parents: list[str]) -> list[str]:
    if not parents:
        return []
    rows = db.run("tree_children", {"ids": orjson.dumps(parents).decode()}).fetchall()
    return [str(row[0]) for row in rows]


def _cancel_message(run_id: str, op: Operation) -> str:
    by = f" by {op.actor}" if op.actor else ""
    why = f": {op.reason}" if op.reason else ""
    return f"run {run_id} was cancelled{by}{why}"
