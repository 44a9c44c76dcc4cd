"""Progress of declarative workflows on virtual time: steps done of steps planned, the current
step, the estimated time remaining learned from the workflow's recent runs, and the opt-in
``WorkflowProgress.updated`` events."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from plait import Engine
from plait.resources.progress import Progress
from plait.testing import VirtualClock, assert_eventually
from tests.integration.test_interpreter import action, calls, engine

__all__ = ["calls", "engine"]  # fixtures used below

LIMIT = 30.0  # real seconds: a regression that hangs fails instead of stalling CI
STEPS = ["a", "b", "c", "d", "e"]


def five_steps(engine: Engine, **definition: Any) -> Any:
    """Five steps in a chain, each taking 10 virtual seconds."""
    steps = [action(step, "slow", {"seconds": 10, "name": step}) for step in STEPS]
    for before, step in itertools.pairwise(steps):
        step["depends_on"] = [before["id"]]
    return engine.define({"name": "five", "dialect": "canonical", "steps": steps,
                          **definition})  # fmt: skip


async def at_third_step(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> tuple[str, Progress]:
    """Start a run and move time until it is 5 seconds into its third step; its progress."""
    before = len(calls)
    handle = await engine.start("five")
    for step in range(1, 4):

        async def started(step: int = step) -> bool:
            return len(calls) - before == step and clock.sleepers > 0

        await assert_eventually(started)
        await clock.until_idle()
        await clock.advance(10 if step < 3 else 5)
    await clock.until_idle()
    run = await engine.runs.get("default", handle.id)
    assert run.progress is not None
    return handle.id, run.progress


async def finish(engine: Engine, clock: VirtualClock, run_id: str) -> Progress:
    await asyncio.wait_for(clock.run_skipping(engine.handle(run_id).result()), LIMIT)
    run = await engine.runs.get("default", run_id)
    assert run.progress is not None
    return run.progress


async def test_a_five_step_definition_reports_its_progress_and_learns_its_pace(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    five_steps(engine)
    async with engine:
        first, progress = await at_third_step(engine, clock, calls)
        assert progress.model_dump(by_alias=True) == {
            "completedSteps": 2, "totalSteps": 5, "fraction": 0.4, "currentStep": "c",
            "message": None, "estimatedTimeRemaining": None,  # no run of it has ended yet
        }  # fmt: skip
        ended = await finish(engine, clock, first)
        assert (ended.completed_steps, ended.fraction, ended.current_step) == (5, 1.0, None)
        assert ended.estimated_time_remaining == 0.0

        second, progress = await at_third_step(engine, clock, calls)
        assert (progress.completed_steps, progress.current_step) == (2, "c")
        assert progress.estimated_time_remaining == 30.0  # 3 steps left, 10 s each so far
        await finish(engine, clock, second)
        listed = await engine.runs.find("default", workflow="five")
        assert all(run.progress is None for run in listed.items)  # listings leave it out


async def events_of(engine: Engine) -> list[dict[str, Any]]:
    page = await engine.events.find("default", type="WorkflowProgress.updated")
    return [event.data for event in reversed(page.items)]


async def test_progress_events_are_emitted_only_when_the_workflow_opts_in(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    five_steps(engine, progress_events=True)
    async with engine:
        run_id, _ = await at_third_step(engine, clock, calls)
        await finish(engine, clock, run_id)

        async def all_five() -> bool:  # emitted beside the run's writes, not inside them
            return len(await events_of(engine)) == 5

        await assert_eventually(all_five)
        events = await events_of(engine)
        assert [(e["completedSteps"], e["currentStep"], e["step"]) for e in events] == [
            (1, "b", "a"),
            (2, "c", "b"),
            (3, "d", "c"),
            (4, "e", "d"),
            (5, None, "e"),
        ]
        assert {e["runId"] for e in events} == {run_id} and events[-1]["fraction"] == 1.0


async def test_no_progress_events_by_default(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    five_steps(engine)
    async with engine:
        run_id, _ = await at_third_step(engine, clock, calls)
        assert (await finish(engine, clock, run_id)).completed_steps == 5
        assert await events_of(engine) == []
