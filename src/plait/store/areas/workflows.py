"""SQLite verbs of the workflow registry and of event dispatch (mixed into ``SQLiteStore``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from plait.errors import WorkflowNameTaken
from plait.store.areas.base import Area
from plait.store.areas.core import (
    _event,
    _fenced,
    _fetch_event,
    _insert_event,
    _run,
    _step_params,
)
from plait.store.areas.counters import Counters
from plait.store.records import (
    TRIGGER_EVENT_KEY,
    Decision,
    Dispatched,
    EventRecord,
    EventRouter,
    RunRecord,
    RunToStart,
    StepRecord,
    TriggerCandidate,
    WaitCandidate,
    WorkflowRecord,
    WorkflowVersion,
    event_value,
)
from plait.store.session import Conflict, Session


class WorkflowsArea(Area):
    """Registry verbs; ``_router`` and ``_on_runnable`` are given to the backend's constructor."""

    _router: EventRouter | None
    _on_runnable: Callable[[], None] | None
    _counters: Counters  # set by the backend: the write transaction's counter deltas

    # -- registry -------------------------------------------------------------------------------

    async def create_workflow(
        self, record: WorkflowRecord, definition: dict[str, Any], triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Insert a workflow with its version 1 and its triggers, atomically.

        Raises ``WorkflowNameTaken`` if the organization already has a workflow of that name.
        """
        params = _record_params(record)

        def op(db: Session) -> None:
            if db.run("insert_workflow", params).rowcount != 1:
                raise WorkflowNameTaken(record.name)
            _insert_version(db, record, definition)
            _set_triggers(db, record.org, record.id, triggers)

        await self._submit(op)
        return record

    async def update_workflow(
        self,
        org: str,
        workflow_id: str,
        expected_version: int,
        document: dict[str, Any],
        definition: dict[str, Any],
        triggers: Sequence[str],
        now: float,
    ) -> WorkflowRecord | None:
        """Store a new immutable version if the current one is still ``expected_version``.

        Returns the workflow as updated, or ``None`` when it changed meanwhile (or is gone).
        """
        name = str(definition.get("name"))

        def op(db: Session) -> WorkflowRecord | None:
            params = {"org": org, "id": workflow_id, "expected": expected_version, "name": name,
                      "document": _dumps(document), "now": now}  # fmt: skip
            try:
                row = db.run("update_workflow", params).fetchone()
            except Conflict as exc:
                raise WorkflowNameTaken(name) from exc
            if row is None:
                return None
            record = _fetch(db, org, workflow_id)
            assert record is not None
            _insert_version(db, record, definition)
            _set_triggers(db, org, workflow_id, triggers)
            return record

        updated: WorkflowRecord | None = await self._submit(op)
        return updated

    async def set_workflow_status(
        self, org: str, workflow_id: str, from_statuses: Sequence[str], to: str, now: float
    ) -> tuple[WorkflowRecord | None, bool]:
        """Compare-and-set the status; return the workflow and whether it changed."""
        params = {"org": org, "id": workflow_id, "to_status": to, "now": now,
                  "from_statuses": _dumps(list(from_statuses))}  # fmt: skip

        def op(db: Session) -> tuple[WorkflowRecord | None, bool]:
            changed = db.run("set_status", params).rowcount == 1
            return _fetch(db, org, workflow_id), changed

        result: tuple[WorkflowRecord | None, bool] = await self._submit(op)
        return result

    async def upsert_code_workflow(
        self, record: WorkflowRecord, triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Register (or refresh) a code workflow: read-only, no versions, its triggers."""

        def op(db: Session) -> WorkflowRecord:
            existing = _fetch(db, record.org, record.name)
            if existing is None:
                db.run("insert_workflow", _record_params(record))
                _set_triggers(db, record.org, record.id, triggers)
                return record
            if existing.kind == "code":
                _set_triggers(db, record.org, existing.id, triggers)
            return existing

        stored: WorkflowRecord = await self._submit(op)
        return stored

    async def delete_workflow(self, org: str, workflow_id: str) -> bool:
        """Delete a workflow with its versions, triggers and debounces (its runs stay)."""
        params = {"org": org, "id": workflow_id}

        def op(db: Session) -> bool:
            for query in ("delete_triggers", "delete_versions", "delete_debounces"):
                db.run(query, params)
            return bool(db.run("delete_workflow", params).rowcount)

        deleted: bool = await self._submit(op)
        return deleted

    async def get_workflow(self, org: str, ref: str) -> WorkflowRecord | None:
        """A workflow by id or name."""
        found: WorkflowRecord | None = await self._read(lambda db: _fetch(db, org, ref))
        return found

    async def get_workflow_version(
        self, org: str, workflow_id: str, version: int
    ) -> WorkflowVersion | None:
        params = {"org": org, "id": workflow_id, "version": version}
        row = await self._one("get_version", params)
        if row is None:
            return None
        return WorkflowVersion(row[0], row[1], row[2], orjson.loads(row[3]),
                               orjson.loads(row[4]), row[5])  # fmt: skip

    async def get_event(self, org: str, event_id: str) -> EventRecord | None:
        """One event of ``org`` by id."""
        row = await self._one("get_event", {"org": org, "id": event_id})
        return None if row is None else _event(row)

    async def list_workflows(self, org: str) -> list[WorkflowRecord]:
        """Every workflow of ``org``, oldest first (the service filters, sorts and pages)."""
        return [
            _workflow(row)
            for row in await self._read(
                lambda db: db.run("list_workflows", {"org": org}).fetchall()
            )
        ]

    async def page_runs(
        self, org: str, workflow: str | None, status: str | None,
        after: tuple[float, str] | None, limit: int,
    ) -> list[RunRecord]:  # fmt: skip
        """Up to ``limit`` runs of ``org``, newest first, after the keyset ``(created_at, id)``
        of the previous page's last run (steps omitted)."""
        params = {"org": org, "workflow": workflow, "status": status, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_id": after[1] if after else None}  # fmt: skip
        return [_run(row) for row in await self._all("page_runs", params)]

    async def page_events(
        self, org: str, type: str | None, after_seq: int | None, limit: int
    ) -> list[tuple[int, EventRecord]]:
        """Up to ``limit`` events of ``org`` with their ``seq``, newest first, before
        ``after_seq`` (the previous page's last)."""
        params = {"org": org, "type": type, "after_seq": after_seq, "limit": limit}
        return [(int(row[0]), _event(row[1:])) for row in await self._all("page_events", params)]

    # -- waits ----------------------------------------------------------------------------------

    async def add_event_wait(
        self, org: str, event_type: str, run_id: str, step_key: str, match: str | None,
        now: float,
    ) -> None:  # fmt: skip
        """Register that a run's step waits for events of ``event_type``."""
        params = {"org": org, "event_type": event_type, "run_id": run_id, "step_key": step_key,
                  "match": match, "scope": None, "now": now}  # fmt: skip
        await self._submit(lambda db: db.run("insert_wait", params))

    async def record_wait(
        self, run_id: str, fence: int, step: StepRecord, org: str, event_type: str,
        match: str | None, scope: bytes | None = None,
    ) -> None:  # fmt: skip
        """Record a waiting step and register its wait in one transaction (fenced)."""
        params = {**_step_params(run_id, step), "fence": fence}
        wait = {"org": org, "event_type": event_type, "run_id": run_id, "step_key": step.key,
                "match": match, "scope": None if scope is None else scope.decode(),
                "now": step.started_at}  # fmt: skip

        def op(db: Session) -> None:
            _fenced(db, "upsert_step", params)
            db.run("insert_wait", wait)

        await self._submit(op)

    async def remove_event_wait(self, run_id: str, step_key: str) -> None:
        params = {"run_id": run_id, "step_key": step_key}
        await self._submit(lambda db: db.run("delete_wait", params))

    async def emit(
        self, org: str, type: str, data: bytes, *, event_id: str | None, source: str,
        now: float, run_id: str | None = None,
    ) -> tuple[EventRecord, bool, Dispatched]:  # fmt: skip
        """Store an event once per id and dispatch it, in one transaction.

        Returns the event (the stored one for a repeated id), whether it is new, and the runs it
        started or resumed (none for a repeated id).
        """
        from plait.ids import new_id

        event = EventRecord(event_id or new_id("event"), org, type, data, source, run_id, now)

        def op(db: Session) -> tuple[EventRecord, bool, Dispatched]:
            if not _insert_event(db, event):
                stored = _fetch_event(db, org, event.id)
                assert stored is not None
                return stored, False, Dispatched()
            return event, True, self._dispatch(db, event)

        result: tuple[EventRecord, bool, Dispatched] = await self._submit(op)
        return result

    # -- dispatch (inside the transaction that stores an event) ---------------------------------

    def _store_event(self, db: Session, event: EventRecord) -> bool:
        """Insert ``event``; if it is new, let the router start runs and resume waits."""
        if not _insert_event(db, event):
            return False
        self._dispatch(db, event)
        return True

    def _dispatch(self, db: Session, event: EventRecord) -> Dispatched:
        done = Dispatched()
        if self._router is None:
            return done
        params = {"org": event.org, "type": event.type}
        triggers = [TriggerCandidate(r[0], r[1], r[2], r[3], orjson.loads(r[4] or "{}"))
                    for r in db.run("trigger_candidates", params)]  # fmt: skip
        waits = [WaitCandidate(r[0], r[1], r[2], orjson.loads(r[3]) if r[3] else None)
                 for r in db.run("wait_candidates", params)]  # fmt: skip
        if not triggers and not waits:
            return done
        decision: Decision = self._router.route(event, triggers, waits)
        for start in decision.starts:
            done.runs.append(self._start_run(db, event, start))
        for wait in decision.resolves:
            if _resolve_wait(db, event, wait):
                done.resumed.append(wait.run_id)
        for delivery in decision.deliveries:
            outcome, run_id = self._deliver_machine_event(db, event, delivery)
            if outcome == "created" and run_id is not None:
                done.runs.append(run_id)
            elif outcome == "delivered" and run_id is not None:
                done.resumed.append(run_id)
        if done.runs or done.resumed:
            self._runnable = True
        return done

    def _notify_runnable(self) -> None:
        if self._runnable:
            self._runnable = False
            if self._on_runnable is not None:
                self._on_runnable()

    def start_scheduled_run(
        self, db: Session, org: str, workflow_id: str, run_id: str, input: bytes,
        now: float,
    ) -> str | None:  # fmt: skip
        """Inside a schedule tick's transaction: start a run of the workflow's current version,
        if it is Activated; return the run id (None when the workflow cannot run now)."""
        row = db.run("get_workflow_head", {"org": org, "ref": workflow_id}).fetchone()
        if row is None or row[4] != "Activated":
            return None
        version = row[5] if row[3] == "definition" else None
        start = RunToStart(run_id, workflow_id, row[2], version, input)
        event = EventRecord("", org, "", b"{}", "schedule", None, now)
        self._insert_run(db, event, start, "pending", None, trigger="schedule")
        self._runnable = True
        return run_id

    def _workflow_started(self, db: Session, org: str, workflow_id: str | None) -> None:
        if workflow_id is not None:  # written at the end of the transaction (counters.py)
            self._counters.started(org, workflow_id)

    def _run_ended(self, db: Session, run_id: str, status: str, now: float) -> None:
        """Move the counters of the run's workflow (same transaction as the run's end)."""
        row = db.run("run_workflow_ref", {"run_id": run_id}).fetchone()
        if row is not None and row[1] is not None:
            self._counters.ended(row[0], row[1], status, now)

    def _run_reopened(self, db: Session, run_id: str) -> None:
        """Move the counters of a failed run's workflow back (the run is resumed)."""
        row = db.run("run_workflow_ref", {"run_id": run_id}).fetchone()
        if row is not None and row[1] is not None:
            self._counters.reopened(row[0], row[1])

    def _start_run(self, db: Session, event: EventRecord, start: RunToStart) -> str:
        """Start the run ``event`` triggers, or push the event into the run its debounce key
        already has; return the run's id."""
        now = event.created_at
        if start.debounce_key is None:
            self._insert_run(db, event, start, "pending", None)
            return start.run_id
        delay = start.debounce_delay or 0.0
        key = {"org": event.org, "workflow_id": start.workflow_id, "key": start.debounce_key}
        db.run("lock_debounce", key)  # other processes' events with this key wait for ours
        row = db.run("get_debounce", key).fetchone()
        if row is not None:
            params = {"run_id": row[0], "input": start.input, "wake_at": now + delay,
                      "event_id": event.id, "now": now}  # fmt: skip
            if db.run("push_debounced_run", params).rowcount == 1:
                if start.version is None:  # the run now answers to the last event
                    _record_trigger_event(db, event, str(row[0]))
                return str(row[0])
        self._insert_run(db, event, start, "waiting", now + delay)
        db.run("upsert_debounce", {**key, "run_id": start.run_id})
        return start.run_id

    def _insert_run(
        self, db: Session, event: EventRecord, start: RunToStart, status: str,
        wake_at: float | None, trigger: str = "event",
    ) -> None:  # fmt: skip
        """Insert a run that ``event`` (or a schedule tick) starts, counted on its workflow."""
        params = {"id": start.run_id, "org": event.org, "workflow": start.name,
                  "status": status, "input": start.input, "now": event.created_at,
                  "wake_at": wake_at, "workflow_id": start.workflow_id,
                  "version": start.version, "event_id": event.id or None,
                  "trigger": trigger}  # fmt: skip
        if db.run("insert_triggered_run", params).rowcount == 1:
            self._workflow_started(db, event.org, start.workflow_id)
            if trigger == "event" and start.version is None and event.id:
                _record_trigger_event(db, event, start.run_id)


def _record_trigger_event(db: Session, event: EventRecord, run_id: str) -> None:
    """Record the event that started a code workflow's run with the run, as a completed step at
    position -1: durable, and never matched by a call of the workflow when it replays."""
    from plait import values

    step = StepRecord(TRIGGER_EVENT_KEY, -1, "event", "event", "completed", 1,
                      values.encode(event_value(event)), None, event.created_at,
                      event.created_at)  # fmt: skip
    db.run("insert_event_step", _step_params(run_id, step))


def _resolve_wait(db: Session, event: EventRecord, wait: WaitCandidate) -> bool:
    now = event.created_at
    payload = _dumps(event_value(event))
    params = {"run_id": wait.run_id, "step_key": wait.step_key, "output": payload, "now": now}
    if db.run("resolve_wait_step", params).rowcount != 1:
        return False
    db.run("delete_wait", {"run_id": wait.run_id, "step_key": wait.step_key})
    if db.run("wake_waiting_run", {"run_id": wait.run_id, "now": now}).rowcount == 0:
        db.run("hint_running_run", {"run_id": wait.run_id, "now": now})
    return True


def _insert_version(db: Session, record: WorkflowRecord, definition: dict[str, Any]) -> None:
    db.run("insert_version", {
        "org": record.org, "workflow_id": record.id, "version": record.version,
        "document": _dumps(record.document), "definition": _dumps(definition),
        "now": record.updated_at,
    })  # fmt: skip


def _set_triggers(db: Session, org: str, workflow_id: str, types: Sequence[str]) -> None:
    db.run("set_trigger_list", {"org": org, "id": workflow_id, "triggers": _dumps(list(types))})
    db.run("delete_triggers", {"org": org, "id": workflow_id})
    for event_type in types:
        db.run("insert_trigger", {"org": org, "event_type": event_type, "id": workflow_id})


def _record_params(r: WorkflowRecord) -> dict[str, Any]:
    return {"org": r.org, "id": r.id, "name": r.name, "kind": r.kind, "status": r.status,
            "version": r.version, "document": _dumps(r.document), "now": r.created_at}  # fmt: skip


def _fetch(db: Session, org: str, ref: str) -> WorkflowRecord | None:
    row = db.run("get_workflow", {"org": org, "ref": ref}).fetchone()
    return None if row is None else _workflow(row)


def _workflow(row: Sequence[Any]) -> WorkflowRecord:
    values = list(row)
    values[6] = orjson.loads(values[6])
    if len(values) > 14:
        values[14] = orjson.loads(values[14])
    return WorkflowRecord(*values)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
