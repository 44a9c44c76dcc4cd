"""The report of a test run of a definition (``plait run``, ``plait test``), built from the run
resource: each step's outcome, and the errors."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from plait.resources.base import Resource, Stamp
from plait.resources.runs import Run, Step

_STATUS = {"completed": "succeeded", "failed": "failed", "retrying": "retrying",
           "waiting": "waiting", "skipped": "skipped"}  # fmt: skip
_INTERNAL = {"now", "uuid", "random", "value", "winner", "deadline", "ended", "context"}


class ReportStep(Resource):
    """A step of the report: ``status`` succeeded, failed, retrying, waiting or skipped."""

    status: str
    attempts: int
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: Stamp | None = None
    finished_at: Stamp | None = None
    branch: Any = Field(None, description="The branch a ``branch`` step took.")

    @classmethod
    def of(cls, step: Step) -> ReportStep:
        branch = step.kind == "branch"
        return cls(
            status=_STATUS.get(step.status, step.status), attempts=step.attempts,
            output=None if branch else step.output, error=step.error,
            started_at=step.started_at, finished_at=step.finished_at,
            branch=step.output if branch else None,
        )  # fmt: skip


class ReportError(Resource):
    """An error of the run: the step it happened in, its type and message."""

    step: str | None = None
    type: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, step: str | None, error: dict[str, Any]) -> ReportError:
        return cls(step=step, type=error.get("type"), message=error.get("message"))


class RunReport(Resource):
    """What a test run did: its status and outcome (``partial``: it carried on past failed
    steps) and whether that is a ``success``, output and duration, each step that is not the
    engine's own bookkeeping, keyed by step key, the errors (the steps' and the run's: ``step``
    null), and a node graph's final workflow ``context`` (brief 004's execution report)."""

    run_id: str
    workflow: str
    status: str
    outcome: str | None = None
    success: bool = False
    output: Any = None
    duration_ms: float
    steps: dict[str, ReportStep]
    errors: list[ReportError]
    context: Any = None

    @classmethod
    def of(cls, run: Run) -> RunReport:
        shown = [step for step in run.steps if step.kind not in _INTERNAL]
        errors = [ReportError.of(s.key, s.error) for s in shown if s.status == "failed" and s.error]
        failed = run.error if run.status == "failed" else None
        if failed and not any(e.step == failed.get("step") for e in errors):
            errors.append(ReportError.of(failed.get("step"), failed))
        finished = run.finished_at or run.updated_at
        return cls(
            run_id=run.id, workflow=run.workflow, status=run.status, outcome=run.outcome,
            success=run.success, context=run.context,
            output=run.output,
            duration_ms=round((finished - run.created_at).total_seconds() * 1000, 3),
            steps={step.key: ReportStep.of(step) for step in shown}, errors=errors,
        )  # fmt: skip
