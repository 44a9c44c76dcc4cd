"""Human tasks: the tasks a person completes, each one waiting step of a run.

A task belongs to one waiting step of a run (``UNIQUE (run_id, step_key)``). Every change of a
task's status is a compare-and-set on ``status = 'open'``, made in the same transaction as what
follows from it (the step's result, the run's wake-up, the ``HumanTask.*`` event), so that of a
completion and an expiry that race exactly one wins and the loser sees the winner's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from plait.errors import LeaseLost
from plait.ids import new_id
from plait.store.backend import Backend
from plait.store.events import store_event
from plait.store.records import (
    Completion,
    EventRecord,
    NewTask,
    StepRecord,
    TaskRecord,
    iso_time,
)
from plait.store.runs import fenced, step_params, wake
from plait.store.session import Session


class TaskVerbs(Backend):
    """Human tasks: create, escalate, expire, complete, list."""

    async def create_task(self, fence: int, step: StepRecord, task: NewTask) -> TaskRecord:
        """Record the run's waiting ``step`` and create ``task`` for it, in one fenced
        transaction, emitting ``HumanTask.created``. An open task that already exists for the
        step is returned unchanged (nothing is emitted twice); if the step's last task has ended
        (the step runs again after a resume), ``task`` is its next attempt."""
        waiting = {**step_params(task.run_id, step), "fence": fence}

        def op(db: Session) -> TaskRecord:
            fenced(db, "upsert_step", waiting)
            created = db.run("task_insert", _new_task_params(task)).rowcount == 1
            stored = _task_of_step(db, task.run_id, task.step_key)
            assert stored is not None
            if created:
                _task_event(db, stored, "created", task_event_data(stored), task.created_at)
            return stored

        stored: TaskRecord = await self._submit(op)
        return stored

    async def open_task_counts(self, now: float) -> tuple[int, int]:
        """How many tasks are open, and how many of them are past their due time."""
        row = await self._one("open_task_counts", {"now": now})
        return int(row[0]), int(row[1])

    async def task_for_step(self, run_id: str, step_key: str) -> TaskRecord | None:
        """The newest task (last attempt) of a run's step, if one was created."""
        found: TaskRecord | None = await self._read(lambda db: _task_of_step(db, run_id, step_key))
        return found

    async def escalate_task(self, fence: int, task: TaskRecord, now: float) -> TaskRecord:
        """Reassign an open, not yet escalated task to its ``escalate_to`` (the run's worker,
        fenced) and emit ``HumanTask.escalated``; return the task as it now is."""
        params = {"org": task.org, "id": task.id, "escalate_to": task.escalate_to, "now": now}

        def op(db: Session) -> TaskRecord:
            _check_fence(db, task.run_id, fence)
            changed = db.run("task_escalate", params).rowcount == 1
            stored = _task(db.run("task_get", params).fetchone())
            if changed:
                data = {"taskId": stored.id, "runId": stored.run_id, "title": stored.title,
                        "workflow": stored.workflow, "from": stored.escalated_from,
                        "to": stored.assignee, "reason": "timeout"}  # fmt: skip
                _task_event(db, stored, "escalated", data, now)
            return stored

        stored: TaskRecord = await self._submit(op)
        return stored

    async def expire_task(
        self, fence: int, task: TaskRecord, error: bytes, now: float
    ) -> TaskRecord:
        """Expire an open task and fail its waiting step with ``error`` (fenced), emitting
        ``HumanTask.expired``; return the task as it now is (a completion may have won)."""
        params = {"org": task.org, "id": task.id, "now": now}
        step = {"run_id": task.run_id, "step_key": task.step_key, "error": error, "now": now}

        def op(db: Session) -> TaskRecord:
            _check_fence(db, task.run_id, fence)
            changed = db.run("task_expire", params).rowcount == 1
            stored = _task(db.run("task_get", params).fetchone())
            if changed:
                db.run("task_fail_step", step)
                _task_event(db, stored, "expired", task_event_data(stored), now)
            return stored

        stored: TaskRecord = await self._submit(op)
        return stored

    async def complete_task(
        self, org: str, task_id: str, assignee: str, answer: Completion
    ) -> tuple[TaskRecord | None, bool]:
        """Complete an open task still assigned to ``assignee``: in one transaction set it
        completed, complete its waiting step with the result, wake the run and emit
        ``HumanTask.completed``. Returns the task as it now is and whether this call completed
        it (False: it was not open, or was reassigned meanwhile; nothing changed)."""
        params = {"org": org, "id": task_id, "assignee": assignee, "decision": answer.decision,
                  "comment": answer.comment, "response": _dumps_or_none(answer.response),
                  "by": answer.by, "via": answer.via, "now": answer.at}  # fmt: skip

        def op(db: Session) -> tuple[TaskRecord | None, bool]:
            changed = db.run("task_complete", params).rowcount == 1
            row = db.run("task_get", params).fetchone()
            if not changed:
                return (None if row is None else _task(row)), False
            stored = _task(row)
            _resume(db, stored, answer.at)
            _task_event(db, stored, "completed", task_event_data(stored), answer.at)
            return stored, True

        result: tuple[TaskRecord | None, bool] = await self._submit(op)
        return result

    async def get_task(self, org: str, task_id: str) -> TaskRecord | None:
        """One task of ``org``."""
        row = await self._one("task_get", {"org": org, "id": task_id})
        return None if row is None else _task(row)

    async def list_tasks(
        self, org: str, assignee: str | None, status: str | None, limit: int,
        after: tuple[float, str] | None = None,
    ) -> list[TaskRecord]:  # fmt: skip
        """Tasks of ``org``, newest first, optionally of one assignee and in one status, after
        the keyset ``(created_at, id)`` of the previous page's last task."""
        params = {"org": org, "assignee": assignee, "status": status, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_id": after[1] if after else None}  # fmt: skip
        return [_task(row) for row in await self._all("task_list", params)]


def _resume(db: Session, task: TaskRecord, now: float) -> None:
    output = orjson.dumps(task.result())
    step = {"run_id": task.run_id, "step_key": task.step_key, "output": output, "now": now}
    db.run("task_resolve_step", step)
    wake(db, task.run_id, now)


def _task_event(db: Session, task: TaskRecord, verb: str, data: dict[str, Any], now: float) -> None:
    event = EventRecord(new_id("event"), task.org, f"HumanTask.{verb}", orjson.dumps(data),
                        "task", task.run_id, now)  # fmt: skip
    store_event(db, event)


def cancel_tasks_of_runs(db: Session, run_ids: Sequence[str], now: float) -> int:
    """Inside the transaction that cancels runs: mark their open tasks ``cancelled``; return
    how many changed."""
    return sum(
        db.run("task_cancel_of_run", {"run_id": run_id, "now": now}).rowcount for run_id in run_ids
    )


def _check_fence(db: Session, run_id: str, fence: int) -> None:
    if db.run("task_run_fenced", {"run_id": run_id, "fence": fence}).fetchone() is None:
        raise LeaseLost(run_id)


def _task_of_step(db: Session, run_id: str, step_key: str) -> TaskRecord | None:
    row = db.run("task_of_step", {"run_id": run_id, "step_key": step_key}).fetchone()
    return None if row is None else _task(row)


def _new_task_params(t: NewTask) -> dict[str, Any]:
    return {
        "org": t.org, "id": t.id, "run_id": t.run_id, "step_key": t.step_key,
        "workflow": t.workflow, "title": t.title, "description": t.description,
        "assignee": t.assignee, "choices": _dumps_or_none(t.choices),
        "form": _dumps_or_none(t.form), "data": _dumps_or_none(t.data), "due_at": t.due_at,
        "escalate_at": t.escalate_at, "escalate_to": t.escalate_to, "now": t.created_at,
    }  # fmt: skip


def _task(row: Sequence[Any]) -> TaskRecord:
    values = list(row)
    for index in (9, 10, 11, 19):  # choices, form, data, response
        values[index] = None if values[index] is None else orjson.loads(values[index])
    return TaskRecord(*values)


def task_document(t: TaskRecord) -> dict[str, Any]:
    """The task as the ``Task`` resource shows it (``plait.resources.tasks`` builds the
    resource from it)."""
    return {
        "$id": t.id, "$type": "HumanTask", "title": t.title, "description": t.description,
        "assignee": t.assignee, "status": t.status, "choices": t.choices, "form": t.form,
        "data": t.data, "dueAt": _iso(t.due_at), "escalateAt": _iso(t.escalate_at),
        "escalateTo": t.escalate_to, "escalatedAt": _iso(t.escalated_at),
        "escalatedFrom": t.escalated_from, "decision": t.decision, "comment": t.comment,
        "response": t.response, "completedBy": t.completed_by,
        "completedVia": t.completed_via, "completedAt": _iso(t.completed_at),
        "attempt": t.attempt, "runId": t.run_id, "stepKey": t.step_key,
        "workflow": t.workflow, "createdAt": iso_time(t.created_at),
        "updatedAt": iso_time(t.updated_at),
    }  # fmt: skip


def task_event_data(t: TaskRecord) -> dict[str, Any]:
    """The data of the ``HumanTask.<verb>`` events: the task's document, plus ``taskId``.
    Encoded here: the store emits these events in the transaction that changes the task."""
    return {**task_document(t), "taskId": t.id}


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else iso_time(seconds)


def _dumps_or_none(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
