"""``Context``: what a workflow function receives, and the run state behind it."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random as _random
import uuid as _uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import LeaseLost
from plait.metrics import counting_run_event
from plait.retry import RetryPolicy, seconds_of
from plait.runtime.limits import Bulkhead, CircuitBreaker, RateLimit, attached, limits_of
from plait.runtime.replay import Replay
from plait.runtime.unwind import Suspend
from plait.secrets import RunSecrets
from plait.store.records import StepRecord

if TYPE_CHECKING:
    from plait.clock import Clock
    from plait.runtime.children import ChildHandle
    from plait.runtime.human import Escalation
    from plait.runtime.step_cache import Cache
    from plait.runtime.steps import StepHook
    from plait.settings import Settings
    from plait.store.base import Store
    from plait.workflow import Workflow

log = logging.getLogger(__name__)

_current_step: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "plait_step_id", default=None
)


class Context:
    """The handle a workflow uses for everything durable.

    Side effects belong in :meth:`step`; :meth:`sleep` waits durably; :meth:`now`, :meth:`uuid`
    and :meth:`random` give values that are recorded once and replayed thereafter.
    """

    def __init__(
        self,
        *,
        run_id: str,
        workflow: str,
        fence: int,
        replay: Replay,
        store: Store,
        clock: Clock,
        settings: Settings,
        threads: Executor,
        org: str = "default",
        secrets: RunSecrets | None = None,
        step_hook: StepHook | None = None,
    ) -> None:
        self.run_id = run_id
        self.org = org
        self.secrets = RunSecrets(store, org) if secrets is None else secrets
        """The secrets this replay read (their values are redacted from its records)."""
        self.workflow = workflow
        self.fence = fence
        self.replay = replay
        self.store = store
        self.clock = clock
        self.settings = settings
        self.threads = threads
        self.step_hook = step_hook
        """Chooses the callable of each step attempt (``plait.testing``'s mocks); None: as
        written."""
        self.wake_at: float | None = None
        self.outcome: str | None = None
        """How a run whose workflow returns ended, when not plainly ``succeeded``: ``partial``
        (a definition carried on past failed steps) or ``failed`` (none of its steps
        succeeded); ``failed_steps`` names the steps that failed."""
        self.failed_steps: list[str] = []
        self.ending: dict[str, Any] | None = None
        """With ``outcome`` ``failed`` or ``cancelled``: the error a run whose workflow returned
        ends with (a state machine that reached a terminal state of that outcome)."""
        self.active_steps = 0
        self.idle: asyncio.Event | None = None
        self.progress_events = False
        """Whether progress is announced as ``WorkflowProgress.updated`` events (opt-in)."""
        self._progress_calls = 0
        self.metric_names: frozenset[str] = frozenset()
        """The business metrics the workflow declares: ``metric`` refuses any other."""

    @property
    def event(self) -> dict[str, Any] | None:
        """The event that started this run (``$id``, ``type``, ``data``, ``source``,
        ``createdAt``), or ``None`` for a run not started by an event. It is recorded with the
        run when the event starts it, so every replay sees the same value."""
        recorded = self.replay.peek("$event")
        if recorded is None or recorded.kind != "event" or recorded.output is None:
            return None
        event: dict[str, Any] = values.decode(recorded.output)
        return event

    @property
    def step_id(self) -> str | None:
        """``{run_id}/{step key}`` inside a step (an idempotency key for outside systems)."""
        return _current_step.get()

    def step(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: RetryPolicy | None = None,
        timeout: float | timedelta | None = None,
        cache: Cache | Mapping[str, Any] | None = None,
        rate_limit: RateLimit | Mapping[str, Any] | None = None,
        bulkhead: Bulkhead | Mapping[str, Any] | None = None,
        circuit_breaker: CircuitBreaker | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Awaitable[Any]:
        """Run ``fn(*args, **kwargs)`` as the durable step ``name`` and return its result.

        The step's identity is fixed now, when it is called, not when it is awaited. A recorded
        step returns its recorded output (or raises ``StepFailed``) without running again.
        Synchronous callables run in a thread pool. ``timeout`` bounds each attempt.
        ``cache`` (``plait.Cache(ttl="1h", key=...)`` or a dict of its fields) answers the step
        from the organization's step-result cache when a live entry has its key, without
        calling ``fn``; a step that succeeds stores its output (docs/flow-control.md).
        ``rate_limit``, ``bulkhead`` and ``circuit_breaker`` (``plait.RateLimit`` ... or dicts)
        limit its attempts across every worker, by default under the step's name; a function
        registered with ``@engine.action(..., rate_limit=...)`` brings its action's.
        """
        from plait.runtime.step_cache import Cache
        from plait.runtime.steps import run_step

        cached = Cache.of(cache)  # a bad cache fails here, before anything is recorded
        own = limits_of(rate_limit, bulkhead, circuit_breaker, name=name)
        limits = attached(fn) if own is None else own.over(attached(fn))
        key, position, recorded = self.replay.next(name, "step")
        limit = None if timeout is None else seconds_of(timeout)
        call = _Call(key, position, name, recorded)
        return self._track(run_step(self, call, fn, args, kwargs, retry, limit, cached, limits))

    def sleep(
        self,
        name_or_duration: str | float | timedelta = "sleep",
        duration: float | timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> Awaitable[None]:
        """Wait durably: ``ctx.sleep(30)``, ``ctx.sleep(timedelta(hours=1))`` or
        ``ctx.sleep("cool-off", hours=24)``.

        Long waits suspend the run (it becomes a row with a wake time and holds no memory);
        short ones wait in memory. Either way the wake time is recorded, so a crash does not
        restart the wait.
        """
        from plait.runtime.steps import run_sleep

        if isinstance(name_or_duration, str):
            name = name_or_duration
        else:
            name, duration = "sleep", name_or_duration
        extra = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        total = (seconds_of(duration) if duration is not None else 0.0) + extra.total_seconds()
        key, position, recorded = self.replay.next(name, "sleep")
        return self._track(run_sleep(self, _Call(key, position, name, recorded), total))

    def wait_for(
        self,
        event_type: str,
        match: str | None = None,
        timeout: float | timedelta | None = None,
        *,
        name: str | None = None,
        scope: dict[str, Any] | None = None,
    ) -> Awaitable[Any]:
        """Wait durably for an event of ``event_type`` (optionally matching the CEL ``match``,
        which sees ``event`` and any names given in ``scope``); return the event, or ``None``
        once ``timeout`` has passed.

        The run is suspended meanwhile: a row, no coroutine. An event emitted after the wait
        began resumes it at once.
        """
        from plait.runtime.steps import run_wait

        if match is not None:
            from plait.expressions import compile_expression

            compile_expression(match)  # a bad expression fails here, before anything is stored
        key, position, recorded = self.replay.next(name or f"wait:{event_type}", "wait")
        call = _Call(key, position, name or event_type, recorded)
        limit = None if timeout is None else seconds_of(timeout)
        return self._track(run_wait(self, call, event_type, match, limit, scope))

    def human_task(
        self,
        title: str,
        assignee: str,
        choices: list[str] | tuple[str, ...] | None = None,
        form: dict[str, Any] | None = None,
        due: float | timedelta | None = None,
        escalation: Escalation | dict[str, Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        data: Any = None,
    ) -> Awaitable[dict[str, Any]]:
        """Ask a person: create a task for ``assignee`` and wait durably until it is completed.

        Returns ``{taskId, decision, approved, comment, data, completedBy, completedAt}``.
        ``choices`` default to ``["approve", "reject"]`` unless a ``form`` (a JSON Schema of
        the answer's ``data``) is given. ``due`` (seconds or a timedelta) is when the task
        expires: the call then raises ``TaskExpired``. ``escalation``
        (``Escalation(to=..., after=...)``) reassigns a task still open after its delay. The
        step is named ``name`` (default: the title). See docs/human-tasks.md.
        """
        from plait.runtime.human import TaskSpec, run_human_task

        spec = TaskSpec.of(title, assignee, choices, form, due, escalation, description, data)
        step_name = name or title
        key, position, recorded = self.replay.next(step_name, "task")
        call = _Call(key, position, step_name, recorded)
        return self._track(run_human_task(self, call, spec))

    def now(self) -> datetime:
        """The current time (UTC), recorded on the first replay and read back after."""
        stamp = self.recorded("now", self.clock.time, kind="now")
        return datetime.fromtimestamp(stamp, UTC)

    def uuid(self) -> _uuid.UUID:
        """A random UUID, recorded on the first replay and read back after."""
        return _uuid.UUID(self.recorded("uuid", lambda: str(_uuid.uuid4()), kind="uuid"))

    def random(self) -> float:
        """A random float in [0, 1), recorded on the first replay and read back after."""
        value: float = self.recorded("random", _random.random, kind="random")
        return value

    async def secret(self, name: str) -> str:
        """The value of the organization's secret ``name``: ``await ctx.secret("TOKEN")``.

        It is read when called (on every replay, so a replaced secret takes effect) and
        never recorded: wherever it would be (a step's output or error, the run's output,
        an event, a log line) the run's records show ``[secret:NAME]`` instead. Raises
        ``SecretNotFound`` naming it if the organization has no such secret.
        """
        return await self.secrets.read(name)

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        """Report that ``done`` of ``total`` units of work are done (with an optional
        ``message``): the run resource's ``progress`` shows the latest report.

        Recorded (kind ``progress``), so a replay neither records nor announces it again; a
        workflow registered with ``progress_events=True`` also emits a
        ``WorkflowProgress.updated`` event for each report.
        """
        _check_progress(done, total, message)
        self._progress_calls += 1
        fresh: list[bool] = []

        def report() -> dict[str, Any]:
            fresh.append(True)
            return {"done": done, "total": total, "message": message}

        self.recorded("progress", report, kind="progress")
        if fresh and self.progress_events:
            data = {"completedSteps": done, "totalSteps": total,
                    "fraction": round(done / total, 6), "message": message}  # fmt: skip
            self.announce_progress(str(self._progress_calls), data)

    def metric(self, name: str, value: float, **labels: str | float | bool) -> None:
        """Record ``value`` of the business metric ``name`` (declared by the workflow's
        ``metrics``), with optional ``labels``: ``ctx.metric("dealValue", 1200, plan="pro")``.

        Recorded (kind ``metric``) like :meth:`now`, so a replay or a resume after a crash
        never records it twice. Raises ``InvalidMetric`` for an undeclared name, a value that
        is not a finite number, or labels beyond their limits (see docs/observability.md).
        """
        from plait.runtime.business_metrics import record_metric

        record_metric(self, name, value, labels)

    def announce_progress(self, tag: str, data: dict[str, Any]) -> None:
        """Emit ``WorkflowProgress.updated`` with ``data`` without waiting for it; its id
        derives from the run and ``tag``, so announcing the same progress twice stores one."""
        body = values.encode({"runId": self.run_id, "workflow": self.workflow, **data})
        future = asyncio.ensure_future(self.store.emit(
            self.org, "WorkflowProgress.updated", body, event_id=f"{self.run_id}.progress.{tag}",
            source="run", now=self.clock.time(), run_id=self.run_id,
        ))  # fmt: skip
        future.add_done_callback(_ignore_lease_lost)
        future.add_done_callback(counting_run_event("run"))

    # -- children, signals and published state (see plait.runtime.children, .messages) ------

    def child(
        self,
        workflow: Workflow | str,
        *args: Any,
        name: str | None = None,
        timeout: float | timedelta | None = None,
    ) -> Awaitable[Any]:
        """Run ``workflow`` (a code workflow, or a stored workflow's name or id) as a child run
        with ``args``, wait durably for it, and return its output.

        The parent waits suspended. A child that fails or is cancelled (or does not end within
        ``timeout``) raises ``ChildWorkflowFailed`` here. Replaying the parent never starts a
        second child: the child's id derives from the parent's id and this step's key.
        """
        from plait.runtime.children import child

        limit = None if timeout is None else seconds_of(timeout)
        return self._track(child(self, workflow, args, name, limit))

    def start_child(
        self, workflow: Workflow | str, *args: Any, name: str | None = None
    ) -> Awaitable[ChildHandle]:
        """Start ``workflow`` as a child run without waiting; the handle has its ``id`` and
        ``await handle.result()`` waits for it (see :meth:`child`)."""
        from plait.runtime.children import start_child

        return self._track(start_child(self, workflow, args, name))

    def receive(self, name: str, timeout: float | timedelta | None = None) -> Awaitable[Any]:
        """The payload of the next signal ``name`` sent to this run (``handle.signal``,
        ``engine.runs.signal``), in the order sent and each exactly once; ``None`` once
        ``timeout`` has passed. The run waits suspended meanwhile."""
        from plait.runtime.messages import receive

        key, position, recorded = self.replay.next(f"receive:{name}", "receive")
        limit = None if timeout is None else seconds_of(timeout)
        return self._track(receive(self, _Call(key, position, name, recorded), name, limit))

    def set_state(self, key: str, value: Any) -> Awaitable[None]:
        """Publish ``value`` (JSON) under ``key``: ``handle.state(key)`` and the run resource
        show it while the run is still going."""
        from plait.runtime.messages import set_state

        step_key, position, recorded = self.replay.next(f"state:{key}", "state")
        return self._track(set_state(self, _Call(step_key, position, key, recorded), key, value))

    # -- internals --------------------------------------------------------------------------

    def recorded(
        self,
        name: str,
        make: Callable[[], Any],
        *,
        kind: str = "value",
        status: str = "completed",
        error: dict[str, Any] | None = None,
    ) -> Any:
        """``make()``, recorded under ``name`` on the first replay and read back after.

        For deterministic values a workflow derives from outside the history (the interpreter
        records skipped steps and branch decisions this way). ``make`` must return JSON.
        """
        key, position, found = self.replay.next(name, kind)
        if found is not None:
            return values.decode(found.output)
        value = make()
        now = self.clock.time()
        attempts = 0 if status == "skipped" else 1
        stored_error = None if error is None else values.encode(error)
        record = StepRecord(key, position, name, kind, status, attempts, values.encode(value),
                            stored_error, now, now)  # fmt: skip
        self.record_later(record)
        return value

    def record_later(self, record: StepRecord) -> None:
        """Queue a step record without waiting for it; later awaited writes commit after it."""
        future = asyncio.ensure_future(self.store.record_step(self.run_id, self.fence, record))
        future.add_done_callback(
            _ignore_lease_lost
        )  # queued now: FIFO keeps it before later writes

    def suspend(self, wake_at: float | None) -> Suspend:
        """Note the wake time (None: only an event wakes the run) and return the signal that
        unwinds the workflow."""
        if wake_at is not None:
            self.wake_at = wake_at if self.wake_at is None else min(self.wake_at, wake_at)
        return Suspend()

    async def _track(self, inner: Awaitable[Any]) -> Any:
        self.active_steps += 1
        try:
            return await inner
        finally:
            self.active_steps -= 1
            if self.active_steps == 0 and self.idle is not None:
                self.idle.set()

    async def settle(self) -> None:
        """Wait until no step of this run is still executing (after a suspension)."""
        if self.active_steps:
            self.idle = asyncio.Event()
            await self.idle.wait()

    def step_scope(self, key: str) -> contextvars.Token[str | None]:
        return _current_step.set(f"{self.run_id}/{key}")


def reset_step_scope(token: contextvars.Token[str | None]) -> None:
    _current_step.reset(token)


class _Call:
    __slots__ = ("key", "name", "position", "recorded")

    def __init__(self, key: str, position: int, name: str, recorded: StepRecord | None) -> None:
        self.key = key
        self.position = position
        self.name = name
        self.recorded = recorded


def _check_progress(done: int, total: int, message: str | None) -> None:
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise ValueError(f"progress: done must be a whole number >= 0, not {done!r}")
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise ValueError(f"progress: total must be a whole number >= 1, not {total!r}")
    if done > total:
        raise ValueError(f"progress: done ({done}) is more than total ({total})")
    if message is not None and not isinstance(message, str):
        raise ValueError(f"progress: message must be text, not {message!r}")


def _ignore_lease_lost(future: asyncio.Future[Any]) -> None:
    # A lost lease surfaces at the run's next awaited write; anything else is worth a log line.
    if future.cancelled():
        return
    error = future.exception()
    if error is not None and not isinstance(error, LeaseLost):
        log.error("recording a step value failed: %s", error)
