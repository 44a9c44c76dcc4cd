"""A definition's progress events (``progressEvents: true``): one ``WorkflowProgress.updated``
as each top-level step ends, counting steps done of steps planned."""

from __future__ import annotations

from typing import Any

from plait.interpreter.plan import Plan
from plait.runtime.context import Context


def announce_step(ctx: Context, plan: Plan, outcomes: dict[str, str], key: str) -> None:
    """Announce that top-level step ``key`` ended, unless this replay only read it back (its
    end was announced when it happened; the event's id would store it once anyway)."""
    recorded = ctx.replay.peek(key)
    if recorded is not None and recorded.status in ("completed", "failed", "skipped"):
        return
    planned = [node.id for node in plan.nodes]
    done = sum(1 for step in planned if step in outcomes)
    current = next((step for step in planned if step not in outcomes), None)
    data: dict[str, Any] = {"completedSteps": done, "totalSteps": len(planned),
                            "fraction": round(done / len(planned), 6), "currentStep": current,
                            "step": key, "outcome": outcomes.get(key)}  # fmt: skip
    ctx.announce_progress(key, data)
