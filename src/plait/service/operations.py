"""Operations on runs that went wrong: resume, fork, retry (cancel lives with the run verbs).

Each is one store transaction that also records who did it in the run's history, so an
operator can later see why a run has two lives. The engine's methods (``engine.resume`` etc.)
call these; the REST API and the CLI call the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.ids import new_id
from plait.store.records import HistoryEntry, Operation, iso_time

if TYPE_CHECKING:
    from plait.engine import Engine
    from plait.store.records import RunRecord


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did: the run that now executes, and the steps it reuses or reruns."""

    run_id: str
    workflow: str
    steps: list[str]


async def resume(
    engine: Engine, run_id: str, *, newest: bool = False, by: str | None = None,
    reason: str | None = None,
) -> Outcome:  # fmt: skip
    """Resume a failed run from its failed step (see ``Engine.resume``)."""
    store = await engine.opened_registry()
    run = await _run(engine, run_id)
    version = await _newest_version(engine, run) if newest else None
    op = Operation(engine.clock.time(), by, reason)
    rerun = await store.resume_run(run_id, op, ordered=_ordered(engine, run), version=version)
    return Outcome(run_id, run.workflow, rerun)


async def copy(
    engine: Engine, run_id: str, action: str, *, step: str | int | None = None,
    newest: bool = False, by: str | None = None, reason: str | None = None,
) -> Outcome:  # fmt: skip
    """Fork (``step`` given) or retry (from scratch) a run into a new one."""
    store = await engine.opened_registry()
    run = await _run(engine, run_id)
    version = await _newest_version(engine, run) if newest else None
    op = Operation(engine.clock.time(), by, reason)
    new = new_id("run")
    reused = await store.copy_run(run_id, new, op, action=action, step=step, version=version)
    return Outcome(new, run.workflow, reused)


def history_resource(entry: HistoryEntry) -> dict[str, Any]:
    """A history entry as the API shows it."""
    return {"at": iso_time(entry.at), "action": entry.action, "by": entry.actor,
            "reason": entry.reason, **entry.detail}  # fmt: skip


async def _run(engine: Engine, run_id: str) -> RunRecord:
    from plait.errors import RunNotFound

    record = await (await engine.opened_store()).get_run(run_id, with_steps=False)
    if record is None:
        raise RunNotFound(run_id)
    return record


def _ordered(engine: Engine, run: RunRecord) -> bool:
    """Whether the run replays in call order (code) or by step key (definitions).

    A process that does not have the run's workflow registered (the CLI, for a code workflow)
    assumes call order, the stricter choice: at worst a step after the failure runs again.
    """
    if run.workflow_version is not None:
        return False
    workflow = engine.registered.get(run.workflow)
    return True if workflow is None else workflow.ordered_replay


async def _newest_version(engine: Engine, run: RunRecord) -> int | None:
    if run.workflow_version is None or run.workflow_id is None:
        return None  # code runs always execute the code that is deployed now
    record = await engine.registry_store().get_workflow(run.org, run.workflow_id)
    return None if record is None else record.version
