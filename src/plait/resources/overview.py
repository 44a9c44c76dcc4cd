"""An organization's overview as every interface shows it (``$type: Overview``): per workflow,
the runs that ended in the last hour and day by outcome, success rates, the day's p95 duration,
the runs live now and the open and overdue tasks; with the organization's runs per minute of
the last hour and per hour of the last day (what the console draws). And an event of the
stream with the runs it started and woke.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp
from plait.resources.events import Event

if TYPE_CHECKING:
    from plait.store.overview import Counted, LoggedEvent, OverviewFigures

SUCCEEDED = ("succeeded", "partial")
"""Outcomes a success rate counts as succeeded (``partial``: succeeded past failed steps)."""


class Ended(Resource):
    """Runs that ended in a window, by outcome. ``successRate`` is the share that succeeded
    (``partial`` included); null when none ended."""

    ended: int = 0
    succeeded: int = 0
    partial: int = 0
    failed: int = 0
    cancelled: int = 0
    success_rate: float | None = None

    @classmethod
    def of(cls, counts: dict[str, int]) -> Ended:
        known = {k: v for k, v in counts.items() if k in ("succeeded", "partial", "failed",
                                                          "cancelled")}  # fmt: skip
        ended = sum(counts.values())
        good = sum(counts.get(k, 0) for k in SUCCEEDED)
        rate = None if ended == 0 else round(good / ended, 6)
        return cls(ended=ended, success_rate=rate, **known)


class Live(Resource):
    """Runs pending, running and waiting now, whenever they were created."""

    pending: int = 0
    running: int = 0
    waiting: int = 0


class OpenTasks(Resource):
    """Human tasks open now, and those of them past their due time."""

    open: int = 0
    overdue: int = 0


class WorkflowOverview(Resource):
    """How one workflow is doing. ``failing`` is its runs that failed in the last hour."""

    workflow: str
    workflow_id: str | None = Field(None, description="The stored workflow's id, if stored.")
    status: str | None = Field(None, description="The stored workflow's status, if stored.")
    last_run_at: Stamp | None = None
    hour: Ended
    day: Ended
    p95_seconds: float | None = Field(
        None, description="p95 duration (creation to end) of the runs that ended in the day."
    )
    failing: int = Field(0, description="Runs that failed in the last hour.")
    now: Live
    tasks: OpenTasks
    failures_by_hour: list[int] = Field(
        description="Runs that failed in each hour of the last day, oldest first (24)."
    )


class Slot(Resource):
    """Runs of the organization that ended in one minute, by outcome."""

    start: Stamp
    succeeded: int = Field(0, description="Succeeded, partial included.")
    failed: int = 0
    cancelled: int = 0


class Overview(Resource):
    """How every workflow of an organization is doing now (windows ending at ``at``); stored
    workflows first by name, then workflows known only by their runs (code workflows)."""

    type: Literal["Overview"] = Field("Overview", alias="$type")
    organization: str
    at: Stamp
    hour: Ended
    day: Ended
    now: Live
    tasks: OpenTasks
    workflows: list[WorkflowOverview]
    minutes: list[Slot] = Field(description="The last hour, a minute each, oldest first (60).")
    failures_by_hour: list[int] = Field(
        description="Runs that failed in each hour of the last day, oldest first (24)."
    )

    @classmethod
    def of(cls, org: str, figures: OverviewFigures) -> Overview:
        now = figures.now
        rows = [_workflow(name, figures, (id, status, last))
                for id, name, status, last in figures.registry]  # fmt: skip
        shown = {row.workflow for row in rows}
        known = set(figures.ended) | set(figures.live) | set(figures.tasks)
        rows += [_workflow(name, figures, None) for name in sorted(known - shown)]
        failures = [sum(w.failures_by_hour[i] for w in rows) for i in range(24)]
        return cls(
            organization=org, at=_at(now), workflows=rows,
            hour=_total(w.hour for w in rows), day=_total(w.day for w in rows),
            now=Live(pending=sum(w.now.pending for w in rows),
                     running=sum(w.now.running for w in rows),
                     waiting=sum(w.now.waiting for w in rows)),
            tasks=OpenTasks(open=sum(w.tasks.open for w in rows),
                            overdue=sum(w.tasks.overdue for w in rows)),
            minutes=_minutes(figures.minutes, now - 3_600.0), failures_by_hour=failures,
        )  # fmt: skip


class EventEntry(Event):
    """An event of the stream with the runs it started and the runs it woke (a wait for it
    resolved, a state machine it was delivered to)."""

    runs: list[str] = Field(default_factory=list, description="Runs the event started.")
    woke: list[str] = Field(default_factory=list, description="Runs the event woke.")

    @classmethod
    def of_logged(cls, found: LoggedEvent) -> EventEntry:
        event = Event.of(found.event)
        return cls.model_validate({**event.model_dump(by_alias=True), "runs": found.started,
                                   "woke": found.woke})  # fmt: skip


class EventEntryPage(Page[EventEntry]):
    """Events, newest first, with their runs, a page at a time."""


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _total(windows: Iterable[Ended]) -> Ended:
    counts: dict[str, int] = {}
    for w in windows:
        for outcome in ("succeeded", "partial", "failed", "cancelled"):
            counts[outcome] = counts.get(outcome, 0) + getattr(w, outcome)
    return Ended.of(counts)


def _workflow(
    name: str, figures: OverviewFigures, stored: tuple[str, str, float | None] | None
) -> WorkflowOverview:
    """The figures of workflow ``name``; ``stored``: its id, status and last run if stored (an
    Activated workflow with a run executing reads ``Triggered``, as the registry shows it)."""
    ended = figures.ended.get(name, {})
    failures = [0] * 24
    for c in figures.failures:
        if c.workflow == name:
            failures[c.slot] += c.count
    opened, overdue = figures.tasks.get(name, (0, 0))
    hour = Ended.of({outcome: h for outcome, (_, h) in ended.items()})
    live = Live(**figures.live.get(name, {}))
    workflow_id, status, last_run_at = stored if stored is not None else (None, None, None)
    if status == "Activated" and live.pending + live.running > 0:
        status = "Triggered"
    return WorkflowOverview(
        workflow=name, hour=hour, day=Ended.of({o: d for o, (d, _) in ended.items()}),
        p95_seconds=figures.p95.get(name), failing=hour.failed,
        now=live, tasks=OpenTasks(open=opened, overdue=overdue), failures_by_hour=failures,
        workflow_id=workflow_id, status=status,
        last_run_at=None if last_run_at is None else _at(last_run_at),
    )  # fmt: skip


def _minutes(counted: list[Counted], start: float) -> list[Slot]:
    figures = [{"succeeded": 0, "failed": 0, "cancelled": 0} for _ in range(60)]
    for c in counted:
        outcome = "succeeded" if c.outcome in SUCCEEDED else c.outcome
        if outcome in figures[c.slot]:
            figures[c.slot][outcome] += c.count
    return [Slot(start=_at(start + i * 60.0), **f) for i, f in enumerate(figures)]
