"""Schedules: cron ticks that start runs of a workflow, each tick exactly once across workers.

A schedule belongs to a workflow; it fires only while the workflow is Activated (pausing the
workflow pauses its schedules). The worker calls :meth:`ScheduleService.tick` on each turn: the
store keeps each schedule's ``next_fire_at``, :func:`due_ticks` says which ticks are due, and the
store's ``fire_schedule`` fires each of them exactly once across workers. When ticks fall is
``plait.service.cron``'s business (cron expressions in a time zone, daylight saving).

Missed ticks (the engine was down, or every worker was busy) are handled by ``catchup``:
``"skip"`` fires only the most recent missed tick, so a schedule that was down for a day runs
once on its return, not never and not 24 times; ``"all"`` fires every missed tick, but at most
the ``max_catchup`` most recent ones.

A schedule may name who hears of its runs (``notifications``: ``onStart`` and ``onComplete``
recipients, brief 001); ``plait.service.notifications`` says how they are told. The brief's
``cronExpression`` is accepted for ``cron``.
"""

from __future__ import annotations

import logging
from itertools import islice, takewhile
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

import orjson
from croniter import CroniterBadDateError

from plait import values
from plait.errors import NotFound
from plait.ids import new_id
from plait.service.audit import audited
from plait.service.cron import ScheduleInvalid, rule
from plait.service.pages import check_limit, keyset_after, keyset_slice
from plait.store.records import DECLARED_SCHEDULE_PREFIX, ScheduleRecord
from plait.worker.worker import database_fault

if TYPE_CHECKING:
    from plait.resources.schedules import Schedule, SchedulePage, ScheduleTicks
    from plait.service.deps import Deps
    from plait.store.records import WorkflowRecord

Catchup = Literal["skip", "all"]
"""What a schedule does with ticks it missed: fire the latest one, or all of them (bounded)."""

CATCHUP: tuple[Catchup, ...] = get_args(Catchup)

log = logging.getLogger(__name__)

MAX_CATCHUP_LIMIT = 1000
"""The largest ``max_catchup`` a schedule may have."""

MAX_TICKS_SHOWN = 50
"""The most fired and upcoming ticks :meth:`ScheduleService.ticks` returns of each."""


class ScheduleService:
    """``engine.schedules``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def create(self, org: str, body: dict[str, Any], *, declared: bool = False) -> Schedule:
        """``{workflow, cron | cronExpression, timezone?, catchup?, maxCatchup?, input?,
        notifications?}`` -> the schedule. It is enabled only while its workflow is Activated.

        Raises:
            ScheduleInvalid: the expression, time zone, catch-up policy, input or
                notifications are invalid.
            UnknownWorkflow: ``org`` has no such workflow.
        """
        workflow = str(body.get("workflow", "")) if isinstance(body, dict) else ""
        async with audited(self.deps, org, "create", "schedule", "-") as change:
            change.details = {"workflow": workflow}
            created = await self._create(org, body, declared)
            change.resource_id = created.id
            return created

    async def _create(self, org: str, body: dict[str, Any], declared: bool) -> Schedule:
        store = await self.deps.store()
        from plait.service.workflows import stored_workflow  # loaded on first use

        record = await stored_workflow(store, org, str(body.get("workflow", "")))
        schedule = new_schedule(
            org, record.id, cron_of(body), timezone=body.get("timezone", "UTC"),
            catchup=body.get("catchup", "skip"), max_catchup=_int(body.get("maxCatchup", 10)),
            input=body.get("input"), enabled=record.status == "Activated", declared=declared,
            now=self.deps.now(), notifications=body.get("notifications"),
        )  # fmt: skip
        from plait.resources.schedules import Schedule

        created = await store.create_schedule(schedule)
        self.deps.local.wake()  # its first tick may come before this worker's next wake time
        return Schedule.of(created)

    async def find(
        self, org: str, workflow: str | None = None, *, limit: int = 100,
        cursor: str | None = None,
    ) -> SchedulePage:  # fmt: skip
        """Schedules of ``org`` (of one workflow, by id or name, if given), oldest first, a page
        at a time."""
        check_limit(limit)
        after = keyset_after(cursor, "schedules", (float, str))
        store = await self.deps.store()
        rows = await store.page_schedules(org, await self._id(org, workflow), after, limit + 1)
        shown, next_cursor = keyset_slice(rows, limit, "schedules", lambda s: [s.created_at, s.id])
        from plait.resources.schedules import Schedule, SchedulePage

        return SchedulePage(items=[Schedule.of(s) for s in shown], next_cursor=next_cursor)

    async def ticks(
        self, org: str, schedule_id: str, *, fired: int = 5, upcoming: int = 5
    ) -> ScheduleTicks:
        """The last ``fired`` ticks of a schedule of ``org`` (newest first, with the run each
        started and its status) and its next ``upcoming`` ticks (none while it is paused);
        ``NotFound`` if ``org`` has no schedule with that id."""
        for name, count in (("fired", fired), ("upcoming", upcoming)):
            if isinstance(count, bool) or not isinstance(count, int):
                raise ScheduleInvalid(f"{name} must be an integer, not {count!r}", name)
            if not 0 <= count <= MAX_TICKS_SHOWN:
                raise ScheduleInvalid(f"{name} must be between 0 and {MAX_TICKS_SHOWN}", name)
        store = await self.deps.store()
        schedule = await store.get_schedule(org, schedule_id)
        if schedule is None:
            raise NotFound(f"no schedule {schedule_id!r}")
        fires = await store.schedule_fires(org, schedule_id, fired) if fired else []
        from plait.resources.base import required_stamp
        from plait.resources.schedules import ScheduleFire, ScheduleTicks

        shown = [ScheduleFire(tick=required_stamp(f.tick_at), fired_at=required_stamp(f.fired_at),
                              run_id=f.run_id, status=f.status, outcome=f.outcome)
                 for f in fires]  # fmt: skip
        nexts = upcoming_ticks(schedule, upcoming) if schedule.enabled else []
        return ScheduleTicks(schedule=schedule.id, fired=shown,
                             upcoming=[required_stamp(t) for t in nexts])  # fmt: skip

    async def _id(self, org: str, workflow: str | None) -> str | None:
        if workflow is None:
            return None
        from plait.service.workflows import stored_workflow

        return (await stored_workflow(await self.deps.store(), org, workflow)).id

    async def delete(self, org: str, schedule_id: str) -> None:
        """Delete a schedule of ``org``; ``NotFound`` if it has none with that id."""
        async with audited(self.deps, org, "delete", "schedule", schedule_id):
            store = await self.deps.store()
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
                org, "", cron_of(item), timezone=item.get("timezone", "UTC"),
                catchup=item.get("catchup", "skip"), max_catchup=_int(item.get("maxCatchup", 10)),
                input=item.get("input"), now=self.deps.now(),
                notifications=item.get("notifications"),
            )  # fmt: skip

    async def replace_declared(self, org: str, record: WorkflowRecord) -> None:
        """After an update of the workflow's ``schedule``: delete the schedules its document
        declared and create the new ones (none if ``schedule`` was removed). Schedules created
        on their own stay. A Draft gets its declared schedules when it is activated."""
        store = await self.deps.store()
        for schedule in await store.list_schedules(org, record.id):
            if schedule.declared:
                await store.delete_schedule(org, schedule.id)
        if record.status in ("Activated", "Paused"):
            await self.attach(org, record)

    async def set_workflow_enabled(self, org: str, record: WorkflowRecord, enabled: bool) -> None:
        """Pause or resume the schedules of a workflow; a resumed one next fires at its first
        tick after now (the ticks it missed while paused are not caught up)."""
        store = await self.deps.store()
        existing = await store.list_schedules(org, record.id)
        if enabled and not any(s.declared for s in existing):
            await self.attach(org, record)
        now = self.deps.now()
        await store.set_schedules_enabled(org, record.id, enabled,
                                          next_fire=lambda s: next_tick(s, now))  # fmt: skip

    async def forget_workflow(self, org: str, workflow_id: str) -> None:
        store = await self.deps.store()
        await store.delete_schedules_of(org, workflow_id)

    async def tick(self, now: float) -> Ticked:
        """Fire every due tick once.

        Each schedule fires on its own: an unexpected error in one (an odd stored row its
        expression or input cannot be read from) is logged with the schedule's id and skipped
        this turn, and the others fire. A database fault ends the turn (raised, for the worker
        to retry)."""
        store = await self.deps.store()
        started, skipped = 0, []
        for schedule in await store.due_schedules(now, 100):
            try:
                ticks, new_next = due_ticks(schedule, now)
                input = values.encode([schedule.input])
                fired = await store.fire_schedule(schedule, ticks, new_next, input, now)
            except Exception as exc:
                if database_fault(exc):
                    raise
                log.exception("schedule %s: firing failed; skipped this turn", schedule.id)
                skipped.append(schedule.id)
                continue
            started += sum(1 for _, run_id in fired if run_id)
        return Ticked(started, tuple(skipped))


class Ticked(NamedTuple):
    """What a turn of :meth:`ScheduleService.tick` did."""

    started: int
    """Runs started."""
    skipped: tuple[str, ...]
    """Ids of the due schedules that failed to fire (logged; tried again on the next turn)."""


# -- the rules of a schedule ----------------------------------------------------------------------


def new_schedule(
    org: str,
    workflow_id: str,
    cron: str,
    *,
    timezone: str = "UTC",
    catchup: str = "skip",
    max_catchup: int = 10,
    input: Any = None,
    enabled: bool = True,
    declared: bool = False,
    now: float,
    notifications: Any = None,
) -> ScheduleRecord:
    """A new schedule, checked, whose first tick is the first one strictly after ``now``.

    A ``declared`` schedule is one the workflow's document declares (``schedule``): its id
    starts with ``schedule_def_``, and updating the workflow replaces it; the others were created
    on their own (API, CLI) and stay until deleted.

    Raises:
        ScheduleInvalid: the expression, time zone, catch-up policy, input or notifications
            are invalid, or the expression never fires (``0 0 30 2 *``).
    """
    from plait.service.notifications import read_notifications

    told = read_notifications(notifications)
    if not isinstance(cron, str):
        raise ScheduleInvalid(f"cron must be a string, not {cron!r}", "cron")
    if not isinstance(timezone, str):
        raise ScheduleInvalid(f"timezone must be a string, not {timezone!r}", "timezone")
    expression = " ".join(cron.split())
    parsed = rule(expression, timezone)
    if catchup not in CATCHUP:
        raise ScheduleInvalid(f"catchup must be 'skip' or 'all', not {catchup!r}", "catchup")
    _check_max_catchup(max_catchup)
    try:
        first = parsed.next_after(now)
    except CroniterBadDateError as exc:
        raise ScheduleInvalid(f"cron expression {expression!r} never fires", "cron") from exc
    prefix = DECLARED_SCHEDULE_PREFIX.rstrip("_") if declared else "schedule"
    return ScheduleRecord(
        id=new_id(prefix, 8), org=org, workflow_id=workflow_id, cron=expression,
        timezone=timezone, catchup=catchup, max_catchup=max_catchup, input=_json(input),
        enabled=enabled, next_fire_at=first, created_at=now, notifications=told,
    )  # fmt: skip


def next_tick(schedule: ScheduleRecord, after: float) -> float:
    """The schedule's first tick strictly after ``after`` (to resume a paused schedule)."""
    return rule(schedule.cron, schedule.timezone).next_after(after)


def upcoming_ticks(schedule: ScheduleRecord, count: int) -> list[float]:
    """The schedule's next ``count`` ticks, soonest first, from its ``next_fire_at``."""
    if count <= 0:
        return []
    following = rule(schedule.cron, schedule.timezone).walk(schedule.next_fire_at, 1)
    return [schedule.next_fire_at, *islice(following, count - 1)]


def due_ticks(schedule: ScheduleRecord, now: float) -> tuple[list[float], float]:
    """The ticks to fire at ``now``, oldest first, and the schedule's new ``next_fire_at``.

    Not due (``now < next_fire_at``): ``([], next_fire_at)``. Otherwise the ticks from
    ``next_fire_at`` up to ``now`` inclusive were missed: ``"skip"`` fires the most recent one,
    ``"all"`` the ``max_catchup`` most recent ones. The new ``next_fire_at`` is the first tick
    strictly after ``now``.
    """
    if now < schedule.next_fire_at:
        return [], schedule.next_fire_at
    parsed = rule(schedule.cron, schedule.timezone)
    following = parsed.next_after(now)
    limit = 1 if schedule.catchup == "skip" else schedule.max_catchup
    # Walking back from the next tick visits exactly the ticks at or before now, newest first.
    missed = takewhile(lambda tick: tick >= schedule.next_fire_at, parsed.walk(following, -1))
    return list(islice(missed, limit))[::-1], following


def cron_of(body: dict[str, Any]) -> str:
    """The expression of ``cron``, or of the brief's ``cronExpression`` (both: the same)."""
    cron, written = body.get("cron"), body.get("cronExpression")
    if cron is not None and written is not None and cron != written:
        raise ScheduleInvalid(f"cron {cron!r} and cronExpression {written!r} differ: give one",
                              "cronExpression")  # fmt: skip
    value = cron if cron is not None else written
    return "" if value is None else value


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


def _check_max_catchup(value: int) -> None:
    _int(value)
    if not 1 <= value <= MAX_CATCHUP_LIMIT:
        raise ScheduleInvalid(
            f"maxCatchup must be between 1 and {MAX_CATCHUP_LIMIT}, not {value}", "maxCatchup"
        )


def _json(value: Any) -> Any:
    """``value`` as it will come back from storage (a tuple becomes a list)."""
    try:
        return orjson.loads(values.encode(value))
    except TypeError as exc:
        reason = f"input cannot be stored as JSON: {values.offending_type(value)} ({exc})"
        raise ScheduleInvalid(reason, "input") from exc
