"""What an organization's runs and tasks are doing now: the overview's figures, read over
windows ending now with indexed range queries (never a scan of every run), and the event
stream with the runs each event started or woke.

The windows are of runs that *ended* (``finished_at``), read through the partial index
``runs_ended`` (migration 024) of ended runs by organization, workflow, outcome and end: the
organization's workflows are found by a loose index scan (a seek per workflow), and each
workflow's runs of one outcome in a window are one index range, counted in SQL on both
dialects, so the cost follows the runs of the window, not every run stored. The p95 duration of
each workflow's runs ended in the day is ``percentile_cont`` on PostgreSQL; SQLite has no
percentile function, so it reads only the longest 5% of them (a sorter bounded by ``LIMIT``)
and interpolates here. Runs live now (``runs_live``) and open tasks (``tasks_open``) are counted
from partial indexes that hold only unfinished rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from plait.store.backend import Backend
from plait.store.events import event_from_row
from plait.store.records import EventRecord
from plait.store.session import Session

HOUR = 3_600.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Counted:
    """Runs of one workflow that ended with one outcome in one slot of a window (an hour of the
    day, or a minute of the hour; slot 0 is the oldest)."""

    workflow: str
    outcome: str
    slot: int
    count: int


@dataclass(slots=True)
class OverviewFigures:
    """One consistent read of an organization's figures at ``now``."""

    now: float
    registry: list[tuple[str, str, str, float | None]] = field(default_factory=list)
    """The stored workflows by name: (id, name, status, last run at)."""
    ended: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Runs that ended, by workflow then outcome: (in the last day, in the last hour)."""
    failures: list[Counted] = field(default_factory=list)
    """Runs that failed in the last day, by workflow and hour (0 to 23, 23 the last)."""
    minutes: list[Counted] = field(default_factory=list)
    """Runs that ended in the last hour, by workflow, outcome and minute (0 to 59)."""
    live: dict[str, dict[str, int]] = field(default_factory=dict)
    """Runs pending, running and waiting now, by workflow then status."""
    tasks: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Open tasks by workflow: (open, overdue)."""
    p95: dict[str, float] = field(default_factory=dict)
    """The p95 duration (creation to end, seconds) of each workflow's runs ended in the day."""


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A stored event with its ``seq`` (the keyset of its page), the runs it started and the
    runs it woke (their waits resolved by it)."""

    seq: int
    event: EventRecord
    started: list[str]
    woke: list[str]


class OverviewVerbs(Backend):
    """Reading an organization's figures and its event stream."""

    async def overview_figures(self, org: str, now: float) -> OverviewFigures:
        """The stored workflows of ``org``; its runs that ended in the last day and hour by
        workflow and outcome, its
        failures by hour and its runs by minute, its runs live now, its open and overdue tasks
        and each workflow's p95 duration (of the day), in one consistent read."""
        params = {"org": org, "now": now, "day": now - DAY, "hour": now - HOUR}

        def op(db: Session) -> OverviewFigures:
            found = OverviewFigures(now)
            found.registry = [(str(r[0]), str(r[1]), str(r[2]), r[3])
                              for r in db.run("overview_registry", params)]  # fmt: skip
            for workflow, outcome, day, hour in db.run("overview_counts", params):
                if day:
                    found.ended.setdefault(str(workflow), {})[str(outcome)] = (int(day), int(hour))
            found.failures = [_counted(r, 23) for r in db.run("overview_failures", params)]
            found.minutes = [_counted(r, 59) for r in db.run("overview_minutes", params)]
            for workflow, status, count in db.run("overview_live", params):
                found.live.setdefault(str(workflow), {})[str(status)] = int(count)
            for workflow, opened, overdue in db.run("overview_tasks", params):
                found.tasks[str(workflow)] = (int(opened), int(overdue or 0))
            found.p95 = _p95(db, params, found.ended)
            return found

        figures: OverviewFigures = await self._read(op)
        return figures

    async def page_event_entries(
        self, org: str, *, type: str | None, prefix: str | None, after_seq: int | None,
        limit: int,
    ) -> list[LoggedEvent]:  # fmt: skip
        """Up to ``limit`` events of ``org``, newest first, before ``after_seq``: of one
        ``type``, or of every type starting with ``prefix`` (``Deal.``), or all; one read."""
        params = {"org": org, "type": type, "low": prefix,
                  "high": None if prefix is None else _after_prefix(prefix),
                  "after_seq": _NEWEST if after_seq is None else after_seq,
                  "limit": limit}  # fmt: skip
        query = ("page_event_entries_prefix" if prefix is not None
                 else "page_event_entries_typed" if type is not None
                 else "page_event_entries")  # fmt: skip
        rows = await self._all(query, params)
        return [LoggedEvent(int(r[0]), event_from_row(r[1:8]), _ids(r[8]), _ids(r[9]))
                for r in rows]  # fmt: skip


def _counted(row: Any, last: int) -> Counted:
    # A run that ended a moment after ``now`` (another process's clock) counts in the last slot.
    return Counted(str(row[0]), str(row[1]), min(max(int(row[2]), 0), last), int(row[3]))


def _p95(
    db: Session, params: dict[str, Any], ended: dict[str, dict[str, tuple[int, int]]]
) -> dict[str, float]:
    if db.dialect == "postgres":
        return {str(r[0]): float(r[1]) for r in db.run("overview_p95", params) if r[1] is not None}
    found: dict[str, float] = {}
    for workflow, outcomes in ended.items():
        count = sum(day for day, _ in outcomes.values())
        position = 0.95 * (count - 1)
        low = math.floor(position)
        top = count - low  # ascending ranks low..count-1, longest first
        rows = db.run("overview_top_durations", {**params, "workflow": workflow, "top": top})
        ordered = [float(r[0]) for r in rows][::-1]
        if not ordered:  # its runs were deleted meanwhile (retention)
            continue  # ascending ranks low, low + 1, ...
        high = min(1, len(ordered) - 1)
        found[workflow] = ordered[0] + (ordered[high] - ordered[0]) * (position - low)
    return found


_NEWEST = 2**63 - 1
"""The cursor of the first page: every event's ``seq`` is below it (a plain range an index
serves, where ``:after IS NULL OR seq < :after`` would not be)."""


def _after_prefix(prefix: str) -> str:
    """The least text greater than every text starting with ``prefix`` (its last character
    incremented), so that a prefix is an index range: ``Deal.`` -> ``Deal/``."""
    trimmed = prefix.rstrip("\U0010ffff")  # the last code point has no successor
    if not trimmed:
        return prefix + "\U0010ffff"
    following = ord(trimmed[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not text: the next is U+E000
        following = 0xE000
    return trimmed[:-1] + chr(following)


def _ids(raw: str | None) -> list[str]:
    return [] if raw is None else [str(i) for i in orjson.loads(raw)]
