"""Child workflows: start and wait, failures surfacing in the parent, crash safety, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import ChildWorkflowFailed, StepFailed, WorkflowCancelled, WorkflowFailed
from plait.testing import VirtualClock, assert_eventually

from .helpers import wait_status

MakeEngine = Callable[..., Engine]


def register_family(engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
    """A parent that runs three children in parallel; the child fails for ``"bad"``."""

    async def work(item: str) -> str:
        counts[item] = counts.get(item, 0) + 1
        if item == "bad":
            raise ValueError(f"cannot process {item}")
        return item.upper()

    @engine.workflow("process")
    async def process(ctx: Context, item: str) -> str:
        result: str = await ctx.step("work", work, item)
        return result

    async def undo(item: str) -> None:
        counts[f"undo-{item}"] = counts.get(f"undo-{item}", 0) + 1

    async def attempt(ctx: Context, item: str) -> Any:
        try:
            return await ctx.child(process, item)
        except ChildWorkflowFailed as exc:  # not return_exceptions: it would swallow suspension
            return exc

    @engine.workflow("batch")
    async def batch(ctx: Context, items: list[str]) -> Any:
        results = await asyncio.gather(*[attempt(ctx, item) for item in items])
        failed = [r for r in results if isinstance(r, ChildWorkflowFailed)]
        if failed:
            for item, result in zip(items, results, strict=True):
                if not isinstance(result, BaseException):
                    await ctx.step(f"undo-{item}", undo, item)
            raise failed[0]
        return results

    return {"process": process, "batch": batch}


async def test_child_returns_its_output_and_links_to_its_parent(make_engine: MakeEngine) -> None:
    engine = make_engine()
    counts: dict[str, int] = {}
    flows = register_family(engine, counts)
    async with engine:
        handle = await engine.start(flows["batch"], ["a", "b", "c"])
        assert await handle.result(timeout=10) == ["A", "B", "C"]
        parent = await engine.handle(handle.id).info()
        assert len(parent.children) == 3
        for child_id in parent.children:
            child = await engine.handle(child_id).info()
            assert child.parent_run_id == handle.id and child.trigger == "child"
            assert child.status == "succeeded"
        assert counts == {"a": 1, "b": 1, "c": 1}


async def test_a_failing_child_fails_its_step_and_compensation_runs(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    counts: dict[str, int] = {}
    flows = register_family(engine, counts)
    async with engine:
        handle = await engine.start(flows["batch"], ["a", "bad", "c"])
        with pytest.raises(WorkflowFailed) as failure:
            await handle.result(timeout=10)
        error = failure.value.error
        assert error["type"] == "plait.ChildWorkflowFailed"
        bad = error["childRunId"]
        assert bad in error["message"] and "cannot process bad" in error["message"]
        assert (await engine.handle(bad).info()).status == "failed"
        assert counts["undo-a"] == 1 and counts["undo-c"] == 1 and "undo-bad" not in counts


async def test_start_child_returns_a_handle_and_the_parent_waits_suspended(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()

    @engine.workflow("slow-child")
    async def slow_child(ctx: Context) -> str:
        note = await ctx.receive("go")
        return f"done {note}"

    @engine.workflow("parent")
    async def parent(ctx: Context) -> Any:
        handle = await ctx.start_child(slow_child)
        await ctx.set_state("child", handle.id)
        return await handle.result()

    async with engine:
        run = await engine.start(parent)
        await wait_status(engine, run.id, "waiting")
        child_id = await engine.handle(run.id).state("child")
        await wait_status(engine, child_id, "waiting")
        assert engine.worker is not None and not engine.worker._active
        await engine.handle(child_id).signal("go", "now")
        assert await run.result(timeout=10) == "done now"


async def test_replaying_the_parent_never_starts_a_second_child(make_engine: MakeEngine) -> None:
    engine = make_engine()
    executions: dict[str, int] = {"child": 0}

    @engine.workflow("counted")
    async def counted(ctx: Context, n: int) -> int:
        executions["child"] += 1
        return n * 2

    @engine.workflow("twice")
    async def twice(ctx: Context) -> int:
        first: int = await ctx.child(counted, 1)
        await ctx.sleep("pause", 3600)  # the parent suspends and replays from the top
        second: int = await ctx.child("counted", 2)
        return first + second

    clock = VirtualClock(start=1_800_000_000.0)
    engine.clock = clock
    async with engine:
        handle = await engine.start(twice)

        async def pausing() -> bool:
            info = await engine.handle(handle.id).info()
            return info.status == "waiting" and any(s.key == "pause" for s in info.steps)

        await assert_eventually(pausing)
        await clock.advance(3601)
        assert await handle.result(timeout=10) == 6
        info = await engine.handle(handle.id).info()
        children = (await engine.list_runs(workflow="counted")).items
        assert len(children) == 2 and len(info.children) == 2
        assert executions["child"] == 2 and info.replays >= 3


async def test_an_unknown_child_workflow_fails_the_step(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("orphan")
    async def orphan(ctx: Context) -> Any:
        try:
            return await ctx.child("no-such-workflow", 1)
        except StepFailed as exc:
            return exc.message

    async with engine:
        handle = await engine.start(orphan)
        assert "no workflow 'no-such-workflow'" in await handle.result(timeout=10)


async def test_cancelling_a_parent_cancels_its_waiting_children(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("listener")
    async def listener(ctx: Context) -> Any:
        return await ctx.receive("never")

    @engine.workflow("family")
    async def family(ctx: Context) -> Any:
        return await asyncio.gather(ctx.child(listener), ctx.child(listener))

    async with engine:
        handle = await engine.start(family)

        async def children_waiting() -> bool:
            info = await engine.handle(handle.id).info()
            statuses = [(await engine.handle(c).info()).status for c in info.children]
            return info.status == "waiting" and statuses == ["waiting", "waiting"]

        await assert_eventually(children_waiting)
        await engine.handle(handle.id).cancel()
        with pytest.raises(WorkflowCancelled):
            await handle.result(timeout=10)
        for child_id in (await engine.handle(handle.id).info()).children:
            assert (await engine.handle(child_id).info()).status == "cancelled"


async def test_a_cancelled_child_fails_the_waiting_parent(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("stuck")
    async def stuck(ctx: Context) -> Any:
        return await ctx.receive("never")

    @engine.workflow("waiter")
    async def waiter(ctx: Context) -> Any:
        try:
            return await ctx.child(stuck)
        except ChildWorkflowFailed as exc:
            return {"status": exc.child_status, "child": exc.child_run_id}

    async with engine:
        handle = await engine.start(waiter)
        await wait_status(engine, handle.id, "waiting")
        [child_id] = (await engine.handle(handle.id).info()).children
        await wait_status(engine, child_id, "waiting")
        await engine.handle(child_id).cancel()
        assert await handle.result(timeout=10) == {"status": "cancelled", "child": child_id}
