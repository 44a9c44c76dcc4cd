"""A run's step timeline: a Gantt-like SVG drawn on the server, one row per step attempt.

Each attempt is a bar from its start to its end on a shared time axis: completed attempts in
the colour of success, failed ones in that of failure, waits (a sleep, a wait for an event, a
human task, a signal, a child run) in the colour of waiting, attempts still under way up to
now. A step retried shows each attempt on a row of its own (migration 022 keeps them); a
failed attempt's end is not recorded, so its bar runs to when the next attempt was due (its
backoff included), and says so on hover. Only the window of steps the page shows is
drawn, with its own axis, so a run of 10,000 steps draws at most a window's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

from plait.console.render import duration, iso
from plait.resources.runs import Step
from plait.resources.steps import Attempt

WAITS = frozenset({"sleep", "wait", "task", "receive", "child", "child-result"})
"""Kinds of steps that wait (for a time, an event, a person, a signal, a child run)."""
TIMED = WAITS | {"step", "group", "branch"}
"""Kinds of steps drawn; recorded values (``now``, ``uuid``, state, progress) are not."""

WIDTH = 960
LABELS = 210
ROW = 18
BAR = 12
AXIS = 26
_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120,
          300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Bar:
    """One row: an attempt of a step (or its wait), from ``start`` to ``end`` (epoch seconds)."""

    label: str
    start: float
    end: float
    css: str
    title: str


def bars(steps: Sequence[Step], attempts: Mapping[str, Sequence[Attempt]], now: float) -> list[Bar]:
    """The rows of ``steps`` (in the order given): one per attempt of a retried step (its
    ``attempts``), else one; an attempt not ended runs to ``now``."""
    rows: list[Bar] = []
    for step in steps:
        if step.kind not in TIMED or step.started_at is None:
            continue
        tried = attempts.get(step.key, ())
        rows += _attempt_rows(step, tried, now) if tried else [_step_row(step, now)]
    return rows


def _step_row(step: Step, now: float) -> Bar:
    """A step's one row: from its start to its end (or now)."""
    assert step.started_at is not None
    started = step.started_at.timestamp()
    if step.status == "retrying":  # retried before attempts were kept: its failure, then due
        due = step.wake_at.timestamp() if step.wake_at is not None else now
        title = f"{step.key}: attempt {step.attempts} failed; the next is due {iso(due)}"
        return Bar(f"{step.key} · {step.attempts}", started, max(started, due),
                   "bar-bad bar-retry", title)  # fmt: skip
    ended = step.finished_at.timestamp() if step.finished_at is not None else now
    several = step.attempts > 1
    label = f"{step.key} · {step.attempts}" if several else step.key
    what = f"{step.attempts} attempts" if several else step.kind
    going = f"ended {iso(ended)}" if step.finished_at else "still going"
    title = (f"{step.key} ({what}): {step.status}; started {iso(started)}, {going}, "
             f"{duration(ended - started)}")  # fmt: skip
    return Bar(label, started, max(started, ended), _css(step), title)


def _attempt_rows(step: Step, attempts: Sequence[Attempt], now: float) -> list[Bar]:
    """A retried step's rows, one per attempt: a failed one's bar runs to when the next was
    due (its end is not recorded, so the backoff is in it), the last one's to its end."""
    assert step.started_at is not None
    rows: list[Bar] = []
    for attempt in attempts:
        begin = (attempt.started_at or step.started_at).timestamp()
        label = f"{step.key} · {attempt.attempt}"
        if attempt.status == "retrying":
            due = attempt.next_at.timestamp() if attempt.next_at is not None else now
            title = (f"{step.key}: attempt {attempt.attempt} failed; it started {iso(begin)}, "
                     f"the next was due {iso(due)} (the bar includes the backoff)")  # fmt: skip
            rows.append(Bar(label, begin, max(begin, due), "bar-bad bar-retry", title))
            continue
        ended = attempt.ended_at.timestamp() if attempt.ended_at is not None else now
        going = f"ended {iso(ended)}" if attempt.ended_at else "still going"
        title = (f"{step.key}: attempt {attempt.attempt} {attempt.status}; due {iso(begin)}, "
                 f"{going}, {duration(ended - begin)}")  # fmt: skip
        rows.append(Bar(label, begin, max(begin, ended), _css(step), title))
    return rows


def _css(step: Step) -> str:
    if step.status == "failed":
        return "bar-bad"
    if step.status in ("running", "waiting") or step.finished_at is None:
        return "bar-wait" if step.kind in WAITS else "bar-run"
    if step.status == "skipped":
        return "bar-idle"
    return "bar-wait" if step.kind in WAITS else "bar-ok"


def draw(rows: Sequence[Bar], *, label: str = "Step timeline") -> Markup:
    """The SVG of ``rows`` on one time axis (empty markup for no rows)."""
    if not rows:
        return Markup("")
    first = min(r.start for r in rows)
    span = max(max(r.end for r in rows) - first, 0.001)
    plot = WIDTH - LABELS - 12
    height = AXIS + len(rows) * ROW + 6

    def x(at: float) -> float:
        return LABELS + (at - first) / span * plot

    parts = [f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="{escape(label)}" '
             f'xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    parts += _axis(first, span, x, height)
    for i, row in enumerate(rows):
        top = AXIS + i * ROW
        left = x(row.start)
        width = max(2.0, x(row.end) - left)
        name = row.label if len(row.label) <= 30 else row.label[:29] + "…"
        parts.append(
            f'<g class="attempt"><title>{escape(row.title)}</title>'
            f'<text x="{LABELS - 8}" y="{top + BAR - 1}" text-anchor="end">{escape(name)}</text>'
            f'<rect class="{row.css}" x="{left:.1f}" y="{top + 2}" width="{width:.1f}" '
            f'height="{BAR}" rx="2"/></g>'
        )  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))


def _axis(first: float, span: float, x: Callable[[float], float], height: int) -> list[str]:
    """The time axis: a tick about every sixth of the span, labelled from the first start."""
    step = next((t for t in _TICKS if span / t <= 6), span / 6)
    parts = [f'<line class="axis" x1="{LABELS}" y1="{AXIS - 6}" x2="{WIDTH - 12}" '
             f'y2="{AXIS - 6}"/>']  # fmt: skip
    tick = 0.0
    while tick <= span + 1e-9:
        left = x(first + tick)
        text = "0" if tick == 0 else "+" + duration(tick)
        parts.append(
            f'<line class="axis" x1="{left:.1f}" y1="{AXIS - 6}" x2="{left:.1f}" y2="{height}" '
            f'stroke-dasharray="2 4"/>'
            f'<text x="{left:.1f}" y="{AXIS - 10}" text-anchor="middle">{text}</text>'
        )  # fmt: skip
        tick += step
    return parts


def started_at(rows: Sequence[Bar]) -> datetime | None:
    """When the first row starts (the axis's zero), for the caption."""
    return datetime.fromtimestamp(min(r.start for r in rows), UTC) if rows else None
