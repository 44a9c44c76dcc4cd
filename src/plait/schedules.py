"""Schedules: a cron expression in a time zone that starts runs of a workflow.

Pure functions, no I/O. The store keeps each schedule's ``next_fire_at``; whoever polls for due
schedules calls :func:`due_ticks` and hands the result to the store's ``fire_schedule``, which
fires each tick exactly once across workers.

Cron expressions have 5 fields (minute, hour, day of month, month, day of week) or 6, the sixth
being the second, as croniter reads them: ``*/10 * * * * 30`` fires at second 30 of every tenth
minute. Names (``mon-fri``, ``jan``), ``L`` and ``#`` work as in croniter; ``@daily``-style
aliases and Jenkins ``H`` are refused.

Ticks are wall-clock times in the schedule's IANA time zone, stored as Unix seconds, so
``0 9 * * *`` in ``Europe/Paris`` fires at 07:00 UTC in summer and 08:00 UTC in winter. When
daylight saving time moves the clock, schedules follow Vixie cron:

- an expression whose hour field starts with ``*`` (``30 * * * *``, ``*/5 * * * *``) runs on
  elapsed time: a wall time skipped by the clock going forward does not fire, and one that the
  clock reads twice going back fires twice;
- any other expression names its hours (``30 2 * * *``): a skipped time fires once, the moment
  the clock jumps (03:00 for 02:30), and a time read twice fires once, the first time.

Missed ticks (the engine was down, or every worker was busy) are handled by ``catchup``:
``"skip"`` fires only the most recent missed tick, so a schedule that was down for a day runs
once on its return, not never and not 24 times; ``"all"`` fires every missed tick, but at most
the ``max_catchup`` most recent ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice, takewhile
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from croniter import CroniterBadDateError, croniter

from plait.errors import PlaitError
from plait.ids import new_id
from plait.store.records import iso_time
from plait.values import encode, offending_type

Catchup = Literal["skip", "all"]
"""What a schedule does with ticks it missed: fire the latest one, or all of them (bounded)."""

CATCHUP: tuple[Catchup, ...] = get_args(Catchup)

MAX_CATCHUP_LIMIT = 1000
"""The largest ``max_catchup`` a schedule may have."""

DECLARED_PREFIX = "schedule_def_"
"""The id prefix of the schedules a workflow's document declares (random ids have no ``_``)."""

_WINDOW = 3 * 3600  # longer than any daylight-saving shift (Antarctica/Troll moves 2 hours)


class ScheduleInvalid(PlaitError):
    """A schedule's settings are invalid.

    Attributes:
        reason: what is wrong.
        path: the field at fault as the API names it (``cron``, ``timezone``, ``catchup``,
            ``maxCatchup``, ``input``).
    """

    def __init__(self, reason: str, path: str) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"invalid schedule: {reason}")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule. Times are Unix seconds; ``input`` is decoded JSON."""

    id: str
    org: str
    workflow_id: str
    cron: str
    timezone: str
    catchup: Catchup
    max_catchup: int
    input: Any
    enabled: bool
    next_fire_at: float
    created_at: float


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
) -> Schedule:
    """A new schedule, checked, whose first tick is the first one strictly after ``now``.

    A ``declared`` schedule is one the workflow's document declares (``schedule``): its id
    starts with ``schedule_def_``, and updating the workflow replaces it; the others were created
    on their own (API, CLI) and stay until deleted.

    Raises:
        ScheduleInvalid: the expression, time zone, catch-up policy or input is invalid, or the
            expression never fires (``0 0 30 2 *``).
    """
    if not isinstance(cron, str):
        raise ScheduleInvalid(f"cron must be a string, not {cron!r}", "cron")
    if not isinstance(timezone, str):
        raise ScheduleInvalid(f"timezone must be a string, not {timezone!r}", "timezone")
    expression = " ".join(cron.split())
    rule = _rule(expression, timezone)
    if catchup not in CATCHUP:
        raise ScheduleInvalid(f"catchup must be 'skip' or 'all', not {catchup!r}", "catchup")
    _check_max_catchup(max_catchup)
    try:
        first = rule.next_after(now)
    except CroniterBadDateError as exc:
        raise ScheduleInvalid(f"cron expression {expression!r} never fires", "cron") from exc
    schedule_id = new_id(DECLARED_PREFIX.rstrip("_"), 8) if declared else new_id("schedule", 8)
    return Schedule(
        id=schedule_id, org=org, workflow_id=workflow_id, cron=expression,
        timezone=timezone, catchup=catchup, max_catchup=max_catchup, input=_json(input),
        enabled=enabled, next_fire_at=first, created_at=now,
    )  # fmt: skip


def next_tick(schedule: Schedule, after: float) -> float:
    """The schedule's first tick strictly after ``after`` (to resume a paused schedule)."""
    return _rule(schedule.cron, schedule.timezone).next_after(after)


def due_ticks(schedule: Schedule, now: float) -> tuple[list[float], float]:
    """The ticks to fire at ``now``, oldest first, and the schedule's new ``next_fire_at``.

    Not due (``now < next_fire_at``): ``([], next_fire_at)``. Otherwise the ticks from
    ``next_fire_at`` up to ``now`` inclusive were missed: ``"skip"`` fires the most recent one,
    ``"all"`` the ``max_catchup`` most recent ones. The new ``next_fire_at`` is the first tick
    strictly after ``now``.
    """
    if now < schedule.next_fire_at:
        return [], schedule.next_fire_at
    rule = _rule(schedule.cron, schedule.timezone)
    following = rule.next_after(now)
    limit = 1 if schedule.catchup == "skip" else schedule.max_catchup
    # Walking back from the next tick visits exactly the ticks at or before now, newest first.
    missed = takewhile(lambda tick: tick >= schedule.next_fire_at, rule.walk(following, -1))
    return list(islice(missed, limit))[::-1], following


def is_declared(s: Schedule) -> bool:
    """Whether the workflow's document declares ``s`` (else it was created on its own)."""
    return s.id.startswith(DECLARED_PREFIX)


def resource(s: Schedule) -> dict[str, Any]:
    """The schedule as the API shows it."""
    return {
        "$id": s.id,
        "$type": "Schedule",
        "workflow": s.workflow_id,
        "cron": s.cron,
        "timezone": s.timezone,
        "catchup": s.catchup,
        "maxCatchup": s.max_catchup,
        "input": s.input,
        "enabled": s.enabled,
        "declared": is_declared(s),
        "nextFireAt": iso_time(s.next_fire_at),
        "createdAt": iso_time(s.created_at),
    }


# -- cron in a time zone ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """A parsed expression in a zone: maps croniter's wall-clock ticks to instants."""

    cron: str
    zone: ZoneInfo
    elapsed: bool  # the hour field starts with "*": daylight saving follows elapsed time

    def next_after(self, t: float) -> float:
        return next(self.walk(t, 1))

    def walk(self, t: float, sign: int) -> Iterator[float]:
        """Tick instants strictly after ``t`` (``sign`` 1) or before it (-1), nearest first.

        croniter steps through naive wall times, where calendar arithmetic knows no daylight
        saving; each wall time then maps to zero, one or two instants. Walls in order give
        instants in order, except that a wall read twice yields its second instant after the
        first instants of the walls that follow it, so instants wait in a heap until no later
        wall can give an earlier one. The heap holds ``sign * instant`` to serve both ways.
        """
        near = (_offset(self.zone, t), _offset(self.zone, t + sign * _WINDOW))
        # No tick beyond t reads a wall time before (after) this one; one second of slack.
        start = t + (min(near) if sign > 0 else max(near)) - sign
        walls = croniter(self.cron, _naive(start), ret_type=datetime)
        step = walls.get_next if sign > 0 else walls.get_prev
        pending: list[float] = []
        last: float | None = None
        while True:
            instants = self._instants(step())
            if not instants:
                continue
            for instant in instants:
                if sign * instant > sign * t:
                    heapq.heappush(pending, sign * instant)
            edge = sign * (instants[0] if sign > 0 else instants[-1])
            while pending and pending[0] <= edge:
                tick = sign * heapq.heappop(pending)
                if tick != last:  # skipped wall times of one gap share an instant
                    last = tick
                    yield tick

    def _instants(self, wall: datetime) -> list[float]:
        first = wall.replace(tzinfo=self.zone).timestamp()
        second = wall.replace(tzinfo=self.zone, fold=1).timestamp()
        if first == second:
            return [first]
        if first < second:  # the clock went back: it reads this wall time twice
            return [first, second] if self.elapsed else [first]
        # The clock went forward over this wall time; PEP 495 reads it with the old offset (fold
        # 0, the later instant) or the new one (fold 1, the earlier): the jump lies between.
        return [] if self.elapsed else [_transition(self.zone, second, first)]


@lru_cache(maxsize=256)
def _rule(cron: str, timezone: str) -> _Rule:
    if len(cron.split()) not in (5, 6):
        raise ScheduleInvalid(
            f"cron expression {cron!r} must have 5 fields (minute hour day-of-month month "
            "day-of-week) or 6 (the same, then second)",
            "cron",
        )
    try:
        croniter(cron, datetime(2000, 1, 1))
    except (ValueError, KeyError, TypeError) as exc:
        raise ScheduleInvalid(f"invalid cron expression {cron!r} ({exc})", "cron") from exc
    return _Rule(cron, _zone(timezone), elapsed=cron.split()[1].startswith("*"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleInvalid(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'",
            "timezone",
        ) from exc


def _offset(zone: ZoneInfo, t: float) -> float:
    offset = datetime.fromtimestamp(t, zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _naive(wall_seconds: float) -> datetime:
    """A wall time given as seconds since 1970-01-01 00:00 on that wall clock."""
    return datetime.fromtimestamp(wall_seconds, UTC).replace(tzinfo=None)


def _transition(zone: ZoneInfo, before: float, after: float) -> float:
    """The first whole second in (before, after] with the offset that ``after`` has."""
    low, high, target = int(before), int(after), _offset(zone, after)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, middle) == target:
            high = middle
        else:
            low = middle
    return float(high)


def _check_max_catchup(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleInvalid(f"maxCatchup must be an integer, not {value!r}", "maxCatchup")
    if not 1 <= value <= MAX_CATCHUP_LIMIT:
        raise ScheduleInvalid(
            f"maxCatchup must be between 1 and {MAX_CATCHUP_LIMIT}, not {value}", "maxCatchup"
        )


def _json(value: Any) -> Any:
    """``value`` as it will come back from storage (a tuple becomes a list)."""
    try:
        return orjson.loads(encode(value))
    except TypeError as exc:
        reason = f"input cannot be stored as JSON: {offending_type(value)} ({exc})"
        raise ScheduleInvalid(reason, "input") from exc
