"""Deadlines, races and compensation of declarative workflows across suspensions, on both
backends and virtual time: group and run timeouts over waits that outlive them, races whose
children suspend, and what resume and fork do with deadlines and rolled-back runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from plait import Engine
from plait.errors import RunCompensated, RunNotResumable
from plait.resources.reports import RunReport
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import wait_status
from tests.integration.test_interpreter import action, calls, engine, run
from tests.integration.test_interpreter_failures import undo, undone

__all__ = ["calls", "engine"]  # fixtures used below

LIMIT = 30.0  # real seconds: a regression that loops or hangs fails instead of stalling CI
DAY = 86400


def child(engine: Engine, seconds: float = DAY) -> None:
    engine.define({"name": "child", "dialect": "canonical", "steps": [
        {"kind": "sleep", "id": "nap", "seconds": seconds}]})  # fmt: skip


async def settle(engine: Engine, clock: VirtualClock, handle: Any) -> dict[str, Any]:
    """Run ``handle`` to its end on virtual time (within LIMIT real seconds); its report."""

    async def finish() -> None:
        try:
            await handle.result()
        except Exception:
            return

    await asyncio.wait_for(clock.run_skipping(finish()), LIMIT)
    return RunReport.of(await engine.handle(handle.id).info()).wire()


async def test_a_group_timeout_ends_a_wait_on_a_child_workflow(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    child(engine)
    started = clock.time()
    report = await asyncio.wait_for(run(engine, clock, [
        {"kind": "parallel", "id": "group", "timeout": 60, "on_error": "continue",
         "steps": [{"kind": "workflow", "id": "c", "workflow": "child"}]},
        action("after", "echo", "{{group}}", depends_on=["group"]),
        action("other", "echo", "o"),
    ]), LIMIT)  # fmt: skip
    assert clock.time() - started == pytest.approx(60)
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")
    assert report["steps"]["after"]["status"] == "succeeded"  # continue: it sees null
    assert report["output"]["after"] is None
    assert report["steps"]["group"]["error"]["message"] == "step 'group' timed out after 60s"
    info = await engine.handle(report["runId"]).info()
    assert info.replays < 10  # woke once at the deadline, not in a loop


async def test_a_run_timeout_ends_a_wait_on_a_child_workflow(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    child(engine)
    started = clock.time()
    report = await asyncio.wait_for(run(engine, clock, [
        {"kind": "workflow", "id": "c", "workflow": "child"},
    ], timeout=60), LIMIT)  # fmt: skip
    assert clock.time() - started == pytest.approx(60)
    assert report["status"] == "failed"
    assert report["errors"][-1]["type"] == "plait.errors.WorkflowTimeout"


@pytest.mark.parametrize("where", ["run", "group"])
async def test_a_resumed_run_gets_its_timeout_again(
    engine: Engine, clock: VirtualClock, calls: list[Any], where: str
) -> None:
    work = action("work", "flaky", {"key": "k", "fail_times": 1})
    if where == "run":
        doc = {"name": "wf", "dialect": "canonical", "timeout": 3600, "steps": [work]}
    else:
        doc = {"name": "wf", "dialect": "canonical", "steps": [
            {"kind": "parallel", "id": "group", "timeout": 3600, "steps": [work]}]}  # fmt: skip
    workflow = engine.define(doc)
    async with engine:
        handle = await engine.start(workflow)
        await wait_status(engine, handle.id, "failed")
        await clock.advance(7200)  # the first budget is long gone
        await engine.handle(handle.id).resume(reason="provider is back")
        report = await settle(engine, clock, handle)
    assert report["status"] == "succeeded", report["errors"]
    assert report["steps"]["work"]["output"] == "recovered"


async def test_a_timed_out_group_stays_failed_when_its_task_is_completed_later(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    workflow = engine.define({"name": "wf", "dialect": "canonical", "steps": [
        {"kind": "parallel", "id": "group", "timeout": 60, "on_error": "fallback",
         "steps": [{"kind": "human-task", "id": "ask", "assign_to": "ann"}],
         "fallback": [action("fb", "echo", "fallback-ran")]},
        {"kind": "sleep", "id": "pause", "seconds": 3600, "depends_on": ["group"]},
        action("after", "echo", "{{group}}", depends_on=["pause"]),
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(60)  # the group times out, its fallback runs, the run sleeps

        async def fell_back() -> bool:
            return ("echo", "fallback-ran") in calls

        await assert_eventually(fell_back)
        await wait_status(engine, handle.id, "waiting")
        tasks = (await engine.tasks.find("default", assignee="ann", status="open")).items
        await engine.tasks.complete("default", tasks[0].id, decision="approve", by="ann")
        report = await settle(engine, clock, handle)
    assert report["status"] == "succeeded"
    assert report["output"]["after"] == "fallback-ran"
    assert report["steps"]["group"]["status"] == "failed"
    assert calls == [("echo", "fallback-ran")] * 2  # the fallback once, then `after`


@pytest.mark.parametrize("strategy", ["any", "first"])
async def test_a_race_whose_children_all_wait_takes_the_first_to_end(
    engine: Engine, clock: VirtualClock, calls: list[Any], strategy: str
) -> None:
    started = clock.time()
    report = await asyncio.wait_for(run(engine, clock, [
        {"kind": "parallel", "id": "race", "strategy": strategy, "steps": [
            {"kind": "sleep", "id": "s1", "seconds": 3600},
            {"kind": "sleep", "id": "s2", "seconds": 7200}]},
        action("after", "echo", "done", depends_on=["race"]),
    ]), LIMIT)  # fmt: skip
    assert report["status"] == "succeeded", report["errors"]
    assert report["steps"]["s1"]["status"] == "succeeded"
    assert report["steps"]["after"]["finishedAt"] is not None
    assert clock.time() - started == pytest.approx(3600)


async def test_whoever_approves_first_wins_a_race_of_human_tasks(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    workflow = engine.define({"name": "wf", "dialect": "canonical", "steps": [
        {"kind": "parallel", "id": "approval", "strategy": "any", "steps": [
            {"kind": "human-task", "id": "ann", "assign_to": "ann"},
            {"kind": "human-task", "id": "bob", "assign_to": "bob"}]},
        action("after", "echo", "{{approval.completedBy}}", depends_on=["approval"]),
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        await wait_status(engine, handle.id, "waiting")
        await asyncio.sleep(0)
        report = RunReport.of(await engine.handle(handle.id).info()).wire()
        assert report["status"] == "waiting", report["errors"]
        tasks = (await engine.tasks.find("default", assignee="bob", status="open")).items
        await engine.tasks.complete("default", tasks[0].id, decision="approve", by="bob")
        report = await settle(engine, clock, handle)
    assert report["status"] == "succeeded", report["errors"]
    assert report["output"]["after"] == "bob"


@pytest.mark.parametrize("pause", [0, 3600])
async def test_a_race_losers_completed_step_is_compensated_after_a_suspension(
    engine: Engine, clock: VirtualClock, calls: list[Any], pause: int
) -> None:
    report = await asyncio.wait_for(run(engine, clock, [
        {"kind": "parallel", "id": "race", "strategy": "any", "steps": [
            {"kind": "condition", "id": "x", "test": "true", "then": [
                action("x1", "echo", "x1", compensation=undo("x1")),
                action("x2", "slow", {"seconds": 100, "name": "x2"})]},
            action("y", "slow", {"seconds": 10, "name": "y"})]},
        {"kind": "sleep", "id": "pause", "seconds": pause, "depends_on": ["race"]},
        action("boom", "fail", "b", depends_on=["pause"]),
    ]), LIMIT)  # fmt: skip
    assert report["status"] == "failed"
    assert report["output"] is None
    assert undone(calls) == ["undo x1 x1"]


async def test_a_child_workflow_step_is_undone_in_order_of_the_childs_end(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    child(engine, seconds=100)
    report = await asyncio.wait_for(run(engine, clock, [
        {"kind": "workflow", "id": "long", "workflow": "child", "compensation": [undo("long")]},
        action("quick", "slow", {"seconds": 10, "name": "q"}, compensation=undo("quick")),
        action("boom", "fail", "b", depends_on=["long", "quick"]),
    ]), LIMIT)  # fmt: skip
    assert report["status"] == "failed"
    # The child ended at 100 s, after quick (10 s): it is undone first.
    assert [u.split(" ")[1] for u in undone(calls)] == ["long", "quick"]


async def test_a_rolled_back_run_is_not_resumed_but_retried(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    workflow = engine.define({"name": "wf", "dialect": "canonical", "steps": [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        action("charge", "fail", "c1", depends_on=["reserve"]),
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        report = await settle(engine, clock, handle)
        assert report["status"] == "failed"
        assert undone(calls) == ["undo reserve r1"]
        with pytest.raises(RunCompensated, match="cannot resume run .* rolled back") as refused:
            await engine.handle(handle.id).resume()
        assert isinstance(refused.value, RunNotResumable)  # HTTP 409
        assert refused.value.undone == ["reserve"]
        assert "retry it to run it again from scratch" in str(refused.value)
        with pytest.raises(RunCompensated, match="fork from step 'charge'"):
            await engine.handle(handle.id).fork("charge")
        forked = await engine.handle(handle.id).fork("reserve")  # reuses nothing that was undone
        retried = await engine.handle(handle.id).retry()
        for again in (forked, retried):
            assert (await settle(engine, clock, again))["status"] == "failed"
        assert (await engine.handle(handle.id).info()).status == "failed"
    assert calls.count(("echo", "r1")) == 3  # reserved afresh by the fork and the retry
