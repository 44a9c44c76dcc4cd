"""A run's steps a window at a time (``GET /~{org}/runs/{id}/steps``, the console's run page),
and the attempts of a step that was retried."""

from __future__ import annotations

from pydantic import Field

from plait.resources.base import Resource, Stamp, stamp
from plait.resources.runs import Run, Step
from plait.store.records import StepRecord
from plait.store.steps import AttemptRecord, StepWindow


class PlacedStep(Step):
    """A step with its place in the run: ``position`` counts the run's calls from 0."""

    position: int

    @classmethod
    def placed(cls, s: StepRecord) -> PlacedStep:
        return cls(position=s.position, **dict(Step.of(s)))


class RunOutline(Resource):
    """A run without its steps (and ``completedSteps``), and its steps counted by status:
    what a page of a run with thousands of steps shows above a window of them."""

    run: Run
    step_counts: dict[str, int] = Field(description="Steps by status.")
    total_steps: int


class StepPage(Resource):
    """Up to ``limit`` of a run's steps in call order, from the position ``start``; pass
    ``nextStart`` (or ``previousStart``) as ``start`` for the window after (or before)."""

    items: list[PlacedStep]
    total: int = Field(description="Steps the run recorded.")
    start: int
    previous_start: int | None = None
    next_start: int | None = None
    last_start: int = Field(0, description="Where the last window starts (the latest steps).")

    @classmethod
    def of(cls, window: StepWindow, start: int) -> StepPage:
        return cls(items=[PlacedStep.placed(s) for s in window.steps], total=window.total,
                   start=start, previous_start=window.previous, next_start=window.next,
                   last_start=window.last)  # fmt: skip


class Attempt(Resource):
    """One attempt of a step that was retried. ``status``: ``retrying`` (it failed; the next
    attempt was due at ``nextAt``), else how the step ended (or ``running``). A failed
    attempt's end is not recorded; a later attempt's ``startedAt`` is the time it was due."""

    step: str
    attempt: int
    status: str
    started_at: Stamp | None = None
    ended_at: Stamp | None = None
    next_at: Stamp | None = None

    @classmethod
    def of(cls, record: AttemptRecord) -> Attempt:
        return cls(step=record.step, attempt=record.attempt, status=record.status,
                   started_at=stamp(record.started_at), ended_at=stamp(record.ended_at),
                   next_at=stamp(record.next_at))  # fmt: skip
