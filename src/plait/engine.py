"""``Engine``: the entry point. It owns the registry of workflows, the store and the worker."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from plait import text, values
from plait.actions.base import ActionFn, ActionRegistry
from plait.clock import Clock, SystemClock
from plait.errors import (
    ConfigurationError,
    DuplicateWorkflow,
    InvalidArguments,
    InvalidQuery,
    RunConflict,
    RunNotFound,
    SerializationError,
    UnknownWorkflow,
)
from plait.ids import new_id
from plait.interpreter.cache import PlanCache
from plait.retry import seconds_of
from plait.runs import RunHandle, RunInfo
from plait.runtime.executor import Runtime
from plait.service import operations
from plait.settings import Settings
from plait.store.base import Store
from plait.store.records import RUN_STATUSES, ClaimedRun, NewRun, RunRecord
from plait.store.urls import open_store
from plait.worker.worker import Worker
from plait.workflow import Workflow, WorkflowFn

if TYPE_CHECKING:
    from plait.definitions.model import Definition
    from plait.store.records import WorkflowRecord
    from plait.sync import SyncEngine

log = logging.getLogger(__name__)


class Engine:
    """A plait engine: register workflows, start runs, and execute them.

    Args:
        database_url: ``sqlite:///path.db``; defaults to ``PLAIT_DATABASE_URL`` or
            ``sqlite:///./plait.db``.
        clock: the time source (``plait.testing.VirtualClock`` in tests).
        **settings: any field of :class:`plait.settings.Settings`.

    ``async with engine:`` opens the database and runs a worker until the block exits; without it,
    the engine can still start and inspect runs that other worker processes execute.
    """

    def __init__(
        self, database_url: str | None = None, *, clock: Clock | None = None, **settings: Any
    ) -> None:
        self.settings = Settings.load(database_url=database_url, **settings)
        self.clock: Clock = clock or SystemClock()
        self.registered: dict[str, Workflow] = {}
        """Workflows registered in this process: code (``@engine.workflow``) and ``define``d."""
        self.actions = ActionRegistry()
        self.services: dict[str, Any] = {"code_pool_options": {
            "size": self.settings.code_workers, "timeout": self.settings.code_timeout_seconds,
            "cpu_seconds": self.settings.code_cpu_seconds,
            "memory_mb": self.settings.code_memory_mb,
            "org_workers": self.settings.code_org_workers or max(1, self.settings.code_workers - 1),
            "max_output_bytes": self.settings.code_max_output_bytes,
        }}  # fmt: skip
        """Shared clients of built-in actions (HTTP client, code sandbox pool)."""
        self._builtins = False
        self._store: Store | None = None
        self._opening: asyncio.Lock | None = None
        self._registry_ids: dict[str, str] = {}
        from plait.service.events import EventService, Router
        from plait.service.machines import MachineService
        from plait.service.runs import RunService
        from plait.service.schedules import ScheduleService
        from plait.service.secrets import SecretService
        from plait.service.tasks import TaskService
        from plait.service.webhooks import WebhookService
        from plait.service.workflows import WorkflowService

        self.workflows = WorkflowService(self)
        """The workflow registry and lifecycle (stored workflows, by organization)."""
        self.events = EventService(self)
        self.runs = RunService(self)
        self.schedules = ScheduleService(self)
        self.webhooks = WebhookService(self)
        self.tasks = TaskService(self)
        """Human tasks: inboxes, and completing a task (which resumes its run)."""
        self.machines = MachineService(self)
        """State machines: sending an event to an instance, and instances with their history."""
        self.secrets = SecretService(self)
        """Secrets of organizations: write-only, sealed with ``PLAIT_SECRET_KEY``."""
        self._router = Router(self)
        self._plans = PlanCache()
        """Stored versions compiled in this process (bounded; see ``_resolve``)."""
        self._threads: ThreadPoolExecutor | None = None
        self.worker: Worker | None = None

    def __repr__(self) -> str:
        return f"<Engine {self.settings.database_url} workflows={sorted(self.registered)}>"

    # -- registry ---------------------------------------------------------------------------

    @overload
    def workflow(self, name: WorkflowFn) -> Workflow: ...

    @overload
    def workflow(
        self,
        name: str | None = None,
        *,
        timeout: float | timedelta | None = None,
        trigger: str | list[str] | None = None,
    ) -> Callable[[WorkflowFn], Workflow]: ...

    def workflow(
        self,
        name: str | WorkflowFn | None = None,
        *,
        timeout: float | timedelta | None = None,
        trigger: str | list[str] | None = None,
    ) -> Workflow | Callable[[WorkflowFn], Workflow]:
        """Register ``async def f(ctx: Context, ...)`` as a workflow (name defaults to f's).

        ``timeout`` bounds each run from its start to its end, waits included. ``trigger``
        names event types that start a run (with the event's data as the argument).
        """
        if callable(name):
            return self.workflow()(name)

        def register(fn: WorkflowFn) -> Workflow:
            wf_name = name or fn.__name__
            if wf_name in self.registered:
                raise DuplicateWorkflow(wf_name)
            limit = None if timeout is None else seconds_of(timeout)
            triggers = tuple([trigger] if isinstance(trigger, str) else trigger or ())
            wf = Workflow(wf_name, fn, limit, triggers=triggers)
            self.registered[wf_name] = wf
            return wf

        return register

    def action(self, name: str | None = None) -> Callable[[ActionFn], ActionFn]:
        """Register a callable as the action ``name`` (default: its function name).

        It is called with the step's resolved input, and with an ``ActionContext`` too if it
        takes a second parameter. Sync callables run in the step thread pool.
        """

        def register(fn: ActionFn) -> ActionFn:
            self.actions.register(name or fn.__name__, fn)
            return fn

        return register

    def define(self, document: Definition | dict[str, Any] | str | Path) -> Workflow:
        """Register a declarative workflow (a definition, a dict, or a JSON/YAML file path).

        The document is validated against every dialect rule and the registered actions; an
        invalid one raises ``InvalidDefinition`` listing every problem, and nothing is registered.
        One over a limit of the settings (``max_steps``, ...) raises ``LimitExceeded``.
        """
        from plait.interpreter.define import build_workflow

        self.prepare_actions()
        workflow, plan = build_workflow(document, self.actions, self.services, self.settings)
        if plan.definition.machine is not None:
            reason = "a state machine is a stored workflow: create, activate, then send events"
            raise InvalidArguments(workflow.name, reason)
        if workflow.name in self.registered:
            raise DuplicateWorkflow(workflow.name)
        self.registered[workflow.name] = workflow
        return workflow

    def prepare_actions(self) -> None:
        """Register the built-in actions (http, emit, log, code, records) once."""
        if self._builtins:
            return
        from plait.actions.builtin import register_builtins
        from plait.actions.code_action import code_action

        register_builtins(self.actions)
        if not self.actions.known("code"):
            self.actions.register("code", code_action)
        self._builtins = True

    def reconfigured(self, *, clock: Clock | None = None, **settings: Any) -> Engine:
        """A new engine with this one's workflows and actions (copied) on other settings."""
        merged = {**dataclasses.asdict(self.settings), **settings}
        other = Engine(clock=clock or self.clock, **merged)
        other.registered.update(self.registered)
        other.actions = self.actions.copy()
        other._builtins = self._builtins
        return other

    def get_workflow(self, workflow: Workflow | str) -> Workflow:
        name = workflow if isinstance(workflow, str) else workflow.name
        found = self.registered.get(name)
        if found is None:
            raise UnknownWorkflow(name, list(self.registered))
        return found

    # -- lifecycle --------------------------------------------------------------------------

    async def opened_store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        if self._store is None:
            # Concurrent first uses (say, a gather of starts) must open one store, not one each,
            # and none may use it before the registry ids are known.
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._store is None:
                    self._store = await self._open_store()
        return self._store

    async def _open_store(self) -> Store:
        store = open_store(self.settings, router=self._router, on_runnable=self._wake_worker)
        await store.open()
        try:
            if not isinstance(store, Store):
                raise ConfigurationError(
                    f"{type(store).__name__} does not implement the plait Store protocol"
                )
            await self._sync_registry(store)
        except BaseException:
            await store.close()
            raise
        return store

    async def opened_registry(self) -> Store:
        """The store, opened (the registry verbs are part of the Store protocol)."""
        return await self.opened_store()

    def registry_store(self) -> Store:
        """The store, already opened by an earlier ``opened_store()``."""
        if self._store is None:
            raise ConfigurationError("the store is not open yet: await engine.opened_store()")
        return self._store

    async def _sync_registry(self, store: Store) -> None:
        """Show this process's registered workflows in the registry (read-only, org default)."""
        from plait.store.records import WorkflowRecord

        now = self.clock.time()
        for workflow in self.registered.values():
            record = WorkflowRecord("default", new_id("workflow", 8), workflow.name, "code",
                                    "Activated", 1, {"name": workflow.name}, 0, 0, 0, 0, None,
                                    now, now)  # fmt: skip
            stored = await store.upsert_code_workflow(record, workflow.triggers)
            if stored.kind == "code":
                self._registry_ids[workflow.name] = stored.id

    def _wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def known_action(self, name: str) -> bool:
        self.prepare_actions()
        return self.actions.known(name)

    async def __aenter__(self) -> Engine:
        await self.start_worker()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start_worker(self) -> Worker:
        """Open the store and start this engine's worker (idempotent)."""
        if self.worker is None or not self.worker.running:
            store = await self.opened_store()
            self._threads = ThreadPoolExecutor(self.settings.step_threads, "plait-step")
            runtime = Runtime(store, self.clock, self.settings, self._threads)
            self.worker = Worker(runtime, self.registered, resolve=self._resolve,
                                 periodic=self.schedules.tick)  # fmt: skip
            await self.worker.start()
        return self.worker

    async def close(self) -> None:
        """Stop the worker gracefully and close the database."""
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
        await self._close_services()
        if self._store is not None:
            await self._store.close()
            self._store = None
        self._opening = None  # a lock is bound to the event loop it first waited in

    async def _close_services(self) -> None:
        if not self._builtins:
            return
        from plait.actions.builtin import close_builtins
        from plait.actions.code_action import close_code_pool

        await close_code_pool(self.services)
        await close_builtins(self.services)

    async def run_worker(self) -> None:
        """Run the worker until SIGTERM or SIGINT, then stop gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            worker = await self.start_worker()
            log.info("worker running with workflows: %s", ", ".join(sorted(self.registered)))
            signalled = asyncio.ensure_future(stop.wait())
            stopped = asyncio.ensure_future(worker.wait())
            try:
                await asyncio.wait({signalled, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                signalled.cancel()
            if stopped.done():
                stopped.result()  # raises the error of the loop that died
            else:
                stopped.cancel()
                log.info("signal received; stopping gracefully")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.close()

    def sync(self, *, worker: bool = True) -> SyncEngine:
        """A blocking facade for scripts: ``with engine.sync() as plait: plait.start(...)``."""
        from plait.sync import SyncEngine

        return SyncEngine(self, worker=worker)

    # -- runs -------------------------------------------------------------------------------

    async def start(
        self,
        workflow: Workflow | str,
        *args: Any,
        run_id: str | None = None,
        timeout: float | timedelta | None = None,
    ) -> RunHandle:
        """Start a run of ``workflow`` with ``args`` and return its handle.

        With ``run_id`` the start is idempotent: a second start with the same id returns the
        existing run and executes nothing again. ``timeout`` overrides the workflow's.
        """
        wf = self.get_workflow(workflow)
        wf.check_arguments(args)
        text.check(run_id, "$.run_id")
        try:
            data = values.encode(list(args))
        except TypeError as exc:
            what = f"the input of workflow {wf.name!r}"
            raise SerializationError(what, values.offending_type(list(args)), str(exc)) from exc
        store = await self.opened_store()  # opening it fills in the registry ids
        now = self.clock.time()
        limit = seconds_of(timeout) if timeout is not None else wf.timeout
        run = NewRun(run_id or new_id("run"), wf.name, data, now,
                     None if limit is None else now + limit,
                     workflow_id=self._registry_ids.get(wf.name))  # fmt: skip
        record, created = await self._create_run(store, run)
        if not created and record.workflow != wf.name:
            raise RunConflict(run.id, record.workflow)
        return RunHandle(self, run.id, wf.name)

    async def start_stored(
        self, record: WorkflowRecord, args: list[Any], *, trigger: str = "manual"
    ) -> dict[str, Any]:
        """Start a run of a stored workflow, pinned to its current version; return the run."""
        from plait.service.runs import run_resource

        try:
            data = values.encode(args)
        except TypeError as exc:
            what = f"the input of workflow {record.name!r}"
            raise SerializationError(what, values.offending_type(args), str(exc)) from exc
        if record.kind == "definition":
            version = await self.registry_store().get_workflow_version(
                record.org, record.id, record.version)  # fmt: skip
            assert version is not None
            self._plan_workflow(record.org, record.id, record.version, version.definition)
        elif record.name in self.registered:
            self.registered[record.name].check_arguments(tuple(args[:1]))
        now = self.clock.time()
        version_no = record.version if record.kind == "definition" else None
        run = NewRun(new_id("run"), record.name, data if version_no else values.encode(args[:1]),
                     now, org=record.org, trigger=trigger, workflow_id=record.id,
                     workflow_version=version_no)  # fmt: skip
        await self._create_run(await self.opened_store(), run)
        return run_resource(await self.get_run(run.id))

    async def _create_run(self, store: Store, run: NewRun) -> tuple[RunRecord, bool]:
        """Create ``run``: this process's worker executes it at once if it has a free slot,
        else it is stored ``pending`` for a worker's claim."""
        if self.worker is not None:
            return await self.worker.submit(run)
        return await store.create_run(run)

    async def _resolve(self, run: ClaimedRun) -> Workflow:
        """The workflow that executes ``run``: registered code, or a stored version."""
        if run.workflow_version is None or run.workflow_id is None:
            return self.get_workflow(run.workflow)
        key = (run.org, run.workflow_id, run.workflow_version)
        if key not in self._plans:
            stored = await self.registry_store().get_workflow_version(*key)
            if stored is None:
                raise UnknownWorkflow(f"{run.workflow} v{run.workflow_version}")
            self._plan_workflow(*key, stored.definition)
        return self._plans[key]

    def _plan_workflow(
        self, org: str, workflow_id: str, version: int, data: dict[str, Any]
    ) -> None:
        from plait.definitions.model import Definition
        from plait.interpreter.define import build_workflow

        key = (org, workflow_id, version)
        if key not in self._plans:
            self.prepare_actions()
            definition = Definition.model_validate(data)
            self._plans[key] = build_workflow(definition, self.actions, self.services)[0]

    def handle(self, run_id: str, workflow: str = "") -> RunHandle:
        """A handle on an existing run, to wait for its result."""
        return RunHandle(self, run_id, workflow)

    async def get_run(self, run_id: str) -> RunInfo:
        """The run with its steps and the operations done on it; ``RunNotFound`` if there is
        none."""
        record = await (await self.opened_store()).get_run(run_id)
        if record is None:
            raise RunNotFound(run_id)
        history = await self.run_history(run_id)
        state, children = await self.registry_store().run_published(run_id)
        info = RunInfo.of(record)
        return dataclasses.replace(info, history=history, state=state, children=children)

    async def list_runs(
        self,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        org: str | None = None,
    ) -> list[RunInfo]:
        """Runs, newest first, optionally of one workflow and in one status (steps omitted)."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidQuery(
                f"unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}"
            )
        records = await (await self.opened_store()).list_runs(workflow, status, limit, org)
        return [RunInfo.of(r) for r in records]

    async def cancel(
        self, run_id: str, *, reason: str | None = None, by: str | None = None
    ) -> RunInfo:
        """Cancel a run: it ends ``cancelled`` and never runs another step; so do its children.

        ``reason`` and ``by`` are recorded in the run's history and error. A run that already
        ended keeps its status, but its live descendants are cancelled all the same (say the
        children a succeeded run started with ``wait: false``).
        """
        store = await self.opened_store()
        done = await store.cancel_run(run_id, self.clock.time(), reason=reason, actor=by)
        if done is None:
            raise RunNotFound(run_id)
        if self.worker is not None:
            # A child may be mid-step here: the store fences it out, but only cancelling its
            # task stops the step's side effects.
            for cancelled in done.cancelled:
                self.worker.cancel_local(cancelled)
        return dataclasses.replace(RunInfo.of(done.run), history=await self.run_history(run_id))

    async def resume(
        self, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """Resume a failed run from its failed step: the steps recorded before it are kept, the
        failed step runs again. ``newest`` moves a definition's run to the workflow's newest
        version. ``RunNotResumable`` unless the run failed."""
        done = await operations.resume(self, run_id, newest=newest, by=by, reason=reason)
        return RunHandle(self, done.run_id, done.workflow)

    async def fork(
        self, run_id: str, step: str | int, *, newest: bool = False, by: str | None = None,
        reason: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """Start a new run of the same workflow and input that reuses the finished steps
        recorded before ``step`` (a step key, or its 1-based number) and executes from there.
        ``StepNotFound`` if the run has no such step."""
        done = await operations.copy(self, run_id, "fork", step=step, newest=newest, by=by,
                                     reason=reason)  # fmt: skip
        return RunHandle(self, done.run_id, done.workflow)

    async def retry(
        self, run_id: str, *, newest: bool = False, by: str | None = None,
        reason: str | None = None,
    ) -> RunHandle:  # fmt: skip
        """Start a new run of the same workflow with the same input, from scratch."""
        done = await operations.copy(self, run_id, "retry", newest=newest, by=by, reason=reason)
        return RunHandle(self, done.run_id, done.workflow)

    async def run_history(self, run_id: str) -> list[dict[str, Any]]:
        """The operations recorded on a run (cancel, resume, fork, retry), oldest first."""
        entries = await (await self.opened_registry()).run_history(run_id)
        return [operations.history_resource(e) for e in entries]

    # -- signals and published state ----------------------------------------------------------

    async def signal(self, run_id: str, name: str, payload: Any = None) -> dict[str, Any]:
        """Send the signal ``name`` with a JSON ``payload`` to one run; its ``ctx.receive(name)``
        gets it, exactly once and in the order sent, whether it already waits or not.

        Returns ``{runId, name, seq, delivered}`` (``delivered``: a waiting receive took it at
        once). Raises ``RunNotFound`` for an unknown run and ``RunEnded`` for one that ended.
        """
        try:
            data = values.encode(payload)
        except TypeError as exc:
            what = f"the payload of signal {name!r}"
            raise SerializationError(what, values.offending_type(payload), str(exc)) from exc
        store = await self.opened_registry()
        sent = await store.send_signal(run_id, name, data, self.clock.time())
        return {"runId": sent.run_id, "name": sent.name, "seq": sent.seq,
                "delivered": sent.step is not None}  # fmt: skip

    async def get_state(self, run_id: str, key: str | None = None) -> Any:
        """What a run published with ``ctx.set_state``: the value under ``key`` (``None`` if
        it has none), or every value as a dict. ``RunNotFound`` if there is no such run."""
        store = await self.opened_registry()
        if await store.run_state(run_id) is None:
            raise RunNotFound(run_id)
        published = await store.run_values(run_id)
        return published if key is None else published.get(key)
