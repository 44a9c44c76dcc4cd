"""A scenario's throwaway engine, and moving its virtual time.

Each scenario gets an engine of its own on a scratch SQLite file, with a :class:`ScenarioClock`.
Time moves in two ways only: while a run is executing (a retry delay, a step timeout, a mocked
``delay``), the clock skips to the next sleep as ``VirtualClock.run_skipping`` does; when
nothing executes and nothing is runnable, the engine is *settled*, and the driver decides: a
flow's driver moves the clock to the next timer (a durable sleep, a task's escalation or due
time, a delayed task answer), a state machine's moves it only by its script's ``advance``.

A scratch engine's runs fail on purpose (a mocked error): what the runtime logs of them (``run
... failed``) is not a real run's failure, so while a scenario plays, those records are
relabelled ``scenario: ...`` at DEBUG and dropped unless ``plait.scenarios`` logs at DEBUG
(``plait -v``). Real runs' logs, in the same process, are unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.engine import Engine
from plait.testing import VirtualClock

if TYPE_CHECKING:
    from plait.actions.base import Actions
    from plait.resources.runs import Run
    from plait.resources.scenarios import TaskAnswer

ORG = "default"
ANSWERER = "scenario-task-answers"
"""The code workflow of a scratch engine that answers human tasks as a scenario says."""
MAX_VIRTUAL_SECONDS = 366 * 86_400.0
"""How far a flow's driver moves the clock before it calls the run stuck."""
_POLL = 0.002  # real seconds between looks at a scratch engine that is busy
_SCRATCH: dict[str, Any] = {"poll_seconds": 10**6, "lease_seconds": 10**7,
                            "heartbeat_seconds": 10**6}  # fmt: skip
_PLAYING: contextvars.ContextVar[bool] = contextvars.ContextVar("plait_scenario", default=False)
"""Set while a scenario's scratch engine runs: its tasks inherit it, a real engine's do not."""
_QUIETED = ("plait.runtime.executor", "plait.runtime.context", "plait.worker.worker",
            "plait.engine", "plait.service.workflows", "plait.service.events",
            "plait.service.hooks", "plait.service.machines")  # fmt: skip
"""The loggers a scratch engine's runs log through."""


class ScratchLogs(logging.Filter):
    """Relabels what a scratch engine logs: ``scenario: ...`` at DEBUG, kept only when
    ``plait.scenarios`` logs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _PLAYING.get():
            return True
        record.msg = f"scenario: {record.msg}"
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger("plait.scenarios").isEnabledFor(logging.DEBUG)


def _quiet_scratch_logs() -> None:
    for name in _QUIETED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScratchLogs) for f in logger.filters):
            logger.addFilter(ScratchLogs())


class ScenarioClock(VirtualClock):
    """A virtual clock that does not skip time on its own while the engine is idle (``held``):
    then the scenario's driver decides when time passes."""

    def __init__(self, start: float | None = None) -> None:
        super().__init__(start)
        self.held: Callable[[], bool] = lambda: False

    def next_deadline(self) -> float | None:
        return None if self.held() else super().next_deadline()

    def due(self) -> float | None:
        """The next timer, held or not."""
        return super().next_deadline()

    def peek(self) -> float:
        """The time, without counting as a read (a read says the program is busy)."""
        return self._now


@dataclass
class Scratch:
    """A scenario's engine, clock, and what its task answerer saw go wrong."""

    engine: Engine
    clock: ScenarioClock
    answer_errors: list[str] = field(default_factory=list)

    def executing(self) -> bool:
        worker = self.engine.worker
        return worker is not None and bool(worker.executing)

    async def settled(self) -> bool:
        """Nothing executes, nothing is runnable, no timer is due."""
        if self.executing():
            return False
        runs = self.engine.runs
        for status in ("pending", "running"):
            if (await runs.find(ORG, status=status, limit=1)).items:
                return False
        now = self.clock.peek()
        waiting = (await runs.find(ORG, status="waiting", limit=1000)).items
        return not any(r.wake_at is not None and r.wake_at.timestamp() <= now for r in waiting)

    async def settle(self) -> None:
        """Wait until :meth:`settled`, skipping time while a run executes."""

        async def quiet() -> None:
            # Polled: "settled" is a fact about the store and the worker, not an event.
            while True:
                if await self.settled():
                    return
                await asyncio.sleep(_POLL)

        await self.clock.run_skipping(quiet())

    async def run(self, run_id: str) -> Run:
        return await self.engine.runs.get(ORG, run_id)


@contextlib.asynccontextmanager
async def scratch(
    actions: Actions, answers: dict[str, TaskAnswer], settings: dict[str, Any]
) -> AsyncIterator[Scratch]:
    """A started engine on a scratch database, calling ``actions``, answering tasks."""
    clock = ScenarioClock()
    _quiet_scratch_logs()
    playing = _PLAYING.set(True)
    try:
        async with _scratch_engine(clock, actions, answers, settings) as box:
            yield box
    finally:
        _PLAYING.reset(playing)


@contextlib.asynccontextmanager
async def _scratch_engine(
    clock: ScenarioClock, actions: Actions, answers: dict[str, TaskAnswer],
    settings: dict[str, Any],
) -> AsyncIterator[Scratch]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="plait-scenario-") as folder:
        url = f"sqlite:///{folder}/scenario.db"
        engine = Engine(clock=clock, **{**settings, **_SCRATCH, "database_url": url})
        engine.catalog.actions = actions
        box = Scratch(engine, clock)
        _register_answerer(box, answers)
        clock.held = lambda: not box.executing()
        async with engine:
            yield box


def _register_answerer(box: Scratch, answers: dict[str, TaskAnswer]) -> None:
    from plait.runtime.context import Context

    @box.engine.workflow(ANSWERER, trigger="HumanTask.created")
    async def answer(ctx: Context, task: dict[str, Any]) -> None:
        answer = _answer_for(answers, str(task.get("stepKey", "")))
        if answer is None:
            return
        if answer.after:
            await ctx.sleep("after", seconds=answer.after)

        async def complete() -> None:
            try:
                await box.engine.tasks.complete(
                    ORG, task["$id"], by=answer.by or task["assignee"], decision=answer.decision,
                    comment=answer.comment, data=answer.data, as_admin=True,
                )  # fmt: skip
            except Exception as exc:
                box.answer_errors.append(f"answering the task of step {task['stepKey']!r}: {exc}")

        await ctx.step("complete", complete)


def _answer_for(answers: dict[str, TaskAnswer], step_key: str) -> TaskAnswer | None:
    """The answer for a task of ``step_key`` (``vp-approval``, or a nested ``a.b.vp-approval``,
    or an occurrence ``vp-approval#2``)."""
    bare = step_key.split("#", 1)[0]
    for candidate in (step_key, bare, bare.rsplit(".", 1)[-1], bare.rsplit("/", 1)[-1]):
        if candidate in answers:
            return answers[candidate]
    return None


async def drive_flow(box: Scratch, run_id: str) -> str | None:
    """Let run ``run_id`` go to its end, moving the clock to each next timer; return why it
    could not end (``None`` when it ended)."""
    start = box.clock.peek()
    while True:
        await box.settle()
        run = await box.run(run_id)
        if run.status in ("succeeded", "failed", "cancelled"):
            return None
        due = box.clock.due()
        if due is None:
            return await _stuck(box, run)
        if due - start > MAX_VIRTUAL_SECONDS:
            return f"the run is still {run.status} after a year of virtual time"
        await box.clock.advance(max(0.0, due - box.clock.peek()))


async def _stuck(box: Scratch, run: Run) -> str:
    tasks = await box.engine.tasks.find(ORG, status="open")
    if tasks.items:
        listing = ", ".join(f"{t.step_key!r} ({t.title})" for t in tasks.items)
        return (f"the run is {run.status}, nothing will wake it: open human task(s) of step "
                f"{listing}; answer them in the scenario's tasks")  # fmt: skip
    return f"the run is {run.status} and nothing will wake it (it waits for an event or a signal)"
