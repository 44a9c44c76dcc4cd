"""Schedules: a cron expression in a time zone that starts runs of a workflow; the store keeps
each schedule's ``next_fire_at`` and the ticks it fired, so each tick fires once across workers.

Every verb but the poller's (``due_schedules``, ``fire_schedule``) is scoped to one
organization. Schedules are built and checked by ``plait.service.schedules.new_schedule``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from plait import values
from plait.ids import new_id
from plait.store.backend import Backend
from plait.store.records import (
    EventRecord,
    RunToStart,
    ScheduleFireRecord,
    ScheduleRecord,
    iso_time,
)
from plait.store.runs import insert_started_run
from plait.store.session import Session

NOTIFY_WORKFLOW = "plait.notify"
"""The built-in code workflow that sends a schedule's notifications
(``plait.service.notifications``); every worker runs it."""


class ScheduleVerbs(Backend):
    """The schedules of each organization, and firing their ticks."""

    async def create_schedule(self, s: ScheduleRecord) -> ScheduleRecord:
        """Store ``s`` and return it."""
        params = {
            "org": s.org, "id": s.id, "workflow_id": s.workflow_id, "cron": s.cron,
            "timezone": s.timezone, "catchup": s.catchup, "max_catchup": s.max_catchup,
            "input": orjson.dumps(s.input).decode(), "enabled": s.enabled,
            "next_fire_at": s.next_fire_at, "created_at": s.created_at,
            "notifications": orjson.dumps(s.notifications).decode(),
        }  # fmt: skip
        await self._submit(lambda db: db.run("insert_schedule", params))
        return s

    async def get_schedule(self, org: str, id: str) -> ScheduleRecord | None:
        """The schedule of ``org`` with that id, or ``None``."""
        row = await self._one("get_schedule", {"org": org, "id": id})
        return None if row is None else _schedule(row)

    async def list_schedules(
        self, org: str, workflow_id: str | None = None
    ) -> list[ScheduleRecord]:
        """The schedules of ``org`` (of one workflow if given), oldest first."""
        params = {"org": org, "workflow_id": workflow_id}
        return [_schedule(row) for row in await self._all("list_schedules", params)]

    async def page_schedules(
        self, org: str, workflow_id: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[ScheduleRecord]:
        """Up to ``limit`` schedules of ``org`` (of one workflow if given), oldest first, after
        the keyset ``(created_at, id)`` of the previous page's last."""
        params = {"org": org, "workflow_id": workflow_id, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_id": after[1] if after else None}  # fmt: skip
        return [_schedule(row) for row in await self._all("page_schedules", params)]

    async def schedule_fires(self, org: str, id: str, limit: int) -> list[ScheduleFireRecord]:
        """The last ``limit`` ticks the schedule ``id`` of ``org`` fired, newest first, with the
        run each started and its status now (none for another organization's schedule)."""
        params = {"org": org, "schedule_id": id, "limit": limit}
        rows = await self._all("schedule_fires", params)
        return [ScheduleFireRecord(float(r[0]), float(r[1]), r[2], r[3], r[4]) for r in rows]

    async def delete_schedule(self, org: str, id: str) -> bool:
        """Delete a schedule and its fired ticks; ``False`` if ``org`` had no such schedule."""
        params = {"org": org, "id": id}

        def op(db: Session) -> bool:
            db.run("delete_ticks_of_schedule", params)
            return bool(db.run("delete_schedule", params).rowcount)

        deleted: bool = await self._submit(op)
        return deleted

    async def delete_schedules_of(self, org: str, workflow_id: str) -> int:
        """Delete every schedule of a workflow and their fired ticks; return how many."""
        params = {"org": org, "workflow_id": workflow_id}

        def op(db: Session) -> int:
            db.run("delete_ticks_of_workflow", params)
            return int(db.run("delete_schedules_of_workflow", params).rowcount)

        deleted: int = await self._submit(op)
        return deleted

    async def set_schedules_enabled(
        self,
        org: str,
        workflow_id: str,
        enabled: bool,
        *,
        next_fire: Callable[[ScheduleRecord], float] | None = None,
    ) -> int:
        """Pause or resume every schedule of a workflow; return how many changed.

        Pausing a workflow pauses its schedules. A schedule resumed with ``next_fire`` given
        next fires at ``next_fire(schedule)`` (the schedule service gives its first tick after
        now, so the ticks that passed while it was paused are not caught up); without it, it
        keeps its ``next_fire_at`` and its catch-up policy decides. Atomic.
        """
        params = {"org": org, "workflow_id": workflow_id, "enabled": enabled}
        if not enabled or next_fire is None:
            changed: int = await self._submit(
                lambda db: db.run("set_schedules_enabled", params).rowcount
            )
            return changed
        tick = next_fire

        def op(db: Session) -> int:
            paused = [_schedule(r) for r in db.run("paused_schedules_of_workflow", params)]
            nexts = [tick(s) for s in paused]  # may raise: before any write
            for s, next_fire_at in zip(paused, nexts, strict=True):
                keys = {"org": org, "id": s.id, "next_fire_at": next_fire_at}
                db.run("resume_schedule", keys)
            return len(paused)

        resumed: int = await self._submit(op)
        return resumed

    async def due_schedules(self, now: float, limit: int) -> list[ScheduleRecord]:
        """Enabled schedules of every organization with ``next_fire_at <= now``, earliest
        first."""
        params = {"now": now, "limit": limit}
        return [_schedule(row) for row in await self._all("due_schedules", params)]

    async def fire_schedule(
        self,
        schedule: ScheduleRecord,
        ticks: Sequence[float],
        new_next: float,
        input: bytes,
        now: float,
    ) -> list[tuple[float, str]]:
        """Fire ``ticks`` of a due schedule and move its ``next_fire_at`` to ``new_next``.

        Atomic, in one transaction: ``next_fire_at`` is compared and set from the
        ``schedule.next_fire_at`` the caller read to ``new_next``; if another worker already
        moved it, or the schedule was paused or deleted, nothing happens and ``[]`` is returned.
        Otherwise each tick not fired before is recorded (the key ``(schedule_id, tick_at)`` is
        unique) and, once, starts a run of the workflow's current version with ``input``
        (trigger ``schedule``, created at the tick) if the workflow is Activated; a tick of a
        workflow that cannot run now (Paused, Archived, gone) is consumed all the same. A run
        started of a schedule with ``onStart`` recipients starts its notification run too.

        Returns:
            ``(tick, run_id)`` for each tick that started a run, oldest first.
        """
        cas = {"id": schedule.id, "expected_next": schedule.next_fire_at, "new_next": new_next}

        def op(db: Session) -> list[tuple[float, str]]:
            if db.run("advance_schedule", cas).rowcount == 0:
                return []
            fired: list[tuple[float, str]] = []
            for tick in sorted(ticks):
                key = {"schedule_id": schedule.id, "tick_at": tick}
                if db.run("insert_tick", {**key, "now": now}).rowcount == 0:
                    continue
                run_id = _start_tick_run(db, schedule, input, tick)
                if run_id is not None:
                    db.run("set_tick_run", {**key, "run_id": run_id})
                    _notify_start(db, schedule, run_id, tick, now)
                    fired.append((tick, run_id))
            return fired

        result: list[tuple[float, str]] = await self._submit(op)
        return result


def _start_tick_run(db: Session, schedule: ScheduleRecord, input: bytes, tick: float) -> str | None:
    """Start a run of the schedule's workflow at ``tick``, if it is Activated; its id."""
    head = {"org": schedule.org, "ref": schedule.workflow_id}
    row = db.run("get_workflow_head", head).fetchone()
    if row is None or row[4] != "Activated":
        return None
    version = row[5] if row[3] == "definition" else None
    start = RunToStart(new_id("run"), schedule.workflow_id, row[2], version, input)
    event = EventRecord("", schedule.org, "", b"{}", "schedule", None, tick)
    insert_started_run(db, event, start, "pending", None, trigger="schedule",
                       detail={"scheduleId": schedule.id, "tick": iso_time(tick)})  # fmt: skip
    db.runnable = True
    return start.run_id


def _schedule(row: Sequence[Any]) -> ScheduleRecord:
    return ScheduleRecord(
        id=row[0], org=row[1], workflow_id=row[2], cron=row[3], timezone=row[4],
        catchup=row[5], max_catchup=row[6], input=orjson.loads(row[7]), enabled=bool(row[8]),
        next_fire_at=row[9], created_at=row[10], notifications=orjson.loads(row[11]),
    )  # fmt: skip


# -- notifications: a run of NOTIFY_WORKFLOW, started in the transaction of what it tells -------


def _notify_start(
    db: Session, schedule: ScheduleRecord, run_id: str, tick: float, now: float
) -> None:
    """The tick started ``run_id``: tell the schedule's ``onStart`` recipients, if any."""
    recipients = schedule.notifications.get("onStart")
    if recipients:
        row = db.run("get_run", {"run_id": run_id}).fetchone()
        notice = {"event": "start", "schedule": schedule.id, "run": run_id,
                  "workflow": row[2] if row else "", "workflowId": schedule.workflow_id,
                  "at": iso_time(tick), "recipients": recipients}  # fmt: skip
        _start_notification(db, schedule.org, notice, now)


def schedule_run_ended(db: Session, run_id: str, status: str, outcome: str, now: float) -> None:
    """Inside the transaction that ends ``run_id``: if a schedule's tick started it and the
    schedule has ``onComplete`` recipients, start the run that tells them how it ended."""
    row = db.run("schedule_of_run", {"run_id": run_id}).fetchone()
    if row is None:
        return
    org, schedule_id, notifications, workflow, workflow_id, error = row
    recipients = orjson.loads(notifications).get("onComplete")
    if not recipients:
        return
    notice = {"event": "complete", "schedule": schedule_id, "run": run_id,
              "workflow": workflow, "workflowId": workflow_id, "at": iso_time(now),
              "status": status, "outcome": outcome, "error": _error_message(error),
              "recipients": recipients}  # fmt: skip
    _start_notification(db, org, notice, now)


def _start_notification(db: Session, org: str, notice: dict[str, Any], now: float) -> None:
    params = {"id": new_id("run"), "org": org, "workflow": NOTIFY_WORKFLOW,
              "input": values.encode([notice]), "now": now}  # fmt: skip
    db.run("insert_notification_run", params)
    db.runnable = True


def _error_message(error: Any) -> str | None:
    if error is None:
        return None
    decoded = orjson.loads(bytes(error) if isinstance(error, memoryview) else error)
    return str(decoded.get("message", "")) if isinstance(decoded, dict) else str(decoded)
