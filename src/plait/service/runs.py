"""Runs as the service shows them: scoped by organization, as camelCase resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.errors import InvalidQuery, RunNotFound
from plait.runs import RunInfo
from plait.service.pages import Page, check_limit, keyset_after, keyset_page
from plait.service.resources import iso
from plait.store.records import RUN_STATUSES

if TYPE_CHECKING:
    from plait.engine import Engine


def run_resource(run: RunInfo) -> dict[str, Any]:
    from plait.interpreter.machine import machine_view

    resource = _run_fields(run)
    machine = machine_view(run.steps)
    if machine is not None:  # a state machine's run: its state, history and rejected events
        resource["machine"] = machine
    return resource


def _run_fields(run: RunInfo) -> dict[str, Any]:
    return {
        "$id": run.id, "$type": "Run", "workflow": run.workflow, "workflowId": run.workflow_id,
        "workflowVersion": run.workflow_version, "status": run.status, "input": run.input,
        "output": run.output, "error": run.error, "trigger": run.trigger,
        "eventId": run.event_id, "createdAt": run.created_at.isoformat(),
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "updatedAt": run.updated_at.isoformat(), "executions": run.executions,
        "steps": [
            {"key": s.key, "name": s.name, "kind": s.kind, "status": s.status,
             "attempts": s.attempts, "output": s.output, "error": s.error,
             "startedAt": s.started_at.isoformat() if s.started_at else None,
             "finishedAt": s.finished_at.isoformat() if s.finished_at else None,
             "wakeAt": iso(s.wake_at.timestamp()) if s.wake_at else None}
            for s in run.steps
        ],
        "history": run.history,
        "parentRunId": run.parent_run_id, "children": run.children, "state": run.state,
    }  # fmt: skip


class RunService:
    """``engine.runs``: runs of one organization (another's are reported as not found)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def get(self, org: str, run_id: str) -> dict[str, Any]:
        run = await self.engine.get_run(run_id)
        if run.org != org:
            raise RunNotFound(run_id)
        return run_resource(run)

    async def find(
        self,
        org: str,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Runs of ``org``, newest first, a page at a time (keyset ``(created_at, id)`` in SQL,
        so every run is reachable however many there are)."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidQuery(f"unknown run status {status!r}; use one of "
                               f"{', '.join(RUN_STATUSES)}")  # fmt: skip
        check_limit(limit)
        after = keyset_after(cursor, "runs", (float, str))
        store = await self.engine.opened_registry()
        rows = await store.page_runs(org, workflow, status, after, limit + 1)
        return keyset_page(rows, limit, "runs", lambda r: [r.created_at, r.id],
                           lambda r: run_resource(RunInfo.of(r)))  # fmt: skip

    async def cancel(
        self, org: str, run_id: str, *, reason: str | None = None, by: str | None = None
    ) -> dict[str, Any]:
        """Cancel a run of the organization (and its children), recording who and why."""
        await self.get(org, run_id)
        await self.engine.cancel(run_id, reason=reason, by=by)
        return await self.get(org, run_id)

    async def resume(
        self, org: str, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Resume a failed run from its failed step; return the run."""
        await self.get(org, run_id)
        await self.engine.resume(run_id, newest=newest, by=by, reason=reason)
        return await self.get(org, run_id)

    async def fork(
        self, org: str, run_id: str, step: str | int, *, newest: bool = False,
        by: str | None = None, reason: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Fork a run from ``step`` into a new run; return the new run."""
        await self.get(org, run_id)
        handle = await self.engine.fork(run_id, step, newest=newest, by=by, reason=reason)
        return await self.get(org, handle.id)

    async def retry(
        self, org: str, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Retry a run from scratch with the same input; return the new run."""
        await self.get(org, run_id)
        handle = await self.engine.retry(run_id, newest=newest, by=by, reason=reason)
        return await self.get(org, handle.id)

    async def signal(self, org: str, run_id: str, name: str, payload: Any) -> dict[str, Any]:
        """Send a signal to a run of the organization (``RunEnded`` if it has ended)."""
        await self.get(org, run_id)
        return await self.engine.signal(run_id, name, payload)
