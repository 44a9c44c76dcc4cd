"""What a run's progress learns from its workflow's history: how long its steps take."""

from __future__ import annotations

from plait.store.backend import Backend
from plait.store.session import Session

RECENT_RUNS = 20
"""How many of a workflow's most recent succeeded runs its step durations are learned from."""


class ProgressVerbs(Backend):
    """Reads behind a run's estimated time remaining."""

    async def mean_step_seconds(
        self, org: str, workflow: str, runs: int = RECENT_RUNS
    ) -> float | None:
        """The mean duration, in seconds, of the steps that completed in the ``runs`` most
        recent succeeded runs of ``workflow``; None when they completed none."""

        def op(db: Session) -> float | None:
            params = {"org": org, "workflow": workflow, "runs": runs}
            row = db.run("workflow_step_seconds", params).fetchone()
            if row is None or not row[1] or row[0] is None:
                return None
            return max(0.0, float(row[0]))

        found: float | None = await self._read(op)
        return found
