"""A schedule as every interface shows it: a cron expression in a time zone that starts runs of
a workflow; pages of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp
from plait.store.records import ScheduleRecord


class Notifications(Resource):
    """Who hears of a schedule's runs: mailed with ``PLAIT_SMTP_URL`` set, else told by a
    ``Schedule.notification`` event."""

    on_start: list[str] = Field(default_factory=list, description="Told when a run starts.")
    on_complete: list[str] = Field(
        default_factory=list, description="Told when a run ends, with its outcome."
    )


class Schedule(Resource):
    """A schedule of a workflow. It fires only while the workflow is Activated."""

    id: str = Field(alias="$id")
    type: Literal["Schedule"] = Field("Schedule", alias="$type")
    workflow: str = Field(description="The workflow's id.")
    cron: str = Field(description="5 or 6 fields, e.g. ``0 9 * * 1-5``.")
    timezone: str
    catchup: Literal["skip", "all"]
    max_catchup: int = Field(description="Most missed ticks fired by catch-up.")
    input: Any = None
    enabled: bool
    declared: bool = Field(
        description="Declared by the workflow's ``schedule`` (replaced when it changes)."
    )
    notifications: Notifications = Field(
        default_factory=lambda: Notifications(),
        description="Who is told when a run it started starts and when it ends.",
    )
    next_fire_at: Stamp
    created_at: Stamp

    @classmethod
    def of(cls, s: ScheduleRecord) -> Schedule:
        return cls(
            id=s.id, workflow=s.workflow_id, cron=s.cron, timezone=s.timezone,
            catchup=s.catchup, max_catchup=s.max_catchup, input=s.input, enabled=s.enabled,
            declared=s.declared, next_fire_at=required_stamp(s.next_fire_at),
            created_at=required_stamp(s.created_at),
            notifications=Notifications(on_start=s.notifications.get("onStart", []),
                                        on_complete=s.notifications.get("onComplete", [])),
        )  # fmt: skip


class SchedulePage(Page[Schedule]):
    """Schedules, oldest first, a page at a time."""


class ScheduleFire(Resource):
    """A tick a schedule fired, and the run it started (none when its workflow could not run
    then: Paused, Archived)."""

    tick: Stamp = Field(description="When the tick fell.")
    fired_at: Stamp = Field(description="When a worker fired it (later after a catch-up).")
    run_id: str | None = None
    status: str | None = Field(None, description="The status of the run now.")
    outcome: str | None = Field(None, description="How the run ended (null while it runs).")


class ScheduleTicks(Resource):
    """A schedule's last fired ticks (newest first) and its next ones (soonest first)."""

    schedule: str = Field(description="The schedule's id.")
    fired: list[ScheduleFire]
    upcoming: list[Stamp] = Field(
        description="The next ticks, from ``nextFireAt``; empty while the schedule is paused "
        "(it fires only while its workflow is Activated)."
    )
