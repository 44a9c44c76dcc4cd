"""Schedules: cron ticks that start runs of a workflow, each tick exactly once across workers.

A schedule belongs to a workflow; it fires only while the workflow is Activated (pausing the
workflow pauses its schedules). The worker calls :meth:`ScheduleService.tick` on each turn.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import NotFound
from plait.ids import new_id
from plait.schedules import Schedule, due_ticks, new_schedule, resource
from plait.store.registry import WorkflowRecord
from plait.store.session import Session

if TYPE_CHECKING:
    from plait.engine import Engine

log = logging.getLogger(__name__)


class ScheduleService:
    """``engine.schedules``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create(self, org: str, body: dict[str, Any]) -> dict[str, Any]:
        """``{workflow, cron, timezone?, catchup?, maxCatchup?, input?}`` -> the schedule."""
        record = await self.engine.workflows._record(org, str(body.get("workflow", "")))
        store = await self.engine.opened_registry()
        schedule = new_schedule(
            org, record.id, str(body.get("cron", "")), timezone=body.get("timezone", "UTC"),
            catchup=body.get("catchup", "skip"), max_catchup=int(body.get("maxCatchup", 10)),
            input=body.get("input"), now=self.engine.clock.time(),
        )  # fmt: skip
        if record.status != "Activated":
            schedule = _enabled(schedule, False)
        await store.create_schedule(schedule)
        return resource(schedule)

    async def list(self, org: str, workflow: str | None = None) -> list[dict[str, Any]]:
        store = await self.engine.opened_registry()
        workflow_id = None
        if workflow is not None:
            workflow_id = (await self.engine.workflows._record(org, workflow)).id
        return [resource(s) for s in await store.list_schedules(org, workflow_id)]

    async def delete(self, org: str, schedule_id: str) -> None:
        store = await self.engine.opened_registry()
        if not await store.delete_schedule(org, schedule_id):
            raise NotFound(f"no schedule {schedule_id!r}")

    async def attach(self, org: str, record: WorkflowRecord) -> None:
        """Create the schedule a workflow's document declares (``schedule: {cron, ...}``)."""
        spec = record.document.get("schedule")
        if not spec:
            return
        specs = spec if isinstance(spec, list) else [spec]
        for item in specs:
            await self.create(org, {**item, "workflow": record.id})

    async def set_workflow_enabled(self, org: str, record: WorkflowRecord, enabled: bool) -> None:
        store = await self.engine.opened_registry()
        if enabled and not await store.list_schedules(org, record.id):
            await self.attach(org, record)
        await store.set_schedules_enabled(org, record.id, enabled, now=self.engine.clock.time())

    async def forget_workflow(self, org: str, workflow_id: str) -> None:
        store = await self.engine.opened_registry()
        await store.delete_schedules_of(org, workflow_id)

    async def tick(self, now: float) -> int:
        """Fire every due tick once; return how many runs started."""
        store = await self.engine.opened_registry()
        started = 0
        for schedule in await store.due_schedules(now, 100):
            ticks, new_next = due_ticks(schedule, now)
            start = self._starter(schedule)
            fired = await store.fire_schedule(schedule.id, schedule.next_fire_at, ticks, new_next,
                                              start, now)  # fmt: skip
            started += sum(1 for _, run_id in fired if run_id)
        return started

    def _starter(self, schedule: Schedule) -> Any:
        engine = self.engine

        def start(db: Session, tick: float) -> str | None:
            return engine.registry_store().start_scheduled_run(
                db, schedule.org, schedule.workflow_id, new_id("run"),
                values.encode([schedule.input]), tick,
            )  # fmt: skip

        return start


def _enabled(schedule: Schedule, enabled: bool) -> Schedule:
    from dataclasses import replace

    return replace(schedule, enabled=enabled)
