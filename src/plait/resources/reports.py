"""The report of a test run of a definition (``plait test``), built from the run resource."""

from __future__ import annotations

from typing import Any

from plait.resources.runs import Run, Step

_STATUS = {"completed": "succeeded", "failed": "failed", "retrying": "retrying",
           "waiting": "waiting", "skipped": "skipped"}  # fmt: skip
_INTERNAL = {"now", "uuid", "random", "value", "winner", "deadline", "ended"}


def build_report(run: Run) -> dict[str, Any]:
    """``{runId, workflow, status, output, durationMs, steps: {id: {...}}, errors: [...]}``."""
    steps: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    for step in run.steps:
        if step.kind in _INTERNAL:
            continue
        steps[step.key] = _entry(step)
        if step.status == "failed" and step.error:
            errors.append({"step": step.key, "type": step.error.get("type"),
                           "message": step.error.get("message")})  # fmt: skip
    if (
        run.status == "failed"
        and run.error
        and not any(e["step"] == run.error.get("step") for e in errors)
    ):
        errors.append({"step": run.error.get("step"), "type": run.error.get("type"),
                       "message": run.error.get("message")})  # fmt: skip
    finished = run.finished_at or run.updated_at
    return {
        "runId": run.id,
        "workflow": run.workflow,
        "status": run.status,
        "output": run.output,
        "durationMs": round((finished - run.created_at).total_seconds() * 1000, 3),
        "steps": steps,
        "errors": errors,
    }


def _entry(step: Step) -> dict[str, Any]:
    branch = step.output if step.kind == "branch" else None
    output = None if step.kind == "branch" else step.output
    return {
        "status": _STATUS.get(step.status, step.status),
        "attempts": step.attempts,
        "output": output,
        "error": step.error,
        "startedAt": step.started_at.isoformat() if step.started_at else None,
        "finishedAt": step.finished_at.isoformat() if step.finished_at else None,
        "branch": branch,
    }
