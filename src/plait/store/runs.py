"""Runs: creating and reading them, and what every other feature does to a run's rows inside
its own transaction (fenced writes, steps, waking a run, inserting a run an event starts)."""

from __future__ import annotations

from typing import Any

import orjson

from plait import values
from plait.errors import LeaseLost
from plait.store.announcements import announce_start, announced
from plait.store.backend import Backend
from plait.store.counters import workflow_started
from plait.store.records import (
    TRIGGER_EVENT_KEY,
    EventRecord,
    MachineEvent,
    NewRun,
    RunRecord,
    RunToStart,
    StepRecord,
    iso_time,
)
from plait.store.session import Session


class RunVerbs(Backend):
    """Creating runs and reading them."""

    async def create_run(
        self, run: NewRun, owner: str | None = None, lease_until: float | None = None
    ) -> tuple[RunRecord, bool]:
        """Insert ``run`` unless a run with its id exists; return it and whether it was created.

        With ``owner`` the new run is created ``running`` under a lease held by that worker
        (fence 1), so the creating process can execute it without a claim round trip.
        Atomic: concurrent creates of one id create it once.
        """
        leased = owner is not None
        status = "running" if leased else "pending"
        started = run.created_at if leased else None
        lease = lease_until if leased else None
        fence = 1 if leased else 0
        params = {
            "id": run.id, "org": run.org, "workflow": run.workflow, "status": status,
            "input": run.input, "trigger": run.trigger, "created_at": run.created_at,
            "started_at": started, "deadline_at": run.deadline_at, "owner": owner,
            "lease_until": lease, "fence": fence, "executions": fence,
            "workflow_id": run.workflow_id, "workflow_version": run.workflow_version,
            "event_id": run.event_id, "trace_context": run.trace_context,
        }  # fmt: skip

        def op(db: Session) -> RunRecord | None:
            if db.run("insert_run", params).rowcount == 1:
                workflow_started(db, run.org, run.workflow_id)
                if run.workflow_id is not None and announced(run.workflow_id, run.trigger):
                    trigger: dict[str, Any] = {"kind": run.trigger}
                    if run.actor is not None:
                        trigger["actor"] = run.actor
                    announce_start(db, run.org, run.workflow_id, run.id, trigger, run.created_at)
                db.runnable = db.runnable or not leased
                return None
            return fetch_run(db, run.id, with_steps=False)

        existing: RunRecord | None = await self._submit(op)
        if existing is not None:
            return existing, False
        record = RunRecord(
            id=run.id, org=run.org, workflow=run.workflow, status=status, input=run.input,
            output=None, error=None, trigger=run.trigger, created_at=run.created_at,
            started_at=started, finished_at=None, updated_at=run.created_at, wake_at=None,
            deadline_at=run.deadline_at, lease_owner=owner, lease_expires_at=lease, fence=fence,
            replays=fence, workflow_id=run.workflow_id,
            workflow_version=run.workflow_version, event_id=run.event_id,
        )  # fmt: skip
        return record, True

    async def live_run_counts(self) -> dict[str, int]:
        """How many runs are pending, running and waiting (every organization)."""
        row = await self._one("live_run_counts")
        return dict(zip(("pending", "running", "waiting"), map(int, row), strict=True))

    async def run_state(self, run_id: str) -> tuple[str, int] | None:
        """The run's status and fence, read without locking."""
        row = await self._one("run_state", {"run_id": run_id})
        return None if row is None else (row[0], row[1])

    async def get_run(self, run_id: str, with_steps: bool = True) -> RunRecord | None:
        """The run (with its steps in call order unless ``with_steps`` is false), or ``None``."""
        record: RunRecord | None = await self._read(
            lambda db: fetch_run(db, run_id, with_steps=with_steps)
        )
        return record

    async def list_runs(
        self, workflow: str | None, status: str | None, limit: int, org: str | None = None
    ) -> list[RunRecord]:
        """Runs newest first, filtered by workflow, status and organization (no steps)."""
        params = {"workflow": workflow, "status": status, "limit": limit, "org": org}
        return [RunRecord(*row) for row in await self._all("list_runs", params)]

    async def page_runs(
        self, org: str, workflow: str | None, status: str | None,
        after: tuple[float, str] | None, limit: int,
    ) -> list[RunRecord]:  # fmt: skip
        """Up to ``limit`` runs of ``org``, newest first, after the keyset ``(created_at, id)``
        of the previous page's last run (steps omitted); one read."""
        params = {"org": org, "workflow": workflow, "status": status, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_id": after[1] if after else None}  # fmt: skip
        return [RunRecord(*row) for row in await self._all("page_runs", params)]


# -- inside a transaction -----------------------------------------------------------------------


def fenced(db: Session, query: str, params: dict[str, Any]) -> None:
    """Run a write that must change the one row of a run held under ``params["fence"]``."""
    if db.run(query, params).rowcount != 1:
        raise LeaseLost(params["run_id"])


def step_params(run_id: str, s: StepRecord) -> dict[str, Any]:
    """The parameters of the queries that write a step."""
    return {
        "run_id": run_id, "key": s.key, "position": s.position, "name": s.name,
        "kind": s.kind, "status": s.status, "attempts": s.attempts, "output": s.output,
        "error": s.error, "started_at": s.started_at, "finished_at": s.finished_at,
        "wake_at": s.wake_at,
    }  # fmt: skip


def steps_by_run(db: Session, run_ids: list[str]) -> dict[str, list[StepRecord]]:
    """The recorded steps of each run, in call order."""
    steps: dict[str, list[StepRecord]] = {}
    params = {"run_ids": orjson.dumps(run_ids).decode()}
    for row in db.run("steps_of_runs", params):
        steps.setdefault(row[0], []).append(StepRecord(*row[1:]))
    return steps


def fetch_run(db: Session, run_id: str, *, with_steps: bool) -> RunRecord | None:
    """The run, or ``None``."""
    row = db.run("get_run", {"run_id": run_id}).fetchone()
    if row is None:
        return None
    record = RunRecord(*row)
    if with_steps:
        record.steps = steps_by_run(db, [run_id]).get(run_id, [])
    return record


def wake(db: Session, run_id: str, now: float) -> None:
    """Make a waiting run runnable; a running one is reclaimed as soon as it suspends."""
    if db.run("wake_waiting_run", {"run_id": run_id, "now": now}).rowcount == 0:
        db.run("hint_running_run", {"run_id": run_id, "now": now})
    db.runnable = True


def wake_parent(db: Session, run_id: str, now: float) -> None:
    """``run_id`` ended: wake its parent, if it has one.

    The parent replays, and each of its steps waiting on a child reads that child's end.
    """
    row = db.run("child_parent", {"run_id": run_id}).fetchone()
    if row is not None and row[0] is not None:
        wake(db, row[0], now)


def insert_started_run(
    db: Session, event: EventRecord, start: RunToStart, status: str,
    wake_at: float | None, trigger: str = "event", detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Insert a run that ``event`` (or a schedule tick) starts, counted on its workflow and
    announced (``detail``: what its ``Workflow.triggered`` says started it, besides the
    event); a code workflow's run started by an event records that event as its first step."""
    params = {"id": start.run_id, "org": event.org, "workflow": start.name,
              "status": status, "input": start.input, "now": event.created_at,
              "wake_at": wake_at, "workflow_id": start.workflow_id,
              "version": start.version, "event_id": event.id or None,
              "trigger": trigger, "trace_context": event.trace_context}  # fmt: skip
    if db.run("insert_triggered_run", params).rowcount == 1:
        workflow_started(db, event.org, start.workflow_id)
        cause = {"kind": trigger, **(detail or {})}
        if event.id:
            cause.update(eventId=event.id, eventType=event.type)
        announce_start(db, event.org, start.workflow_id, start.run_id, cause, event.created_at,
                       event if event.id else None)  # fmt: skip
        if status == "pending":
            db.runnable = True
        if trigger == "event" and start.version is None and event.id:
            record_trigger_event(db, event, start.run_id)


def event_for_runs(event: EventRecord | MachineEvent) -> dict[str, Any]:
    """The event as runs see it: the output of a step that waited for it, a code workflow's
    trigger event, the event beside a definition run's input, an event a state machine took,
    the ``event`` of trigger filters. The store records it in the transaction that stores the
    event, so it is encoded here; the ``Event`` resource is built from it
    (``plait.resources.events``), so it is the one document of an event."""
    return {"$id": event.id, "$type": "Event", "type": event.type,
            "data": orjson.loads(event.data), "source": event.source,
            "createdAt": iso_time(event.created_at)}  # fmt: skip


def record_trigger_event(db: Session, event: EventRecord, run_id: str) -> None:
    """Record the event that started a code workflow's run with the run, as a completed step at
    position -1: durable, and never matched by a call of the workflow when it replays."""
    step = StepRecord(TRIGGER_EVENT_KEY, -1, "event", "event", "completed", 1,
                      values.encode(event_for_runs(event)), None, event.created_at,
                      event.created_at)  # fmt: skip
    db.run("insert_event_step", step_params(run_id, step))
