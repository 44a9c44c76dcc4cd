"""Schedules: cron ticks that start runs of a workflow, each tick exactly once across workers.

A schedule belongs to a workflow; it fires only while the workflow is Activated (pausing the
workflow pauses its schedules). The worker calls :meth:`ScheduleService.tick` on each turn.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import NotFound
from plait.schedules import (
    ScheduleInvalid,
    due_ticks,
    is_declared,
    new_schedule,
    resource,
)
from plait.service.pages import Page, check_limit, keyset_after, keyset_page
from plait.store.records import WorkflowRecord

if TYPE_CHECKING:
    from plait.engine import Engine

log = logging.getLogger(__name__)


class ScheduleService:
    """``engine.schedules``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def create(
        self, org: str, body: dict[str, Any], *, declared: bool = False
    ) -> dict[str, Any]:
        """``{workflow, cron, timezone?, catchup?, maxCatchup?, input?}`` -> the schedule. It is
        enabled only while its workflow is Activated."""
        record = await self.engine.workflows._record(org, str(body.get("workflow", "")))
        store = await self.engine.opened_registry()
        schedule = new_schedule(
            org, record.id, str(body.get("cron", "")), timezone=body.get("timezone", "UTC"),
            catchup=body.get("catchup", "skip"), max_catchup=_int(body.get("maxCatchup", 10)),
            input=body.get("input"), enabled=record.status == "Activated", declared=declared,
            now=self.engine.clock.time(),
        )  # fmt: skip
        await store.create_schedule(schedule)
        return resource(schedule)

    async def list(self, org: str, workflow: str | None = None) -> list[dict[str, Any]]:
        """Every schedule of ``org`` (of one workflow if given), oldest first."""
        store = await self.engine.opened_registry()
        return [resource(s) for s in await store.list_schedules(org, await self._id(org, workflow))]

    async def find(
        self, org: str, workflow: str | None = None, *, limit: int = 100,
        cursor: str | None = None,
    ) -> Page:  # fmt: skip
        """Schedules of ``org`` (of one workflow if given), oldest first, a page at a time."""
        check_limit(limit)
        after = keyset_after(cursor, "schedules", (float, str))
        store = await self.engine.opened_registry()
        rows = await store.page_schedules(org, await self._id(org, workflow), after, limit + 1)
        return keyset_page(rows, limit, "schedules", lambda s: [s.created_at, s.id], resource)

    async def _id(self, org: str, workflow: str | None) -> str | None:
        if workflow is None:
            return None
        return (await self.engine.workflows._record(org, workflow)).id

    async def delete(self, org: str, schedule_id: str) -> None:
        store = await self.engine.opened_registry()
        if not await store.delete_schedule(org, schedule_id):
            raise NotFound(f"no schedule {schedule_id!r}")

    async def attach(self, org: str, record: WorkflowRecord) -> None:
        """Create the schedules a workflow's document declares (``schedule: {cron, ...}``, or
        a list of them)."""
        for item in declared_specs(record.document):
            await self.create(org, {**item, "workflow": record.id}, declared=True)

    def check_declared(self, org: str, document: dict[str, Any]) -> None:
        """Raise ``ScheduleInvalid`` if a schedule ``document`` declares is invalid (before the
        document is stored)."""
        for item in declared_specs(document):
            new_schedule(
                org, "", str(item.get("cron", "")), timezone=item.get("timezone", "UTC"),
                catchup=item.get("catchup", "skip"), max_catchup=_int(item.get("maxCatchup", 10)),
                input=item.get("input"), now=self.engine.clock.time(),
            )  # fmt: skip

    async def replace_declared(self, org: str, record: WorkflowRecord) -> None:
        """After an update of the workflow's ``schedule``: delete the schedules its document
        declared and create the new ones (none if ``schedule`` was removed). Schedules created
        on their own stay. A Draft gets its declared schedules when it is activated."""
        store = await self.engine.opened_registry()
        for schedule in await store.list_schedules(org, record.id):
            if is_declared(schedule):
                await store.delete_schedule(org, schedule.id)
        if record.status in ("Activated", "Paused"):
            await self.attach(org, record)

    async def set_workflow_enabled(self, org: str, record: WorkflowRecord, enabled: bool) -> None:
        store = await self.engine.opened_registry()
        existing = await store.list_schedules(org, record.id)
        if enabled and not any(is_declared(s) for s in existing):
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
            input = values.encode([schedule.input])
            fired = await store.fire_schedule(schedule, ticks, new_next, input, now)
            started += sum(1 for _, run_id in fired if run_id)
        return started


def declared_specs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The schedules a workflow document declares: ``schedule`` is an object or a list."""
    spec = document.get("schedule")
    if not spec:
        return []
    specs = spec if isinstance(spec, list) else [spec]
    for item in specs:
        if not isinstance(item, dict):
            raise ScheduleInvalid("schedule must be an object {cron, timezone?, ...}", "cron")
    return specs


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleInvalid(f"maxCatchup must be an integer, not {value!r}", "maxCatchup")
    return value
