"""``engine.steps``: a run's steps without reading all of them, for runs with thousands of
steps (the console's run page, ``GET /~{org}/runs/{id}/steps``): the run document with its
steps left out, a window of steps, one step's values, the attempts of retried steps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from plait.errors import InvalidQuery, RunNotFound, StepNotFound
from plait.service.business_metrics import includes, run_measurements
from plait.service.pages import check_limit
from plait.service.progress import run_progress

if TYPE_CHECKING:
    from plait.resources.runs import Step
    from plait.resources.steps import Attempt, RunOutline, StepPage
    from plait.service.deps import Deps
    from plait.store.base import Store
    from plait.store.records import RunRecord

WINDOW = 100
"""Steps in a window unless asked otherwise."""
LAST_POSITION = 2**31 - 1
"""The largest position a window may start from."""


class StepService:
    """``engine.steps``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def outline(
        self, org: str, run_id: str, *, include: str | Iterable[str] | None = None
    ) -> RunOutline:
        """The run as ``engine.runs.get`` answers it (status, input, output, error, progress,
        failed and skipped steps, history, children, state, ``include``) but with ``steps``
        and ``completedSteps`` left out, and its steps counted by status instead: no step's
        value is read but those the document shows (progress reports, machine states,
        contexts, skips), so a run of 10,000 steps reads fast. ``window`` pages the steps."""
        parts = includes(include)
        store = await self.deps.store()
        record = await self._owned(store, org, run_id)
        outline = await store.run_outline(run_id)
        record.steps = outline
        progress = await run_progress(self.deps, store, record)
        counts = Counter(s.status for s in outline if s.position >= 0)
        # The run document is built from the records it reads values of and the failures
        # only: building 10,000 step models would cost more than reading them.
        record.steps = [s for s in outline if s.position < 0 or s.output is not None
                        or s.status == "failed"]  # fmt: skip
        history = await store.run_history(run_id)
        state, children = await store.run_published(run_id)
        from plait.resources.runs import Run
        from plait.resources.steps import RunOutline

        run = Run.of(record, history=history, state=state, children=children,
                     progress=progress)  # fmt: skip
        added: dict[str, Any] = {"steps": [], "completed_steps": []}
        if record.finished_at is not None:  # its cost, as engine.runs.get shows it
            from plait.service.costs import CostService

            added["cost"] = await CostService(self.deps).of_run(run_id)
        if "metrics" in parts:
            added["metrics"] = await run_measurements(self.deps, run_id)
        if "audit" in parts:
            from plait.service.audit import AuditService

            added["audit"] = await AuditService(self.deps).of_run(org, run_id)
        return RunOutline(run=run.model_copy(update=added), step_counts=dict(counts),
                          total_steps=sum(counts.values()))  # fmt: skip

    async def window(
        self, org: str, run_id: str, *, start: int = 0, limit: int = WINDOW
    ) -> StepPage:
        """Up to ``limit`` steps of the run in call order from position ``start``, with their
        values; one read of those steps only (keyset by position)."""
        check_limit(limit)
        if not 0 <= start <= LAST_POSITION:
            raise InvalidQuery(f"start must be between 0 and {LAST_POSITION}, got {start}")
        store = await self.deps.store()
        await self._owned(store, org, run_id)
        from plait.resources.steps import StepPage

        return StepPage.of(await store.step_window(run_id, start, limit), start)

    async def get(self, org: str, run_id: str, key: str) -> Step:
        """The step ``key`` of the run with its output and error; ``StepNotFound``."""
        store = await self.deps.store()
        await self._owned(store, org, run_id)
        record = await store.step_of_run(run_id, key)
        if record is None or record.position < 0:
            known = (await store.step_window(run_id, 0, 20)).steps
            raise StepNotFound(run_id, key, [s.key for s in known])
        from plait.resources.runs import Step

        return Step.of(record)

    async def attempts(
        self, org: str, run_id: str, keys: Collection[str]
    ) -> dict[str, list[Attempt]]:
        """The attempts of the steps ``keys`` that were retried, by step (a step that
        succeeded at its first attempt has none)."""
        store = await self.deps.store()
        await self._owned(store, org, run_id)
        if not keys:
            return {}
        from plait.resources.steps import Attempt

        found = await store.step_attempts(run_id, keys)
        return {key: [Attempt.of(a) for a in attempts] for key, attempts in found.items()}

    @staticmethod
    async def _owned(store: Store, org: str, run_id: str) -> RunRecord:
        record = await store.get_run(run_id, with_steps=False)
        if record is None or record.org != org:
            raise RunNotFound(run_id)
        return record
