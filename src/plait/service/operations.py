"""Operations on runs that went wrong: resume, fork, retry (cancel is a store verb of its own).

Each is one store transaction that also records who did it in the run's history, so an
operator can later see why a run has two lives. ``RunService`` calls these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import RunNotFound
from plait.ids import new_id
from plait.store.records import Operation

if TYPE_CHECKING:
    from plait.service.deps import Deps
    from plait.store.base import Store
    from plait.store.records import RunRecord


async def resume(
    deps: Deps, run_id: str, *, newest: bool = False, by: str | None = None,
    reason: str | None = None,
) -> list[str]:  # fmt: skip
    """Resume a failed run from its failed step; the keys of the steps it executes again."""
    store = await deps.store()
    run = await _run(store, run_id)
    version = await _newest_version(store, run) if newest else None
    ordered = deps.catalog.ordered_replay(run.workflow, run.workflow_version)
    op = Operation(deps.now(), by, reason)
    return await store.resume_run(run_id, op, ordered=ordered, version=version)


async def copy(
    deps: Deps, run_id: str, action: str, *, step: str | int | None = None,
    newest: bool = False, by: str | None = None, reason: str | None = None,
) -> str:  # fmt: skip
    """Fork (``step`` given) or retry (from scratch) a run into a new one; the new run's id."""
    store = await deps.store()
    run = await _run(store, run_id)
    version = await _newest_version(store, run) if newest else None
    op = Operation(deps.now(), by, reason)
    new = new_id("run")
    await store.copy_run(run_id, new, op, action=action, step=step, version=version)
    return new


async def _run(store: Store, run_id: str) -> RunRecord:
    record = await store.get_run(run_id, with_steps=False)
    if record is None:
        raise RunNotFound(run_id)
    return record


async def _newest_version(store: Store, run: RunRecord) -> int | None:
    if run.workflow_version is None or run.workflow_id is None:
        return None  # code runs always execute the code that is deployed now
    record = await store.get_workflow(run.org, run.workflow_id)
    return None if record is None else record.version
