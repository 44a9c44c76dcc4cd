"""``RunHandle``: one run, and everything a caller can do with it (as ``temporalio``'s
``WorkflowHandle``): wait for its result, read it, cancel, resume, fork or retry it, signal it,
read what it published."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import ResultTimeout, RunNotFound, WorkflowCancelled, WorkflowFailed
from plait.store.records import TERMINAL

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from plait.resources.runs import Run, Signal
    from plait.resources.streams import Change
    from plait.service.runs import RunService


class RunHandle:
    """A run of an organization (``default`` for code workflows started from Python)."""

    def __init__(self, runs: RunService, org: str, run_id: str, workflow: str = "") -> None:
        self._runs = runs
        self.org = org
        self.id = run_id
        self.workflow = workflow

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} of {self.workflow!r}>"

    def watch(self, *, after: str | None = None) -> AsyncIterator[Change]:
        """The run's changes as they happen (status transitions, step changes, progress),
        after cursor ``after`` (a change's ``id``), until it ends."""
        from plait.service.streams import StreamService

        return StreamService(self._runs.deps).run(self.org, self.id, after=after)

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end and return its output.

        Raises ``WorkflowFailed`` (with the stored error), ``WorkflowCancelled``, or
        ``ResultTimeout`` when ``timeout`` seconds pass first.
        """
        try:
            return await asyncio.wait_for(self._result(), timeout)
        except TimeoutError as exc:
            raise ResultTimeout(self.id, timeout or 0.0) from exc

    async def _result(self) -> Any:
        deps = self._runs.deps
        store = await deps.store()
        poll = 0.005
        while True:
            local = deps.local.ended(self.id)
            try:
                record = await store.get_run(self.id, with_steps=False)
                if record is None or record.org != self.org:
                    raise RunNotFound(self.id)
                if record.status in TERMINAL:
                    return _ended(self.id, record.status, record.output, record.error)
                if local is not None:
                    done, _ = await asyncio.wait({local}, timeout=max(poll, 1.0))
                    if done:
                        outcome = local.result()
                        return _ended(self.id, outcome.status, outcome.output, outcome.error)
                else:
                    await asyncio.sleep(poll)
                    poll = min(poll * 2, 0.25)
            finally:
                if local is not None:
                    deps.local.forget(self.id, local)

    async def info(self, *, include: str | Iterable[str] | None = None) -> Run:
        """The run as stored now, with its steps, history, children and published state;
        ``include`` (``"metrics,audit"`` or names) adds its business metric values and its
        audit entries (brief 001 ``getStatus(id, {includeMetrics, includeAuditTrail})``)."""
        return await self._runs.get(self.org, self.id, include=include)

    # Each operation takes an ``idempotency_key``: a repeat with the same key answers what the
    # first call did and does nothing again (see ``plait.service.idempotency``).

    async def cancel(
        self, *, reason: str | None = None, by: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:  # fmt: skip
        """Cancel the run and its children (see ``RunService.cancel``)."""
        return await self._runs.cancel(self.org, self.id, reason=reason, by=by,
                                       idempotency_key=idempotency_key)  # fmt: skip

    async def resume(
        self, *, newest: bool = False, by: str | None = None, reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """Resume the failed run from its failed step (see ``RunService.resume``); this handle,
        to wait for its new result."""
        await self._runs.resume(self.org, self.id, newest=newest, by=by, reason=reason,
                                idempotency_key=idempotency_key)  # fmt: skip
        return self

    async def fork(
        self, step: str | int, *, newest: bool = False, by: str | None = None,
        reason: str | None = None, idempotency_key: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """A new run that reuses the steps before ``step`` and executes from there."""
        run = await self._runs.fork(self.org, self.id, step, newest=newest, by=by, reason=reason,
                                    idempotency_key=idempotency_key)  # fmt: skip
        return RunHandle(self._runs, self.org, run.id, run.workflow)

    async def retry(
        self, *, newest: bool = False, by: str | None = None, reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """A new run of the same workflow with the same input, from scratch."""
        run = await self._runs.retry(self.org, self.id, newest=newest, by=by, reason=reason,
                                     idempotency_key=idempotency_key)  # fmt: skip
        return RunHandle(self._runs, self.org, run.id, run.workflow)

    async def signal(
        self, name: str, payload: Any = None, *, idempotency_key: str | None = None
    ) -> Signal:
        """Send the signal ``name`` with ``payload`` to the run (see ``RunService.signal``)."""
        return await self._runs.signal(self.org, self.id, name, payload,
                                       idempotency_key=idempotency_key)  # fmt: skip

    async def state(self, key: str | None = None) -> Any:
        """What the run published with ``ctx.set_state`` (one key, or all as a dict)."""
        return await self._runs.state(self.org, self.id, key)


def _ended(run_id: str, status: str, output: bytes | None, error: bytes | None) -> Any:
    if status == "succeeded":
        return values.decode(output)
    if status == "cancelled":
        info = values.decode(error) if error else None
        raise WorkflowCancelled(run_id, info.get("message") if isinstance(info, dict) else None)
    raise WorkflowFailed(run_id, values.decode(error))
