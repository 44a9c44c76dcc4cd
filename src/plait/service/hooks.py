"""Workflow hooks: functions of this process called before a verb of the workflow registry
(raising vetoes it) and after it, and after every start (``trigger``) and end (``finish``) of a
run of a stored workflow, whatever started it.

A hook is called with the workflow (a :class:`~plait.resources.workflows.StoredWorkflow`) and,
if it takes a second parameter, a :class:`HookContext` (the brief's ``$``): it can emit events
(``ctx.emit(type, data)``, or ``ctx.Event.create({"type": ..., "data": ...})``) and says which
run a ``trigger`` or ``finish`` concerns (``ctx.run``). Hooks may be coroutine functions.

The ``trigger`` and ``finish`` after-hooks of runs that the store started or ended run once
the transaction has committed, in the process that committed it, one after the other in commit
order (``committed``); nothing is scheduled when no such hook is registered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.errors import HookVetoed

if TYPE_CHECKING:
    from plait.resources.events import EmittedEvent
    from plait.resources.workflows import StoredWorkflow
    from plait.service.deps import Deps
    from plait.store.announcements import Announcement

log = logging.getLogger(__name__)

Hook = Callable[..., Any]
VERBS = ("create", "update", "delete", "activate", "pause", "trigger", "archive", "finish")
"""The verbs hooks attach to: the lifecycle verbs, ``trigger`` (every start of a run) and
``finish`` (every end of one; after-hooks only: an end cannot be vetoed)."""


@dataclass(frozen=True, slots=True)
class HookRun:
    """The run a ``trigger`` or ``finish`` hook is called for: the ``run`` of the
    ``Workflow.triggered`` or ``Workflow.finished`` event (``status``, ``outcome`` and the
    times are those of an end; ``None`` for a start)."""

    id: str
    trigger: dict[str, Any]
    """What started it: ``{"kind": "event", "eventId": ..., "eventType": ...}``, ``{"kind":
    "schedule", "scheduleId": ..., "tick": ...}``, ``{"kind": "manual"}``, ``{"kind":
    "child", "parentRunId": ...}``, ``{"kind": "fork" | "retry", "fromRunId": ...}``."""
    event_id: str
    """The ``Workflow.triggered`` or ``Workflow.finished`` event that announced it."""
    status: str | None = None
    outcome: str | None = None
    duration_ms: int | None = None
    cascade: int = 0

    @classmethod
    def of(cls, run: dict[str, Any], event_id: str) -> HookRun:
        return cls(id=run["$id"], trigger=run["trigger"], event_id=event_id,
                   status=run.get("status"), outcome=run.get("outcome"),
                   duration_ms=run.get("durationMs"), cascade=run.get("cascade", 0))  # fmt: skip


class _EventNoun:
    """``ctx.Event``: the brief's ``$.Event.create({type, data})``."""

    def __init__(self, ctx: HookContext) -> None:
        self._ctx = ctx

    def create(self, event: dict[str, Any]) -> asyncio.Task[EmittedEvent]:
        """Emit ``{"type": ..., "data": ..., "id": ...}`` (``id`` optional)."""
        return self._ctx.emit(event["type"], event.get("data"), id=event.get("id"))


@dataclass(eq=False)
class HookContext:
    """What a hook may do besides reading the workflow: emit events in the workflow's
    organization. ``run`` is the run of a ``trigger`` or ``finish`` hook (``None`` for the
    other verbs, and for the before-hooks of ``trigger``: the run does not exist yet)."""

    org: str
    verb: str
    run: HookRun | None
    _emit: Callable[..., Awaitable[EmittedEvent]]
    _emitted: list[asyncio.Task[EmittedEvent]] = field(default_factory=list)

    def emit(
        self, type: str, data: Any = None, *, id: str | None = None
    ) -> asyncio.Task[EmittedEvent]:
        """Emit an event (``source: hook``). It need not be awaited: the hook's caller waits
        for it after the hook returns (awaiting the task gives the ``EmittedEvent``)."""
        run_id = self.run.id if self.run is not None else None  # its cascade: announcements.py
        task = asyncio.ensure_future(
            self._emit(self.org, type, data, id=id, source="hook", run_id=run_id)
        )
        self._emitted.append(task)
        return task

    @property
    def Event(self) -> _EventNoun:  # the brief's spelling: $.Event.create
        return _EventNoun(self)

    async def settle(self) -> None:
        """Wait for the events the hook emitted; the first failure is raised."""
        emitted, self._emitted = self._emitted, []
        results = await asyncio.gather(*emitted, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


class WorkflowHooks:
    """The hooks of one engine (``engine.workflows.before`` / ``after`` register them)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._before: dict[str, list[tuple[Hook, bool]]] = {verb: [] for verb in VERBS}
        self._after: dict[str, list[tuple[Hook, bool]]] = {verb: [] for verb in VERBS}
        self._tail: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, str], asyncio.Task[None]] = {}

    def register(self, when: str, verb: str) -> Callable[[Hook], Hook]:
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}; use one of {', '.join(VERBS)}")
        if when == "before" and verb == "finish":
            raise ValueError("a run's end cannot be vetoed: register after('finish')")
        table = self._before if when == "before" else self._after

        def register(fn: Hook) -> Hook:
            table[verb].append((fn, _takes_context(fn)))
            return fn

        return register

    async def before(self, org: str, verb: str, workflow: StoredWorkflow) -> None:
        """Run the before-hooks of ``verb``; one that raises vetoes it (``HookVetoed``)."""
        for hook, wants_context in self._before[verb]:
            ctx = self._context(org, verb, None)
            try:
                await _call(hook, workflow, ctx if wants_context else None)
                await ctx.settle()
            except Exception as exc:
                raise HookVetoed(verb, str(exc) or type(exc).__name__) from exc

    async def after(
        self, org: str, verb: str, workflow: StoredWorkflow, run: HookRun | None = None
    ) -> None:
        """Run the after-hooks of ``verb``; their errors are logged."""
        for hook, wants_context in self._after[verb]:
            ctx = self._context(org, verb, run)
            try:
                await _call(hook, workflow, ctx if wants_context else None)
                await ctx.settle()
            except Exception:
                log.exception("after-%s hook failed for workflow %s", verb, workflow.id)

    # -- runs the store announced -----------------------------------------------------------------

    def committed(self, announced: list[Announcement]) -> None:
        """Runs started and ended by a commit: run their ``trigger`` and ``finish`` after-hooks
        in a task, after those of earlier commits (called on the event loop's thread)."""
        wanted = [a for a in announced if self._after[a.verb]]
        if not wanted:
            return
        previous = self._tail
        task = asyncio.get_running_loop().create_task(self._deliver(wanted, previous))
        self._tail = task
        keys = [(a.verb, str(a.run["$id"])) for a in wanted]
        for key in keys:
            self._pending[key] = task
        task.add_done_callback(lambda _: self._forget(keys, task))

    async def settled(self, verb: str, run_id: str, *, timeout: float) -> None:
        """Wait until the ``verb`` hooks of ``run_id`` have run (if any are pending), at most
        ``timeout`` seconds (they go on after that)."""
        task = self._pending.get((verb, run_id))
        if task is not None:
            await asyncio.wait([task], timeout=timeout)

    async def drain(self, timeout: float) -> None:
        """Wait for the pending hooks (the engine closes), at most ``timeout`` seconds; then
        cancel those still running (logged)."""
        tail = self._tail
        if tail is None or tail.done():
            return
        done, _ = await asyncio.wait([tail], timeout=timeout)
        if not done:
            log.warning("workflow hooks still running after %.0f s: cancelled", timeout)
            for task in {tail, *self._pending.values()}:
                task.cancel()

    async def _deliver(
        self, announced: list[Announcement], previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        from plait.resources.workflows import StoredWorkflow

        for a in announced:
            workflow = StoredWorkflow.of(a.workflow, a.workflow.triggers)
            await self.after(a.workflow.org, a.verb, workflow, HookRun.of(a.run, a.event_id))

    def _forget(self, keys: list[tuple[str, str]], task: asyncio.Task[None]) -> None:
        for key in keys:
            if self._pending.get(key) is task:
                del self._pending[key]

    def _context(self, org: str, verb: str, run: HookRun | None) -> HookContext:
        from plait.service.events import EventService

        return HookContext(org, verb, run, EventService(self.deps).emit)


def _takes_context(fn: Hook) -> bool:
    """Whether ``fn`` takes a second positional parameter (the context)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


async def _call(hook: Hook, workflow: StoredWorkflow, ctx: HookContext | None) -> None:
    result = hook(workflow) if ctx is None else hook(workflow, ctx)
    if inspect.isawaitable(result):
        await result
