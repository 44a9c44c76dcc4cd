"""A run's progress as the run resource shows it (``plait.resources.progress``): what a
definition plans, and what its workflow's history says its steps take."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.store.records import TERMINAL

if TYPE_CHECKING:
    from plait.resources.progress import Progress
    from plait.service.deps import Deps
    from plait.store.base import Store
    from plait.store.records import RunRecord


async def run_progress(deps: Deps, store: Store, record: RunRecord) -> Progress:
    """The progress of the run ``record``: a definition's run counts its version's top-level
    steps; an unfinished one's estimate learns from its workflow's recent step durations."""
    from plait.resources.progress import progress_of

    planned = await _planned(deps, store, record)
    mean = None
    if planned is not None and record.status not in TERMINAL:
        mean = await store.mean_step_seconds(record.org, record.workflow)
    return progress_of(record, planned, mean, deps.now())


async def _planned(deps: Deps, store: Store, record: RunRecord) -> tuple[str, ...] | None:
    """The top-level step ids of the run's definition version (compiled once per process),
    or of the definition the engine registered (``engine.define``); None for a code
    workflow's run, or a version no longer stored."""
    if record.workflow_id is None or record.workflow_version is None:
        registered = deps.catalog.workflows.get(record.workflow)
        return None if registered is None else registered.planned_steps
    key = (record.org, record.workflow_id, record.workflow_version)
    stored = await store.get_workflow_version(*key)
    if stored is None:
        return None
    return deps.catalog.plan(*key, stored.definition).planned_steps
