"""A run's progress: steps done of steps planned (a definition's, counted by itself) or what
the workflow reported (``ctx.progress``), its current step, and the time it has left."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from plait.resources.base import Resource
from plait.store.records import TERMINAL, RunRecord, StepRecord

PROGRESS_KIND = "progress"
"""Kind of the step record ``ctx.progress`` writes: ``{done, total, message}``."""
_ENDED = frozenset({"completed", "failed", "skipped"})
_OPEN = frozenset({"running", "waiting", "retrying"})


class Progress(Resource):
    """How far a run has got. A definition's run counts its top-level steps; a code workflow's
    shows what it last reported with ``ctx.progress`` (or the steps it completed, of an
    unknown total)."""

    completed_steps: int = Field(description="Steps (or units a workflow reported) done.")
    total_steps: int | None = Field(None, description="Planned steps; null when unknown.")
    fraction: float | None = Field(None, description="completedSteps / totalSteps, 0 to 1.")
    current_step: str | None = Field(None, description="The step under way (null once ended).")
    message: str | None = Field(None, description="The message of the last ``ctx.progress``.")
    estimated_time_remaining: float | None = Field(
        None,
        description="Seconds: the mean duration of the workflow's steps in its recent "
        "succeeded runs times the steps remaining (code: this run's pace); null when unknown.",
    )


def progress_of(
    run: RunRecord, planned: Sequence[str] | None, mean_step: float | None, now: float
) -> Progress:
    """The progress of ``run``, whose workflow plans the top-level steps ``planned`` (None:
    it reports its own), given its workflow's mean step duration in seconds."""
    steps = [s for s in run.steps if s.position >= 0]
    ended = run.status in TERMINAL
    current = None if ended else _current(steps, planned)
    reported = _reported(steps)
    if planned is not None:
        keys = {s.key.removesuffix(".result") for s in steps if s.status in _ENDED
                and s.kind != "child"}  # fmt: skip
        done, total, message = sum(1 for key in planned if key in keys), len(planned), None
    elif reported is not None:
        done, total, message = reported
    else:
        done = sum(1 for s in steps if s.status == "completed" and s.kind == "step")
        total, message = None, None
    if planned is not None and run.status == "succeeded":
        done = len(planned)  # every planned step ended (a condition records no end)
    remaining = _remaining(run, done, total, mean_step, now, planned is not None)
    fraction = None if not total else round(min(1.0, done / total), 6)
    return Progress(completed_steps=done, total_steps=total, fraction=fraction,
                    current_step=current, message=message,
                    estimated_time_remaining=0.0 if ended else remaining)  # fmt: skip


def _reported(steps: Sequence[StepRecord]) -> tuple[int, int, str | None] | None:
    """What the workflow last reported with ``ctx.progress`` (the latest wins)."""
    from plait import values

    for s in reversed(steps):
        if s.kind == PROGRESS_KIND:
            value: dict[str, Any] = values.decode(s.output) or {}
            return int(value.get("done", 0)), int(value.get("total", 0)), value.get("message")
    return None


def _current(steps: Sequence[StepRecord], planned: Sequence[str] | None) -> str | None:
    """The step under way: the first planned step not ended (a definition), else the latest
    step still open (running, waiting or retrying)."""
    if planned is not None:
        ended = {s.key.removesuffix(".result") for s in steps if s.status in _ENDED
                 and s.kind != "child"}  # fmt: skip
        return next((key for key in planned if key not in ended), None)
    return next((s.key for s in reversed(steps) if s.status in _OPEN), None)


def _remaining(
    run: RunRecord, done: int, total: int | None, mean_step: float | None, now: float,
    planned: bool,
) -> float | None:  # fmt: skip
    """Seconds left: a definition's steps remaining times its workflow's mean step duration;
    a code workflow's units remaining at the pace this run has kept since it started."""
    if total is None:
        return None
    left = max(0, total - done)
    if planned:
        return None if mean_step is None else round(left * mean_step, 3)
    if done <= 0 or run.started_at is None:
        return None
    return round((now - run.started_at) / done * left, 3)
