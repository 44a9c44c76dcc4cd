"""Cron expressions in a time zone: the instants at which a schedule ticks.

Cron expressions have 5 fields (minute, hour, day of month, month, day of week) or 6, the sixth
being the second, as croniter reads them: ``*/10 * * * * 30`` fires at second 30 of every tenth
minute. Names (``mon-fri``, ``jan``), ``L`` and ``#`` work as in croniter. The macros of brief
001 stand for their five fields: ``@yearly`` (``@annually``) ``0 0 1 1 *``, ``@monthly``
``0 0 1 * *``, ``@weekly`` ``0 0 * * 0``, ``@daily`` (``@midnight``) ``0 0 * * *``, ``@hourly``
``0 * * * *``; other ``@`` words and Jenkins ``H`` are refused.

Ticks are wall-clock times in the schedule's IANA time zone, as Unix seconds, so ``0 9 * * *``
in ``Europe/Paris`` fires at 07:00 UTC in summer and 08:00 UTC in winter. When daylight saving
time moves the clock, schedules follow Vixie cron:

- an expression whose hour field starts with ``*`` (``30 * * * *``, ``*/5 * * * *``) runs on
  elapsed time: a wall time skipped by the clock going forward does not fire, and one that the
  clock reads twice going back fires twice;
- any other expression names its hours (``30 2 * * *``): a skipped time fires once, the moment
  the clock jumps (03:00 for 02:30), and a time read twice fires once, the first time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from plait.errors import PlaitError

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
class CronRule:
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


MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}  # fmt: skip
"""The cron macros and the five fields each stands for."""


@lru_cache(maxsize=256)
def rule(cron: str, timezone: str) -> CronRule:
    """``cron`` parsed, in ``timezone`` (cached); ``ScheduleInvalid`` if either is invalid."""
    cron = MACROS.get(cron.strip().lower(), cron)
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
    return CronRule(cron, _zone(timezone), elapsed=cron.split()[1].startswith("*"))


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
