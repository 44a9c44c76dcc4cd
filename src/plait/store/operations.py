"""Run operations: operators repair runs. Resume a failed run from its failed step, fork a run
from a step into a new run that reuses what came before, retry a run from scratch. Each verb
checks and writes in one transaction, and records who did it in the run's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from plait.errors import RunCompensated, RunNotFound, RunNotResumable, StepNotFound
from plait.store.announcements import announce_start
from plait.store.backend import Backend
from plait.store.counters import run_reopened, workflow_started
from plait.store.records import COMPENSATED, HistoryEntry, Operation
from plait.store.session import Session


class OperationVerbs(Backend):
    """Operations on runs: resume, fork, retry, and their history."""

    async def resume_run(
        self, run_id: str, op: Operation, *, ordered: bool, version: int | None = None
    ) -> list[str]:
        """Make a failed run runnable again from its failed step; return the step keys that
        will run again.

        Recorded steps before the failure are kept. With ordered replay (code workflows) the
        last failed step and every step recorded after it are dropped; with replay by key
        (definitions) the failed, retrying and waiting steps are. A child's wait that runs
        again takes its start step with it, so the step starts a new child (its next attempt)
        rather than reading the end of the one that failed. Recorded deadlines go too, so the
        run's and its groups' timeouts count again from now. ``version`` re-pins a stored
        definition's run to that version. The workflow's counters forget the failure: the run
        counts again when it ends again.

        Raises:
            RunNotFound: no such run.
            RunNotResumable: the run is not ``failed``.
            RunCompensated: its compensations ran (it was rolled back).
        """

        def write(db: Session) -> list[str]:
            status = _run_row(db, run_id)[0]
            if status != "failed":
                raise RunNotResumable(run_id, status)
            if undone := _undone(db, run_id):
                raise RunCompensated(run_id, undone)
            before = {r[0] for r in db.run("step_positions", {"run_id": run_id})}
            waits = {r[0] for r in db.run("child_waits_of_run", {"run_id": run_id})}
            query = "delete_steps_from_last_failure" if ordered else "delete_unfinished_steps"
            db.run(query, {"run_id": run_id})
            db.run("delete_unrecorded_run_metrics", {"run_id": run_id})
            after = {r[0] for r in db.run("step_positions", {"run_id": run_id})}
            _forget_child_starts(db, run_id, waits - after)
            after = {r[0] for r in db.run("step_positions", {"run_id": run_id})}
            db.run("delete_waits_of_run", {"run_id": run_id})
            db.run("reopen_run", {"run_id": run_id, "now": op.now, "version": version})
            run_reopened(db, run_id)
            rerun = sorted(before - after)
            add_history(db, run_id, "resume", op, {"rerun": rerun, "version": version})
            db.runnable = True
            return rerun

        rerun: list[str] = await self._submit(write)
        return rerun

    async def copy_run(
        self,
        run_id: str,
        new_id: str,
        op: Operation,
        *,
        action: str,
        step: str | int | None = None,
        version: int | None = None,
    ) -> list[str]:
        """Start ``new_id``: a run of the same workflow with the same input (trigger
        ``action``, ``fork`` or ``retry``); return the keys of the steps it reuses.

        With ``step`` (a step key, or its 1-based number in the run's step listing) the new
        run reuses the finished steps recorded before it, so it executes from that step on;
        without, it starts from scratch. Both runs' histories record the operation.

        Raises:
            RunNotFound: no such run.
            StepNotFound: the run has no such step.
            RunCompensated: a step the fork would reuse was undone by a compensation.
        """

        def write(db: Session) -> list[str]:
            _run_row(db, run_id)
            position = None if step is None else _position(db, run_id, step)
            if position is not None:
                _check_not_undone(db, run_id, str(step), position)
            params = {"run_id": run_id, "new_id": new_id, "now": op.now, "trigger": action,
                      "version": version}  # fmt: skip
            db.run("insert_copied_run", params)
            # From scratch, only what precedes every step is kept: the trigger event (ctx.event).
            db.run("copy_steps_before", {**params, "position": position or 0})
            reused = [str(r[0]) for r in db.run("step_positions", {"run_id": new_id})]
            _, org, workflow_id, _ = _run_row(db, new_id)
            workflow_started(db, org, workflow_id)
            if workflow_id is not None:
                trigger = {"kind": action, "fromRunId": run_id}
                announce_start(db, org, workflow_id, new_id, trigger, op.now)
            source = {"runId": new_id, "step": step, "reused": len(reused)}
            add_history(db, run_id, action, op, source)
            derived = "forked-from" if action == "fork" else "retried-from"
            add_history(db, new_id, derived, op, {"runId": run_id, "step": step})
            db.runnable = True
            return reused

        reused: list[str] = await self._submit(write)
        return reused

    async def run_history(self, run_id: str) -> list[HistoryEntry]:
        """The operations recorded on a run (cancel, resume, fork, retry), oldest first."""
        rows = await self._all("history_of_run", {"run_id": run_id})
        return [_entry(row) for row in rows]


def add_history(db: Session, run_id: str, action: str, op: Operation,
                detail: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Record an operation on ``run_id`` inside the caller's transaction."""
    params = {"run_id": run_id, "at": op.now, "action": action, "actor": op.actor,
              "reason": op.reason, "detail": orjson.dumps(detail or {}).decode()}  # fmt: skip
    db.run("insert_history", params)


def _forget_child_starts(db: Session, run_id: str, waits: set[str]) -> None:
    """Drop the start steps of the failed child waits ``waits`` (keys ``<start>.result``) that will
    run again: the parent then starts a new child instead of re-reading the failed one."""
    for key in waits:
        if key.endswith(".result"):
            db.run("delete_child_start", {"run_id": run_id, "key": key.removesuffix(".result")})


def _undone(db: Session, run_id: str) -> list[str]:
    """The keys of the steps the run's compensations undid (none if they never ran)."""
    row = db.run("compensated_steps", {"run_id": run_id, "key": COMPENSATED}).fetchone()
    if row is None or row[0] is None:
        return []
    keys = orjson.loads(bytes(row[0]))  # BYTEA may come back as a memoryview
    return [str(k) for k in keys] if isinstance(keys, list) else []


def _check_not_undone(db: Session, run_id: str, step: str, position: int) -> None:
    """Raise ``RunCompensated`` if a step recorded before ``position`` (one a fork would reuse)
    was undone by a compensation."""
    undone = _undone(db, run_id)
    if not undone:
        return
    reused = {str(r[0]) for r in db.run("step_positions", {"run_id": run_id}) if r[1] < position}
    if hit := [key for key in undone if key in reused]:
        raise RunCompensated(run_id, hit, step)


def _run_row(db: Session, run_id: str) -> tuple[str, str, str | None, int | None]:
    """The run's status, organization, workflow id and pinned version."""
    row = db.run("run_for_operation", {"run_id": run_id}).fetchone()
    if row is None:
        raise RunNotFound(run_id)
    return str(row[0]), str(row[1]), row[2], row[3]


def _position(db: Session, run_id: str, step: str | int) -> int:
    """The position of ``step`` (a key, or a 1-based number in the listing) in the run."""
    rows: Sequence[Any] = db.run("step_positions", {"run_id": run_id}).fetchall()
    keys = [str(r[0]) for r in rows]
    if isinstance(step, int) and not isinstance(step, bool):
        if 1 <= step <= len(rows):
            return int(rows[step - 1][1])
    else:
        for key, position, _ in rows:
            if key == step:
                return int(position)
    raise StepNotFound(run_id, str(step), keys)


def _entry(row: Sequence[Any]) -> HistoryEntry:
    detail = orjson.loads(row[4]) if row[4] else {}
    return HistoryEntry(float(row[0]), str(row[1]), row[2], row[3], detail)
