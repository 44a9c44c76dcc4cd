"""``engine.runs``: starting runs, reading them and operating on them, one organization at a
time (another organization's runs are reported as not found)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from plait import text, tracing, values
from plait.errors import RunConflict, RunNotFound, SerializationError
from plait.ids import new_id
from plait.retry import seconds_of
from plait.service import concurrency, operations
from plait.service.audit import Audited, actor_data, audited
from plait.service.business_metrics import includes, run_measurements
from plait.service.handles import RunHandle
from plait.service.idempotency import Request, once
from plait.service.pages import check_limit, keyset_after, keyset_cursor, keyset_slice
from plait.service.progress import run_progress
from plait.service.run_filters import Moment, RunFilters, resolve, start_after
from plait.service.start_limits import throttled
from plait.store.records import NewRun, RunRecord

if TYPE_CHECKING:
    from plait.resources.bulk import BulkResult
    from plait.resources.runs import Run, RunPage, Signal
    from plait.service.deps import Deps
    from plait.store.records import WorkflowRecord
    from plait.workflow import Workflow


def encoded(value: Any, what: str) -> bytes:
    """``value`` as stored JSON; ``SerializationError`` naming ``what`` if it is not JSON."""
    try:
        return values.encode(value)
    except TypeError as exc:
        raise SerializationError(what, values.offending_type(value), str(exc)) from exc


class RunService:
    """``engine.runs``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    # -- starting -------------------------------------------------------------------------

    async def start(
        self,
        workflow: Workflow | str,
        args: tuple[Any, ...] = (),
        *,
        run_id: str | None = None,
        timeout: float | timedelta | None = None,
        priority: int | None = None,
        debounce: Any = None,
    ) -> RunHandle:
        """Start a run of a workflow registered in this process (organization ``default``).

        With ``run_id`` the start is idempotent: a second start with the same id returns the
        existing run and executes nothing again. ``timeout`` overrides the workflow's;
        ``priority`` (-10 to 10) and ``debounce`` (``{key, delay}`` or ``(key, seconds)``)
        the workflow's flow control (docs/flow-control.md): the handle may then be that of an
        existing run (a debounced start joins its key's run, a singleton ``skip`` returns it).
        """
        catalog = self.deps.catalog
        wf = catalog.get(workflow if isinstance(workflow, str) else workflow.name)
        run_id = run_id or new_id("run")
        # Recorded only when an interface or ``engine.audit.acting`` set an actor: a plain
        # ``engine.start`` is the hot path, and writes nothing more than the run.
        async with audited(self.deps, "default", "start", "run", run_id, run=run_id,
                           optional=True) as change:  # fmt: skip
            change.details = {"workflow": wf.name}
            wf.check_arguments(args)
            text.check(run_id, "$.run_id")
            data = encoded(list(args), f"the input of workflow {wf.name!r}")
            store = await self.deps.store()  # opening it fills in the registry ids
            now = self.deps.now()
            limit = seconds_of(timeout) if timeout is not None else wf.timeout
            control = concurrency.with_debounce(wf.name, wf.flow, debounce)
            scope = {"input": args[0] if len(args) == 1 else list(args), "args": list(args)}
            flow = concurrency.run_flow(wf.name, control, scope, now, priority=priority)
            flow = throttled(wf, scope, flow)
            with tracing.run_start(wf.name, "default", "api", run_id):
                run = NewRun(run_id, wf.name, data, now, None if limit is None else now + limit,
                             workflow_id=catalog.registry_ids.get(wf.name),
                             trace_context=tracing.carrier(), flow=flow)  # fmt: skip
                record, created = await self.deps.local.create_run(store, run)
            if not created and record.workflow != wf.name:
                raise RunConflict(run.id, record.workflow)
            if created and control is not None:
                await concurrency.settle(self.deps, store, "default", wf.name, record.id, flow,
                                         control.concurrency_limit)  # fmt: skip
            return self.handle("default", record.id, wf.name)

    async def start_stored(
        self, record: WorkflowRecord, input: Any, *, trigger: str = "manual",
        priority: int | None = None,
    ) -> Run:  # fmt: skip
        """Start a run of a stored workflow, pinned to its current version; return the run
        (audited as a ``start`` when an actor is set and no outer verb records it). With
        flow control (docs/flow-control.md) the run may be an existing one (a singleton
        ``skip``)."""
        run_id = new_id("run")
        async with audited(self.deps, record.org, "start", "run", run_id, run=run_id,
                           optional=True) as change:  # fmt: skip
            change.details = {"workflow": record.name, "workflowVersion": record.version}
            return await self._start_stored(record, input, trigger, run_id, priority)

    async def _start_stored(
        self, record: WorkflowRecord, input: Any, trigger: str, run_id: str,
        priority: int | None = None,
    ) -> Run:  # fmt: skip
        store = await self.deps.store()
        data = encoded([input], f"the input of workflow {record.name!r}")
        version_no = record.version if record.kind == "definition" else None
        wf: Workflow | None = None
        if version_no is not None:
            version = await store.get_workflow_version(record.org, record.id, version_no)
            assert version is not None
            wf = self.deps.catalog.plan(record.org, record.id, version_no, version.definition)
        elif record.name in self.deps.catalog.workflows:
            wf = self.deps.catalog.workflows[record.name]
            wf.check_arguments((input,))
        now = self.deps.now()
        control = wf.flow if wf is not None else None
        scope = {"input": input, "args": [input]}
        flow = concurrency.run_flow(record.name, control, scope, now, priority=priority)
        flow = throttled(wf, scope, flow)
        with tracing.run_start(record.name, record.org, trigger, run_id):
            run = NewRun(run_id, record.name, data, now, org=record.org,
                         trigger=trigger, workflow_id=record.id, workflow_version=version_no,
                         trace_context=tracing.carrier(), actor=actor_data(),
                         flow=flow)  # fmt: skip
            created_run, created = await self.deps.local.create_run(store, run)
        if created and control is not None:
            await concurrency.settle(self.deps, store, record.org, record.name, created_run.id,
                                     flow, control.concurrency_limit)  # fmt: skip
        return await self.get(record.org, created_run.id)

    # -- reading --------------------------------------------------------------------------

    def handle(self, org: str, run_id: str, workflow: str = "") -> RunHandle:
        """A handle on a run of ``org``: its result, and the operations on it."""
        return RunHandle(self, org, run_id, workflow)

    async def get(
        self, org: str, run_id: str, *, include: str | Iterable[str] | None = None
    ) -> Run:
        """The run with its steps, history, children and published state; ``include``
        (``"metrics,audit"`` or names) adds its business metric values and its audit
        entries (brief 001 ``getStatus(id, {includeMetrics, includeAuditTrail})``).
        ``InvalidParameter`` names an unknown part."""
        parts = includes(include)
        store = await self.deps.store()
        record = await store.get_run(run_id)
        if record is None or record.org != org:
            raise RunNotFound(run_id)
        history = await store.run_history(run_id)
        state, children = await store.run_published(run_id)
        from plait.resources.runs import Run  # the models load on first use

        progress = await run_progress(self.deps, store, record)
        run = Run.of(record, history=history, state=state, children=children,
                     progress=progress)  # fmt: skip
        if record.finished_at is not None:  # only an ended run may have been priced
            run = await self._priced(run)
        return await self._included(org, run, parts) if parts else run

    async def _priced(self, run: Run) -> Run:
        """``run`` with its cost, when it was priced (one read by its id)."""
        from plait.service.costs import CostService

        cost = await CostService(self.deps).of_run(run.id)
        return run if cost is None else run.model_copy(update={"cost": cost})

    async def _included(self, org: str, run: Run, parts: frozenset[str]) -> Run:
        """``run`` with the parts ``include`` asked for."""
        added: dict[str, Any] = {}
        if "metrics" in parts:
            added["metrics"] = await run_measurements(self.deps, run.id)
        if "audit" in parts:
            from plait.service.audit import AuditService

            added["audit"] = await AuditService(self.deps).of_run(org, run.id)
        return run.model_copy(update=added)

    async def find(
        self, org: str, *, workflow: str | None = None, status: str | None = None,
        outcome: str | None = None, trigger: str | None = None,
        created_after: Moment | None = None, created_before: Moment | None = None,
        search: str | None = None, limit: int = 100, cursor: str | None = None,
    ) -> RunPage:  # fmt: skip
        """Runs of ``org``, newest first, a page at a time (keyset ``(created_at, id)`` in SQL,
        so every run is reachable however many there are). Steps are left out.

        Filters (:class:`~plait.service.run_filters.RunFilters`): ``workflow`` (a name or a
        ``$id``), ``status``, ``outcome``, ``trigger``, ``created_after`` (inclusive) and
        ``created_before``; ``search`` a run id or its prefix, an event id (the runs it started
        or woke) or ``input.path=value``. An outcome, trigger or input filter is checked on at
        most ``run_search_scan`` runs per page: a page may then be short, or empty, and still
        have a ``next_cursor`` to read on. ``InvalidParameter`` names a value not accepted.
        """
        filters = RunFilters(workflow, status, outcome, trigger, created_after, created_before,
                             search)  # fmt: skip
        return await self.find_where(org, filters, limit=limit, cursor=cursor)

    async def find_where(
        self, org: str, filters: RunFilters, *, limit: int = 100, cursor: str | None = None
    ) -> RunPage:
        """:meth:`find` with its filters as one value (what a bulk operation takes too)."""
        check_limit(limit)
        after = keyset_after(cursor, "runs", (float, str))
        resolved = await resolve(self.deps, org, filters)
        from plait.resources.runs import Run, RunPage

        if resolved.empty:
            return RunPage(items=[], next_cursor=None)
        store = await self.deps.store()
        start = start_after(after, resolved.before)
        read = await store.page_runs(org, resolved.where, start, limit + 1,
                                     self.deps.settings.run_search_scan)  # fmt: skip
        shown, cursor = keyset_slice(read.runs, limit, "runs", _keyset)
        if cursor is None and read.last is not None:
            cursor = keyset_cursor("runs", _keyset(read.last))
        return RunPage(items=[Run.listed(r) for r in shown], next_cursor=cursor)

    async def bulk(
        self, org: str, action: str, *, ids: Sequence[str] | None = None,
        where: RunFilters | Mapping[str, Any] | None = None, by: str | None = None,
        reason: str | None = None,
    ) -> BulkResult:  # fmt: skip
        """Cancel, retry or resume the runs ``ids``, or every run matching ``where`` (the
        filters of :meth:`find`, as ``RunFilters`` or a dict: ``{"status": "failed"}``), each
        through :meth:`cancel`, :meth:`retry` or :meth:`resume` (audited one by one); what
        happened to each (:mod:`plait.service.bulk`)."""
        from plait.service.bulk import bulk

        filters = RunFilters.of(where) if isinstance(where, Mapping) else where
        return await bulk(self, org, action, ids=ids, where=filters, by=by, reason=reason)

    async def state(self, org: str, run_id: str, key: str | None = None) -> Any:
        """What a run published with ``ctx.set_state``: the value under ``key`` (``None`` if it
        has none), or every value as a dict."""
        await self._owned(org, run_id)
        published = await (await self.deps.store()).run_values(run_id)
        return published if key is None else published.get(key)

    async def _owned(self, org: str, run_id: str) -> None:
        record = await (await self.deps.store()).get_run(run_id, with_steps=False)
        if record is None or record.org != org:
            raise RunNotFound(run_id)

    # -- operations -----------------------------------------------------------------------

    async def cancel(
        self, org: str, run_id: str, *, reason: str | None = None, by: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:  # fmt: skip
        """Cancel a run: it ends ``cancelled`` and never runs another step; so do its children.

        ``reason`` and ``by`` are recorded in the run's history and error. A run that already
        ended keeps its status, but its live descendants are cancelled all the same (say the
        children a succeeded run started with ``wait: false``). With ``idempotency_key`` a
        repeat answers the run as it is now and cancels nothing (``plait.service.idempotency``).
        """
        request = Request(f"runs.cancel {run_id}", {"run": run_id, "reason": reason})
        async with self._audited(org, "cancel", run_id, by):
            return await self._once(
                org, idempotency_key, request, lambda: self._cancel(org, run_id, reason, by)
            )

    def _audited(self, org: str, verb: str, run_id: str, by: str | None) -> Audited:
        """The audit entry of an operation on the run ``run_id``."""
        return audited(self.deps, org, verb, "run", run_id, run=run_id, by=by)

    async def _once(
        self, org: str, key: str | None, request: Request, act: Callable[[], Awaitable[Run]]
    ) -> Run:
        """``act()`` once per idempotency ``key``: a repeat answers the run it answered, as that
        run is now (its status while it runs, its output once it ended)."""
        return await once(self.deps, org, key, request, act, keep=_run_id,
                          recall=lambda kept: self.get(org, kept["run"]))  # fmt: skip

    async def _cancel(self, org: str, run_id: str, reason: str | None, by: str | None) -> Run:
        await self._owned(org, run_id)
        store = await self.deps.store()
        done = await store.cancel_run(run_id, self.deps.now(), reason=reason, actor=by)
        if done is None:
            raise RunNotFound(run_id)
        # A child may be mid-step here: the store fences it out, but only cancelling its job
        # stops the step's side effects.
        self.deps.local.cancel(done.cancelled)
        return await self.get(org, run_id)

    async def resume(
        self, org: str, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None, idempotency_key: str | None = None,
    ) -> Run:  # fmt: skip
        """Resume a failed run from its failed step: the steps recorded before it are kept, the
        failed step runs again. ``newest`` moves a definition's run to the workflow's newest
        version. ``RunNotResumable`` unless the run failed. With ``idempotency_key`` a repeat
        answers the run as it is now and resumes nothing again."""
        request = Request(f"runs.resume {run_id}",
                          {"run": run_id, "newest": newest, "reason": reason})  # fmt: skip
        async with self._audited(org, "resume", run_id, by):
            act = partial(self._resume, org, run_id, newest, by, reason)
            return await self._once(org, idempotency_key, request, act)

    async def _resume(
        self, org: str, run_id: str, newest: bool, by: str | None, reason: str | None
    ) -> Run:
        await self._owned(org, run_id)
        await operations.resume(self.deps, run_id, newest=newest, by=by, reason=reason)
        return await self.get(org, run_id)

    async def fork(
        self, org: str, run_id: str, step: str | int, *, newest: bool = False,
        by: str | None = None, reason: str | None = None, idempotency_key: str | None = None,
    ) -> Run:  # fmt: skip
        """Start a new run of the same workflow and input that reuses the finished steps
        recorded before ``step`` (a step key, or its 1-based number) and executes from there;
        return the new run. ``StepNotFound`` if the run has no such step. With
        ``idempotency_key`` a repeat answers the first fork's run as it is now."""
        arguments = {"run": run_id, "step": step, "newest": newest, "reason": reason}
        request = Request(f"runs.fork {run_id}", arguments)
        async with self._audited(org, "fork", run_id, by) as change:
            change.details = {"step": step}
            act = partial(self._fork, org, run_id, step, newest, by, reason)
            new = await self._once(org, idempotency_key, request, act)
            change.details["newRun"] = new.id
            return new

    async def _fork(
        self, org: str, run_id: str, step: str | int, newest: bool, by: str | None,
        reason: str | None,
    ) -> Run:  # fmt: skip
        await self._owned(org, run_id)
        new = await operations.copy(self.deps, run_id, "fork", step=step, newest=newest, by=by,
                                    reason=reason)  # fmt: skip
        return await self.get(org, new)

    async def retry(
        self, org: str, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None, idempotency_key: str | None = None,
    ) -> Run:  # fmt: skip
        """Start a new run of the same workflow with the same input, from scratch; return it.
        With ``idempotency_key`` a repeat answers the first retry's run as it is now."""
        request = Request(f"runs.retry {run_id}",
                          {"run": run_id, "newest": newest, "reason": reason})  # fmt: skip
        async with self._audited(org, "retry", run_id, by) as change:
            act = partial(self._retry, org, run_id, newest, by, reason)
            new = await self._once(org, idempotency_key, request, act)
            change.details = {"newRun": new.id}
            return new

    async def _retry(
        self, org: str, run_id: str, newest: bool, by: str | None, reason: str | None
    ) -> Run:
        await self._owned(org, run_id)
        new = await operations.copy(self.deps, run_id, "retry", newest=newest, by=by,
                                    reason=reason)  # fmt: skip
        return await self.get(org, new)

    async def signal(
        self, org: str, run_id: str, name: str, payload: Any = None, *,
        idempotency_key: str | None = None,
    ) -> Signal:  # fmt: skip
        """Send the signal ``name`` with a JSON ``payload`` to a run; its ``ctx.receive(name)``
        gets it, exactly once and in the order sent, whether it already waits or not.
        ``RunNotFound`` for an unknown run and ``RunEnded`` for one that ended. With
        ``idempotency_key`` a repeat answers the first answer and sends nothing again."""
        from plait.resources.runs import Signal

        request = Request(f"runs.signal {run_id} {name}",
                          {"run": run_id, "name": name, "payload": payload})  # fmt: skip

        async def recall(kept: Any) -> Signal:
            return Signal.model_validate(kept)

        async with self._audited(org, "signal", run_id, None) as change:
            change.details = {"signal": name}
            return await once(self.deps, org, idempotency_key, request,
                              lambda: self._signal(org, run_id, name, payload),
                              keep=lambda sent: sent.wire(), recall=recall)  # fmt: skip

    async def _signal(self, org: str, run_id: str, name: str, payload: Any) -> Signal:
        await self._owned(org, run_id)
        data = encoded(payload, f"the payload of signal {name!r}")
        store = await self.deps.store()
        sent = await store.send_signal(run_id, name, data, self.deps.now())
        from plait.resources.runs import Signal

        return Signal(run_id=sent.run_id, name=sent.name, seq=sent.seq,
                      delivered=sent.step is not None)  # fmt: skip


def _run_id(run: Run) -> dict[str, str]:
    """What an operation that answers a run keeps for its repeats: the run's id."""
    return {"run": run.id}


def _keyset(run: RunRecord) -> list[Any]:
    """A run's place in the runs listing: ``(created_at, id)``."""
    return [run.created_at, run.id]
