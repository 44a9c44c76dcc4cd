"""``WorkflowTest``: run code workflows on the real engine, with an in-memory database, a
virtual clock and mocked steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from plait.retry import seconds_of
from plait.testing.assertions import StepAssertions
from plait.testing.clock import VirtualClock
from plait.testing.mocks import UNSET, Mock, StepMocks, StepRef

if TYPE_CHECKING:
    from plait.engine import Engine
    from plait.resources.events import EmittedEvent
    from plait.resources.runs import Run, Step
    from plait.resources.tasks import Task
    from plait.service.handles import RunHandle
    from plait.testing.sync import SyncWorkflowTest
    from plait.workflow import Workflow

MEMORY = "sqlite:///:memory:"
TEST_SETTINGS: dict[str, Any] = {
    "database_url": MEMORY,
    # One process and no crashes: the worker's housekeeping (polls for other processes' runs,
    # heartbeats for leases) need not wake often, so skipping a day of virtual time is fast.
    "poll_seconds": 3600.0,
    "heartbeat_seconds": 3600.0,
    "lease_seconds": 4 * 3600.0,
}
_LIVE = ("pending", "running", "waiting")


@dataclass(frozen=True)
class RunResult:
    """A run as a test sees it once it has settled: ``run`` is the stored resource (what
    ``plait runs get`` shows), ``handle`` its handle."""

    run: Run
    handle: RunHandle

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, ``cancelled``, or ``waiting`` for outside input."""
        return self.run.status

    @property
    def outcome(self) -> str | None:
        """``succeeded``, ``partial``, ``failed`` or ``cancelled``; None while it waits."""
        return self.run.outcome

    @property
    def output(self) -> Any:
        return self.run.output

    @property
    def error(self) -> dict[str, Any] | None:
        """The stored error of a failed run: ``type``, ``message``, ``step``, ..."""
        return self.run.error

    @property
    def steps(self) -> list[Step]:
        return self.run.steps

    def step(self, key: str) -> Step:
        """The recorded step ``key`` (``charge``, ``charge#2``)."""
        for step in self.run.steps:
            if step.key == key:
                return step
        keys = ", ".join(s.key for s in self.run.steps) or "none"
        raise AssertionError(f"run {self.id} recorded no step {key!r}; its steps: {keys}")

    def assert_outcome(self, outcome: str = "succeeded") -> None:
        """Assert how the run ended; the message shows its status and error."""
        if self.outcome != outcome:
            error = self.error or {}
            why = f": {error.get('type')}: {error.get('message')}" if error else ""
            where = f" (step {error['step']!r})" if error.get("step") else ""
            raise AssertionError(
                f"run {self.id} of {self.run.workflow!r} is {self.status} (outcome "
                f"{self.outcome}), expected outcome {outcome}{why}{where}"
            )


class WorkflowTest(StepAssertions):
    """Run an engine's code workflows for real (durable steps, retries and their delays,
    timeouts, sleeps, human tasks, signals) on an in-memory SQLite database and a virtual
    clock, with steps mocked by name or by function.

    ``async with WorkflowTest(engine) as t:`` copies ``engine``'s workflows and actions onto
    a test engine of its own; nothing is written to disk. ``**settings`` are engine settings
    (``database_url=`` tests on another database).
    """

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        start: datetime | float | None = None,
        settle_timeout: float = 30.0,
        **settings: Any,
    ) -> None:
        stamp = start.timestamp() if isinstance(start, datetime) else start
        self.clock = VirtualClock(start=stamp)
        """The virtual clock (``t.now`` reads it; ``t.advance`` moves it)."""
        merged = {**TEST_SETTINGS, **settings}
        if engine is None:
            from plait.engine import Engine

            engine = Engine(clock=self.clock, **merged)
        else:
            engine = engine.reconfigured(clock=self.clock, **merged)
        self.engine = engine
        """The test's engine: register more workflows on it, or reach its services."""
        self.settle_timeout = settle_timeout
        self._mocks = StepMocks(self.clock)
        engine.step_hook = self._mocks.hook

    async def __aenter__(self) -> WorkflowTest:
        await self.engine.start_worker()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.engine.close()

    def sync(self) -> SyncWorkflowTest:
        """This test with blocking methods: ``with WorkflowTest(engine).sync() as t:``."""
        from plait.testing.sync import SyncWorkflowTest

        return SyncWorkflowTest(self)

    @property
    def now(self) -> datetime:
        """The virtual time (UTC)."""
        return datetime.fromtimestamp(self.clock.time(), UTC)

    # -- mocks --------------------------------------------------------------------------

    def mock(
        self,
        step: StepRef,
        *,
        returns: Any = UNSET,
        raises: BaseException | type[BaseException] | None = None,
        sequence: Iterable[Any] | None = None,
        replace_with: Callable[..., Any] | None = None,
        times: int | None = None,
        delay: float | timedelta = 0.0,
    ) -> Mock:
        """Answer ``step`` (its name, a key such as ``fetch#2``, or its function) with a value
        (``returns``), an exception (``raises``), one item per call (``sequence``, the last
        repeating: exceptions are raised, other items returned) or a callable given the step's
        arguments
        (``replace_with``). ``times`` limits the calls it answers; a used-up mock leaves the
        step to the next mock registered for it, or to its own function. ``delay`` is how long
        (virtual time) each answer takes. The answer goes through the engine as the step's own
        result would: it is stored as JSON, and an exception is a failed attempt, retried
        under the step's policy. Mocks with ``times`` answer first, in the order registered;
        of the others, the last registered answers."""
        mock = Mock(step, returns=returns, raises=raises, sequence=sequence,
                    replace_with=replace_with, times=times, delay=seconds_of(delay))  # fmt: skip
        return self._mocks.add(mock)

    # -- runs -----------------------------------------------------------------------------

    async def start(
        self, workflow: Workflow | str, *args: Any, run_id: str | None = None,
        timeout: float | timedelta | None = None,
    ) -> RunHandle:  # fmt: skip
        """Start a run and return its handle without moving time (see :meth:`settle`)."""
        return await self.engine.start(workflow, *args, run_id=run_id, timeout=timeout)

    async def run(
        self, workflow: Workflow | str, *args: Any, run_id: str | None = None,
        timeout: float | timedelta | None = None,
    ) -> RunResult:  # fmt: skip
        """Start a run and :meth:`settle`: it returns once the run has ended, or waits for
        what only the test can give (a human task, a signal, an event without a timeout).
        Sleeps, retry delays and timeouts pass on virtual time meanwhile."""
        handle = await self.start(workflow, *args, run_id=run_id, timeout=timeout)
        await self.settle()
        return await self.result(handle)

    async def result(self, run: RunHandle | RunResult | str) -> RunResult:
        """The run as stored now."""
        handle = self._handle(run)
        return RunResult(await handle.info(), handle)

    async def settle(self) -> None:
        """Move virtual time from one wake-up to the next until every run of the test has
        ended or waits for outside input only. Fails after ``settle_timeout`` real seconds
        (a workflow that sleeps in a loop forever), naming the runs still going."""
        await self.clock.run_skipping(self._settled())

    async def advance(
        self, duration: float | timedelta = 0.0, *, days: float = 0, hours: float = 0,
        minutes: float = 0, seconds: float = 0,
    ) -> None:  # fmt: skip
        """Move virtual time forward by exactly this much, letting the runs do what falls due
        (timers, retries, task escalations) in order on the way."""
        extra = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        target = self.clock.time() + seconds_of(duration) + extra.total_seconds()
        await self.clock.until_idle()
        while (due := self.clock.next_deadline()) is not None and due <= target:
            await self.clock.advance(max(0.0, due - self.clock.time()))
            await self.clock.until_idle()
        await self.clock.advance(max(0.0, target - self.clock.time()))
        await self.clock.until_idle()

    # -- outside input --------------------------------------------------------------------

    async def tasks(self, run: RunHandle | RunResult | str | None = None) -> list[Task]:
        """The open human tasks (of ``run``), oldest first."""
        page = await self.engine.tasks.find("default", status="open", limit=500)
        run_id = None if run is None else self._handle(run).id
        return [t for t in reversed(page.items) if run_id is None or t.run_id == run_id]

    async def complete_task(
        self, run: RunHandle | RunResult | str, decision: str | None = None, *,
        task: str | None = None, comment: str | None = None, data: Any = None,
        by: str | None = None,
    ) -> RunResult:  # fmt: skip
        """Complete the open human task of ``run`` (``task``: its id or title, when it has
        several) as its assignee (or ``by``), settle, and return the run."""
        chosen = await self._open_task(run, task)
        await self.engine.tasks.complete("default", chosen.id, by=by or chosen.assignee,
                                         decision=decision, comment=comment, data=data)  # fmt: skip
        await self.settle()
        return await self.result(run)

    async def signal(
        self, run: RunHandle | RunResult | str, name: str, payload: Any = None
    ) -> RunResult:
        """Send the signal ``name`` to ``run`` (its ``ctx.receive``), settle, return the run."""
        await self._handle(run).signal(name, payload)
        await self.settle()
        return await self.result(run)

    async def emit(self, type: str, data: Any = None, *, id: str | None = None) -> EmittedEvent:
        """Emit an event (it starts and resumes runs waiting for it), then settle."""
        emitted = await self.engine.events.emit("default", type, data, id=id)
        await self.settle()
        return emitted

    # -- internals ------------------------------------------------------------------------

    def _handle(self, run: RunHandle | RunResult | str) -> RunHandle:
        if isinstance(run, RunResult):
            return run.handle
        return self.engine.handle(run) if isinstance(run, str) else run

    async def _open_task(self, run: RunHandle | RunResult | str, task: str | None) -> Task:
        run_id = self._handle(run).id
        open_tasks = await self.tasks(run_id)
        found = [t for t in open_tasks if task is None or task in (t.id, t.title)]
        if len(found) == 1:
            return found[0]
        shown = ", ".join(f"{t.id} {t.title!r}" for t in open_tasks) or "none"
        which = "" if task is None else f" matching {task!r}"
        several = " (name one with task=)" if len(found) > 1 else ""
        raise AssertionError(f"run {run_id} has {len(found)} open tasks{which}{several}; "
                             f"its open tasks: {shown}")  # fmt: skip

    async def _settled(self) -> None:
        deadline = time.monotonic() + self.settle_timeout
        while True:
            going = [r for r in await self._live() if r.status != "waiting" or r.wake_at]
            if not going:
                return
            if time.monotonic() > deadline:
                shown = ", ".join(f"{r.id} of {r.workflow!r} ({r.status})" for r in going)
                raise AssertionError(
                    f"runs still going after {self.settle_timeout}s of real time (and "
                    f"{self.now.isoformat()} of virtual time): {shown}"
                )
            await asyncio.sleep(0.002)

    async def _live(self) -> list[Run]:
        live: list[Run] = []
        for status in _LIVE:
            cursor: str | None = None
            while True:
                page = await self.engine.runs.find("default", status=status, limit=500,
                                                   cursor=cursor)  # fmt: skip
                live += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
        return live
