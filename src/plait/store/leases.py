"""Leases: workers claim runnable runs, write what they execute under the run's fence, and give
them back; and the workers themselves, whose heartbeats keep their leases.

Writes that carry a ``fence`` succeed only while the caller still holds the run's lease under
that fencing number, and raise ``LeaseLost`` otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from plait.store.backend import Backend
from plait.store.concurrency import slot_freed, take_slots
from plait.store.costs import PendingCost, Pricer, RunCost, price_run
from plait.store.counters import run_ended
from plait.store.records import ClaimedRun, StepRecord, WorkerInfo
from plait.store.runs import fenced, step_params, steps_by_run, wake_parent
from plait.store.schedules import schedule_run_ended
from plait.store.session import Session
from plait.store.trees import cancel_orphans


class LeaseVerbs(Backend):
    """Claiming, executing and releasing runs; workers and their heartbeats."""

    async def claim_runs(
        self, owner: str, workflows: Sequence[str], limit: int, now: float, lease_until: float
    ) -> list[ClaimedRun]:
        """Lease up to ``limit`` runnable runs of ``workflows`` to ``owner``, in one transaction.

        Runnable: ``pending``; ``waiting`` with ``wake_at <= now``; ``running`` with an expired
        lease. Each claimed run becomes ``running``, its fence increments (fencing out any former
        owner) and its recorded steps come back with it, with when it became runnable
        (``ready_at``) and whether its lease had expired (``reclaimed``), both read from its
        row as it was before the claim by the query that chose it (see ``_claim``). A run with
        a cancelled run above it (left live by a tree cancel that stopped between its batches)
        is cancelled instead, and its parent woken (the parent then meets the same check).
        """
        params = {
            "owner": owner,
            "workflows": orjson.dumps(list(workflows)).decode(),
            "limit": limit,
            "now": now,
            "lease_until": lease_until,
        }

        def op(db: Session) -> list[ClaimedRun]:
            rows = _claim(db, params)
            orphans = cancel_orphans(db, [r[0] for r in rows], now)
            rows = [r for r in rows if r[0] not in orphans]
            if not rows:
                return []
            steps = steps_by_run(db, [r[0] for r in rows])
            return [_claimed(r, steps.get(r[0], [])) for r in rows]

        result: list[ClaimedRun] = await self._submit(op)
        return result

    def record_step(self, run_id: str, fence: int, step: StepRecord) -> asyncio.Future[None]:
        """Insert or replace one step of a run held under ``fence`` (else ``LeaseLost``).

        Not a coroutine: the write is queued when this is called, before any write requested
        after it, so a caller may leave it un-awaited and rely on a later awaited write of the
        same run committing after it. Awaiting it waits until it is committed.
        """
        params = step_params(run_id, step)
        params["fence"] = fence
        return self._submit(lambda db: fenced(db, "upsert_step", params))

    async def suspend_run(self, run_id: str, fence: int, wake_at: float | None, now: float) -> None:
        """Make a held run ``waiting`` until ``wake_at``; release its lease (or ``LeaseLost``)."""
        params = {"run_id": run_id, "fence": fence, "wake_at": wake_at, "now": now}

        def op(db: Session) -> None:
            fenced(db, "suspend_run", params)
            slot_freed(db, run_id)

        await self._submit(op)

    async def finish_run(
        self,
        run_id: str,
        fence: int,
        status: str,
        output: bytes | None,
        error: bytes | None,
        now: float,
        outcome: str | None = None,
        pricer: Pricer | None = None,
    ) -> RunCost | None:
        """End a held run as ``succeeded`` or ``failed`` and release it (else ``LeaseLost``);
        a parent waiting on it is woken in the same transaction. ``outcome`` is how it ended
        (``partial``: it succeeded past failed steps), ``status`` unless given; the workflow's
        counters move by it. With ``pricer`` the run is priced in the same transaction
        (``plait.store.costs``) and its cost returned."""
        ended = outcome or status
        params = {
            "run_id": run_id, "fence": fence, "status": status, "output": output,
            "error": error, "now": now, "outcome": ended,
        }  # fmt: skip

        def op(db: Session) -> PendingCost | None:
            fenced(db, "finish_run", params)
            slot_freed(db, run_id)
            run_ended(db, run_id, ended, now, status)
            schedule_run_ended(db, run_id, status, ended, now)
            wake_parent(db, run_id, now)
            return None if pricer is None else price_run(db, run_id, pricer, now)

        pending: PendingCost | None = await self._submit(op)
        return None if pending is None else pending.cost

    async def next_wake_at(self, workflows: Sequence[str]) -> float | None:
        """The earliest wake time of a waiting run of ``workflows`` or of an enabled schedule's
        next tick (expired leases are found by polling, not by this)."""
        params = {"workflows": orjson.dumps(list(workflows)).decode()}
        row = await self._one("next_wake_at", params)
        return None if row is None else row[0]

    # -- workers --------------------------------------------------------------------------------

    async def register_worker(self, worker: WorkerInfo) -> None:
        """Record a worker as live."""
        params = {
            "id": worker.id, "host": worker.host, "pid": worker.pid,
            "started_at": worker.started_at, "heartbeat_at": worker.heartbeat_at,
        }  # fmt: skip
        await self._submit(lambda db: db.run("register_worker", params))

    async def heartbeat(
        self, worker_id: str, now: float, lease_until: float, run_ids: Sequence[str]
    ) -> set[str]:
        """Refresh the worker's heartbeat and extend to ``lease_until`` the leases of
        ``run_ids`` (the runs it is executing) that it still holds.

        Returns those ids, so it can stop the rest; a run it no longer executes (abandoned
        after a database failure) keeps its old lease, which then expires.
        """

        def op(db: Session) -> set[str]:
            db.run("worker_heartbeat", {"worker_id": worker_id, "now": now})
            params = {"worker_id": worker_id, "lease_until": lease_until,
                      "run_ids": orjson.dumps(list(run_ids)).decode()}  # fmt: skip
            return {row[0] for row in db.run("extend_leases", params).fetchall()}

        held: set[str] = await self._submit(op)
        return held

    async def list_workers(self) -> list[WorkerInfo]:
        """All registered workers."""
        return [WorkerInfo(*row) for row in await self._all("list_workers")]

    async def remove_worker(self, worker_id: str, now: float) -> int:
        """Forget a worker and give back its runs as ``pending``; return how many runs."""

        def op(db: Session) -> int:
            params = {"worker_id": worker_id, "now": now}
            released = db.run("release_worker_runs", params).rowcount
            db.run("delete_worker", {"worker_id": worker_id})
            db.runnable = db.runnable or released > 0  # other workers take them at once
            return int(released)

        released: int = await self._submit(op)
        return released


def _claim(db: Session, params: dict[str, Any]) -> list[Sequence[Any]]:
    """Lease the runs due (the rows of ``claim_runs`` in claim order, each with ``ready_at``
    and ``reclaimed`` last). Keyed runs a round finds over their key's limit are parked (see
    ``_claim_round``) and the next round, in the same transaction, looks past them for as many
    runs, so that a full key costs the claim no runs of other keys (a few rounds at most)."""
    locked: set[tuple[str, str, str]] = set()  # the slot rows this claim holds locked
    rows, parked = _claim_round(db, params, locked)
    for _ in range(MAX_CLAIM_ROUNDS - 1):
        if not parked:
            break
        more, parked = _claim_round(db, {**params, "limit": parked}, locked)
        rows += more
    return rows


MAX_CLAIM_ROUNDS = 4


def _claim_round(
    db: Session, params: dict[str, Any], locked: set[tuple[str, str, str]]
) -> tuple[list[Sequence[Any]], int]:
    """One round of a claim: the rows it leased, and how many runs it parked. PostgreSQL locks
    and leases them in one statement, but a keyed run without a slot only once it gets one
    (``take_slots``); SQLite chooses them first (``runs_due``), takes the slots of the keyed
    ones, then leases them by id, in the same transaction of its single writer."""
    if db.dialect == "postgres":
        rows = db.run("claim_runs", params).fetchall()
        held = [(r[0], r[6], r[1], r[13], r[14]) for r in rows if r[12]]
        if not held:
            return [r[:12] for r in rows], 0
        held, deferred = _in_lock_order(held, locked)
        granted, parked = take_slots(db, held)
        if deferred:  # left pending: every worker claims again at once, in a new transaction
            db.runnable = True
        ids = orjson.dumps(sorted(granted)).decode()
        leased = {row[0]: row for row in db.run("claim_ids", {**params, "ids": ids})}
        chosen = [(*leased[r[0]], r[10], r[11]) if r[12] else r[:12]
                  for r in rows if not r[12] or r[0] in leased]  # fmt: skip
        return chosen, 0 if deferred else len(parked)
    due = db.run("runs_due", params).fetchall()
    if not due:
        return [], 0
    held = [(r[0], r[3], r[4], r[5], r[6]) for r in due if r[5] is not None]
    granted, parked = take_slots(db, held) if held else (set(), [])
    chosen = [r for r in due if r[5] is None or r[0] in granted]
    if not chosen:
        return [], len(parked)
    ids = orjson.dumps([row[0] for row in chosen]).decode()
    leased = {row[0]: row for row in db.run("claim_runs", {**params, "ids": ids})}
    return [(*leased[r[0]], r[1], r[2]) for r in chosen if r[0] in leased], len(parked)


def _in_lock_order(
    held: list[tuple[Any, ...]], locked: set[tuple[str, str, str]]
) -> tuple[list[tuple[Any, ...]], bool]:
    """The runs of ``held`` whose slot rows a later round of a PostgreSQL claim may lock: rows
    it holds already, or sorting after all of them (each claim then locks slot rows in one
    order, so two claims never wait on each other in a cycle); and whether some were left."""
    top = max(locked) if locked else None
    keep = [h for h in held if top is None or (h[1], h[2], h[3]) in locked
            or (h[1], h[2], h[3]) > top]  # fmt: skip
    locked.update((h[1], h[2], h[3]) for h in keep)
    return keep, len(keep) < len(held)


def _claimed(row: Sequence[Any], steps: list[StepRecord]) -> ClaimedRun:
    """A row of ``claim_runs`` (its columns in order, then ``ready_at`` and ``reclaimed``)."""
    id, workflow, input, fence, created_at, deadline_at, org, workflow_id, version = row[:9]
    return ClaimedRun(id, workflow, input, fence, created_at, deadline_at, steps, org,
                      workflow_id, version, ready_at=row[10], reclaimed=bool(row[11]),
                      trace_context=row[9])  # fmt: skip
