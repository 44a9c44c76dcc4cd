"""``Engine``: assembles plait in one process: the catalog of workflows and actions, the
services, the store they share, and the worker. The services decide; the engine only wires."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from plait import tracing
from plait.actions.base import ActionFn
from plait.clock import Clock, SystemClock
from plait.errors import ConfigurationError, InvalidArguments
from plait.retry import seconds_of
from plait.runtime.executor import Runtime
from plait.service.catalog import Catalog
from plait.service.deps import Deps, StoreSlot
from plait.service.housekeeping import Housekeeping
from plait.settings import Settings
from plait.worker.worker import Worker
from plait.workflow import MetricSpec, Workflow, WorkflowFn

if TYPE_CHECKING:
    from plait.definitions.model import Definition
    from plait.resources.runs import RunPage
    from plait.resources.scenario_reports import ScenarioReport
    from plait.resources.scenarios import Scenarios
    from plait.runtime.steps import StepHook
    from plait.service.audit import AuditService
    from plait.service.circuits import CircuitService
    from plait.service.costs import CostService
    from plait.service.events import EventService, Router
    from plait.service.handles import RunHandle
    from plait.service.health import HealthService
    from plait.service.keys import KeyService
    from plait.service.machines import MachineService
    from plait.service.overview import OverviewService
    from plait.service.query import QueryService
    from plait.service.retention import RetentionService
    from plait.service.runs import RunService
    from plait.service.schedules import ScheduleService
    from plait.service.secrets import SecretService
    from plait.service.step_cache import StepCacheService
    from plait.service.steps import StepService
    from plait.service.streams import StreamService
    from plait.service.tasks import TaskService
    from plait.service.webhooks import WebhookService
    from plait.service.workflow_tests import WorkflowTests
    from plait.service.workflows import WorkflowService
    from plait.store.base import Store
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
        tracing.setup(self.settings)  # on if the operator configured it (and nothing else did)
        self.clock: Clock = clock or SystemClock()
        self.catalog = Catalog(self.settings)
        """This process's code workflows, actions, clients of built-in actions, and plans."""
        self.deps = Deps(self.settings, self.clock, self.catalog, StoreSlot(self._open_store))
        """What the services are given (``await engine.deps.store()`` reaches the store)."""
        self.worker: Worker | None = None
        self.step_hook: StepHook | None = None
        """Chooses the callable of each step attempt its worker runs (``plait.testing`` mocks
        steps with it); set before the worker starts."""
        self._threads: ThreadPoolExecutor | None = None
        self._closing: asyncio.Task[None] | None = None
        self._housekeeping = Housekeeping((), self.clock.time)
        """The worker's retention passes, in the background (``start_worker`` sets them)."""

    # -- the services: each built on first use, so an engine that only runs code workflows
    # does not load what the others bring (resource models, cron, the sealing library) ----------

    @cached_property
    def runs(self) -> RunService:
        """Runs by organization: start, read, cancel, resume, fork, retry, signal."""
        from plait.service.runs import RunService

        return RunService(self.deps)

    @cached_property
    def circuits(self) -> CircuitService:
        """Circuit breakers by organization: their state, and the manual reset."""
        from plait.service.circuits import CircuitService

        return CircuitService(self.deps)

    @cached_property
    def steps(self) -> StepService:
        """A run's steps a window at a time (runs with thousands of steps)."""
        from plait.service.steps import StepService

        return StepService(self.deps)

    @cached_property
    def events(self) -> EventService:
        """Events: emit one (it starts and resumes runs), read them."""
        from plait.service.events import EventService

        return EventService(self.deps)

    @cached_property
    def schedules(self) -> ScheduleService:
        """Cron schedules of stored workflows (the worker fires them)."""
        from plait.service.schedules import ScheduleService

        return ScheduleService(self.deps)

    @cached_property
    def workflows(self) -> WorkflowService:
        """The workflow registry and lifecycle (stored workflows, by organization)."""
        from plait.service.workflows import WorkflowService

        service = WorkflowService(self.deps, self.runs, self.events, self.schedules)
        service.scenarios = self._run_scenarios
        return service

    @cached_property
    def workflow_tests(self) -> WorkflowTests:
        """A stored workflow's test scenarios: read, replace, run (see docs/testing.md)."""
        from plait.service.workflow_tests import WorkflowTests

        return WorkflowTests(self.workflows, self._run_scenarios)

    async def _run_scenarios(self, document: dict[str, Any], tests: Scenarios) -> ScenarioReport:
        """Run scenarios against ``document``, each on a throwaway engine with this one's
        settings (but its own scratch database) and none of its actions."""
        from plait.scenarios import run_scenarios

        return await run_scenarios(document, tests, settings=dataclasses.asdict(self.settings))

    @cached_property
    def webhooks(self) -> WebhookService:
        """Signed webhooks: their settings, and receiving a delivery as an event."""
        from plait.service.webhooks import WebhookService

        return WebhookService(self.deps)

    @cached_property
    def overview(self) -> OverviewService:
        """How an organization's workflows are doing over the last hour and day, and its
        event stream with the runs each event started or woke."""
        from plait.service.overview import OverviewService

        return OverviewService(self.deps)

    @cached_property
    def tasks(self) -> TaskService:
        """Human tasks: inboxes, and completing a task (which resumes its run)."""
        from plait.service.tasks import TaskService

        return TaskService(self.deps)

    @cached_property
    def machines(self) -> MachineService:
        """State machines: sending an event to an instance, and instances with their history."""
        from plait.service.machines import MachineService

        return MachineService(self.deps, self.runs)

    @cached_property
    def query(self) -> QueryService:
        """One query over every resource type: a page ``{type, filter, sort, limit, cursor}``
        or one resource ``{type, id}`` (``POST /~{org}/query``, the MCP server's ``query``)."""
        from plait.service.query import QueryService

        return QueryService(self.deps, workflows=self.workflows, runs=self.runs,
                            events=self.events, tasks=self.tasks, schedules=self.schedules,
                            webhooks=self.webhooks, machines=self.machines)  # fmt: skip

    @cached_property
    def secrets(self) -> SecretService:
        """Secrets of organizations: write-only, sealed with ``PLAIT_SECRET_KEY``."""
        from plait.service.secrets import SecretService

        return SecretService(self.deps)

    @cached_property
    def keys(self) -> KeyService:
        """API keys of organizations: create, list, revoke, and authenticate a presented key."""
        from plait.service.keys import KeyService

        return KeyService(self.deps)

    @cached_property
    def costs(self) -> CostService:
        """What runs cost by their workflow's pricing: per workflow, organization and month
        (``summary``), and per run (docs/costs.md)."""
        from plait.service.costs import CostService

        return CostService(self.deps)

    @cached_property
    def audit(self) -> AuditService:
        """The audit trail: who changed what, when, from where; ``acting`` says who acts."""
        from plait.service.audit import AuditService

        return AuditService(self.deps)

    @cached_property
    def retention(self) -> RetentionService:
        """Retention of ended runs: policies, purges, the worker's pruner, archives."""
        from plait.service.retention import RetentionService

        return RetentionService(self.deps)

    @cached_property
    def step_cache(self) -> StepCacheService:
        """The step-result cache: list, clear (per workflow or namespace); the worker prunes."""
        from plait.service.step_cache import StepCacheService

        return StepCacheService(self.deps)

    @cached_property
    def streams(self) -> StreamService:
        """Live streams: a run's changes, an organization's run transitions and events."""
        from plait.service.streams import StreamService

        return StreamService(self.deps)

    @cached_property
    def health(self) -> HealthService:
        """Whether the database answers, and its schema version."""
        from plait.service.health import HealthService

        return HealthService(self.deps)

    @cached_property
    def _router(self) -> Router:
        """What the store asks, inside the transaction that stores an event, which runs it
        starts or resumes."""
        from plait.service.events import Router

        return Router(self.deps, self.machines)

    def __repr__(self) -> str:
        return f"<Engine {self.settings.database_url} workflows={sorted(self.catalog.workflows)}>"

    # -- registering ----------------------------------------------------------------------

    @overload
    def workflow(self, name: WorkflowFn) -> Workflow: ...

    @overload
    def workflow(
        self,
        name: str | None = None,
        *,
        timeout: float | timedelta | None = None,
        trigger: str | list[str] | None = None,
        progress_events: bool = False,
        metrics: Sequence[str | Mapping[str, str] | MetricSpec] = (),
        pricing: Mapping[str, Any] | None = None,
        concurrency: Mapping[str, Any] | None = None,
        priority: int | None = None,
        singleton: Mapping[str, Any] | None = None,
        debounce: Mapping[str, Any] | tuple[str, float | timedelta] | None = None,
        rate_limit: Any = None,
    ) -> Callable[[WorkflowFn], Workflow]: ...

    def workflow(
        self,
        name: str | WorkflowFn | None = None,
        *,
        timeout: float | timedelta | None = None,
        trigger: str | list[str] | None = None,
        progress_events: bool = False,
        metrics: Sequence[str | Mapping[str, str] | MetricSpec] = (),
        pricing: Mapping[str, Any] | None = None,
        concurrency: Mapping[str, Any] | None = None,
        priority: int | None = None,
        singleton: Mapping[str, Any] | None = None,
        debounce: Mapping[str, Any] | tuple[str, float | timedelta] | None = None,
        rate_limit: Any = None,
    ) -> Workflow | Callable[[WorkflowFn], Workflow]:
        """Register ``async def f(ctx: Context, ...)`` as a workflow (name defaults to f's).

        ``timeout`` bounds each run from its start to its end, waits included. ``trigger``
        names event types that start a run (with the event's data as the argument).
        ``progress_events`` makes each ``ctx.progress`` report also a
        ``WorkflowProgress.updated`` event (off by default). ``metrics`` declares the business
        metrics its runs record with ``ctx.metric`` (names, or ``{name, description}``).
        ``pricing`` is its pricing model (brief 003, e.g. ``{"model": "per-execution",
        "baseRate": 0.5, "stepRates": {"ocr": 0.25}}``), evaluated once when each run ends
        (docs/costs.md); an invalid one raises ``InvalidDefinition`` with each problem's path.
        Flow control (docs/flow-control.md), keys being CEL expressions over the input
        (``input``: the argument, or the list of them; ``args``): ``concurrency`` ``{key,
        limit, strategy}``, ``priority`` (-10 to 10), ``singleton`` ``{key, mode}``,
        ``debounce`` ``{key, delay}`` or ``(key, seconds)``; invalid ones raise
        ``InvalidDefinition`` too. ``rate_limit`` (``plait.RateLimit(100, period=60,
        key="input.customer")`` or a dict) throttles its starts across every process: a start
        past it creates the run waiting, queued, until its turn (``ConfigurationError`` if
        invalid).
        """
        if callable(name):
            return self.workflow()(name)
        from plait.definitions.flow import options
        from plait.runtime.business_metrics import declared

        specs = declared(metrics)
        flow = options(concurrency=concurrency, priority=priority, singleton=singleton,
                       debounce=debounce)  # fmt: skip
        priced = None
        if pricing is not None:  # a workflow without pricing loads none of it
            from plait.definitions.pricing import code_pricing

            priced = code_pricing(pricing)

        def register(fn: WorkflowFn) -> Workflow:
            from plait.runtime.limits import throttle_of

            called = name or fn.__name__
            limit = None if timeout is None else seconds_of(timeout)
            triggers = tuple([trigger] if isinstance(trigger, str) else trigger or ())
            try:
                throttle = throttle_of(rate_limit, called)
            except ValueError as exc:
                raise ConfigurationError(f"workflow {called!r}: {exc}") from exc
            return self.catalog.add(Workflow(called, fn, limit, triggers=triggers,
                                             progress_events=progress_events,
                                             metrics=specs, pricing=priced,
                                             flow=flow, rate_limit=throttle))  # fmt: skip

        return register

    def action(
        self,
        name: str | None = None,
        *,
        rate_limit: Any = None,
        bulkhead: Any = None,
        circuit_breaker: Any = None,
    ) -> Callable[[ActionFn], ActionFn]:
        """Register a callable as the action ``name`` (default: its function name).

        It is called with the step's resolved input, and with an ``ActionContext`` too if it
        takes a second parameter. Sync callables run in the step thread pool.
        ``rate_limit`` (``plait.RateLimit(10, period=1)``), ``bulkhead`` (``plait.Bulkhead(3)``)
        and ``circuit_breaker`` (``plait.CircuitBreaker(failures=5, reset=30)``), or dicts of
        their fields, hold for every step calling it across every worker, under the action's
        name unless they name another (docs/flow-control.md).
        """
        from plait.runtime.limits import attach, limits_of

        def register(fn: ActionFn) -> ActionFn:
            called = name or fn.__name__
            try:
                limits = limits_of(rate_limit, bulkhead, circuit_breaker, name=called)
            except ValueError as exc:
                raise ConfigurationError(f"action {called!r}: {exc}") from exc
            self.catalog.actions.register(called, fn, limits=limits)
            if limits is not None:
                attach(fn, limits)
            return fn

        return register

    def define(self, document: Definition | dict[str, Any] | str | Path) -> Workflow:
        """Register a declarative workflow (a definition, a dict, or a JSON/YAML file path).

        The document is validated against every dialect rule and the registered actions; an
        invalid one raises ``InvalidDefinition`` listing every problem, and nothing is registered.
        One over a limit of the settings (``max_steps``, ...) raises ``LimitExceeded``.
        """
        from plait.interpreter.define import build_workflow

        actions = self.catalog.prepare_actions()
        workflow, plan = build_workflow(document, actions, self.catalog.clients, self.settings)
        if plan.definition.machine is not None:
            reason = "a state machine is a stored workflow: create, activate, then send events"
            raise InvalidArguments(workflow.name, reason)
        return self.catalog.add(workflow)

    def reconfigured(self, *, clock: Clock | None = None, **settings: Any) -> Engine:
        """A new engine with this one's workflows and actions (copied) on other settings."""
        merged = {**dataclasses.asdict(self.settings), **settings}
        other = Engine(clock=clock or self.clock, **merged)
        other.catalog.take(self.catalog)
        return other

    # -- runs -----------------------------------------------------------------------------

    async def start(
        self,
        workflow: Workflow | str,
        *args: Any,
        run_id: str | None = None,
        timeout: float | timedelta | None = None,
        priority: int | None = None,
        debounce: Mapping[str, Any] | tuple[str, float | timedelta] | None = None,
    ) -> RunHandle:
        """Start a run of ``workflow`` with ``args`` and return its handle.

        With ``run_id`` the start is idempotent: a second start with the same id returns the
        existing run and executes nothing again. ``timeout`` overrides the workflow's.
        ``priority`` (-10 to 10, higher claimed first) overrides the workflow's; ``debounce``
        (``{key, delay}`` or ``("key", seconds)``, the key a value) collapses a burst of starts
        with one key into one run, started ``delay`` after the last with its arguments
        (docs/flow-control.md); the handle is then that run's.
        """
        return await self.runs.start(workflow, args, run_id=run_id, timeout=timeout,
                                     priority=priority, debounce=debounce)  # fmt: skip

    def handle(self, run_id: str, *, org: str = "default") -> RunHandle:
        """A handle on an existing run: its result, its details, and the operations on it."""
        return self.runs.handle(org, run_id)

    async def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        org: str = "default",
    ) -> RunPage:
        """Runs of ``org``, newest first, a page at a time (steps left out)."""
        return await self.runs.find(org, workflow=workflow, status=status, limit=limit,
                                    cursor=cursor)  # fmt: skip

    # -- lifecycle ------------------------------------------------------------------------

    async def _open_store(self) -> Store:
        from plait.store.base import Store
        from plait.store.urls import open_store

        store = open_store(self.settings, router=self._router, on_runnable=self.deps.local.wake)
        store.on_commit = self.deps.metrics.commit
        await store.open()
        try:
            if not isinstance(store, Store):
                raise ConfigurationError(
                    f"{type(store).__name__} does not implement the plait Store contract"
                )
            await self.catalog.mirror(store, self.clock.time())
        except BaseException:
            await store.close()
            raise
        return store

    async def __aenter__(self) -> Engine:
        await self.start_worker()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.close()
        except Exception:
            if exc is None:
                raise  # the worker died (or closing failed): the block does not end normally
            log.exception("closing the engine failed; the block's own error propagates")

    async def start_worker(self) -> Worker:
        """Open the store and start this engine's worker (idempotent while it runs).

        A worker whose loop died is unlinked at once: runs started here are stored ``pending``
        for other workers to claim. ``start_worker`` then starts a fresh worker in its place
        (after the dead one's stop has ended); without that, ``close`` raises its error."""
        old = self.worker
        if old is not None and old.running:
            return old
        if old is not None:
            await self._housekeeping.stop()
            await old.stop()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        store = await self.deps.store()
        self._threads = ThreadPoolExecutor(self.settings.step_threads, "plait-step")
        runtime = Runtime(store, self.clock, self.settings, self._threads, self.step_hook,
                          self.deps.metrics)  # fmt: skip
        catalog, local = self.catalog, self.deps.local

        housekeeping = self._housekeeping = Housekeeping(
            (("changes", self.streams.maintain), ("audit entries", self.audit.maintain),
             ("cached step outputs", self.step_cache.maintain),
             ("idle rate limits", self.circuits.maintain),
             ("ended runs", self.retention.maintain)), self.clock.time,
        )  # fmt: skip

        async def fire_schedules(now: float) -> bool:
            fired = await self.schedules.tick(now)
            housekeeping.poke()  # in the background: a backlog never holds claims back
            return not fired.skipped

        def unlink(error: BaseException) -> None:
            housekeeping.cancel()
            if local.worker is worker:
                local.worker = None

        worker = Worker(runtime, catalog.runnable, resolve=lambda run: catalog.resolve(store, run),
                        periodic=fire_schedules, on_death=unlink)  # fmt: skip
        self.worker = local.worker = worker
        from plait.service.audit import unattributed

        with unattributed():  # its loops and runs act as nobody, whoever started the worker
            await worker.start()
        return worker

    async def close(self) -> None:
        """Stop the worker gracefully, then close the clients and the database (even when the
        stop failed); then raise the error of the loop whose death stopped the worker, if one
        did (so ``async with engine:`` surfaces it).

        The close is shielded from the caller's cancellation (a lifespan timeout): it goes on to
        its end, and a second ``close`` meanwhile waits for the same one."""
        closing = self._closing
        if closing is None or closing.done():
            closing = self._closing = asyncio.create_task(self._close(), name="plait-close")
            closing.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(closing)

    async def _close(self) -> None:
        if "feed" in vars(self.deps):
            await self.deps.feed.stop()  # live streams end before the store closes
        worker, self.worker = self.worker, None
        try:
            await self._housekeeping.stop()  # before the worker and the store stop
            if worker is not None:
                await worker.stop()
        finally:
            if self.deps.local.worker is worker:
                self.deps.local.worker = None
            if self._threads is not None:
                self._threads.shutdown(wait=False, cancel_futures=True)
                self._threads = None
            try:
                await self.deps.hooks.drain(self.settings.shutdown_seconds)
                await self.catalog.close_clients()
            finally:
                await self.deps.slot.close()
                # Export the spans still buffered (a graceful stop keeps them; a kill loses them).
                await asyncio.to_thread(tracing.flush, self.settings.shutdown_seconds)
        if worker is not None and worker.failure is not None:
            raise worker.failure

    async def run_worker(self) -> None:
        """Run the worker until SIGTERM or SIGINT, then stop gracefully; or until one of its loops
        dies, then raise that loop's error (the worker has stopped and released its runs)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            worker = await self.start_worker()
            log.info("worker running with workflows: %s", ", ".join(sorted(self.catalog.workflows)))
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
