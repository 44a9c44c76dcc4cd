"""Run tree bounds through the code API (both backends): a code workflow that starts itself
stops at max_run_tree_depth, one that fans out stops at max_run_tree_runs, and the refusal is
a StepFailed the parent can catch, never retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.errors import StepFailed, WorkflowFailed

MakeEngine = Callable[..., Engine]


async def test_a_code_workflow_that_starts_itself_stops_at_the_depth_bound(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(max_run_tree_depth=4)
    refusals: list[dict[str, Any]] = []

    @engine.workflow("dive")
    async def dive(ctx: Context, level: int) -> int:
        try:
            deepest: int = await ctx.child("dive", level + 1)
        except StepFailed as exc:
            if exc.error.get("type") != "plait.LimitExceeded":
                raise
            refusals.append(exc.error)
            return level
        return deepest

    async with engine:
        assert await (await engine.start("dive", 0)).result(timeout=30) == 4
    [refusal] = refusals
    assert refusal["setting"] == "max_run_tree_depth" and refusal["value"] == 5
    assert refusal["limit"] == 4
    runs = (await engine.list_runs(workflow="dive", limit=100)).items
    assert len(runs) == 5 and {r.status for r in runs} == {"succeeded"}


async def test_a_fan_out_stops_at_the_size_bound(make_engine: MakeEngine) -> None:
    engine = make_engine(max_run_tree_runs=6)

    @engine.workflow("leaf")
    async def leaf(ctx: Context, n: int) -> int:
        return n

    @engine.workflow("fan")
    async def fan(ctx: Context, width: int) -> list[int]:
        return [await ctx.child(leaf, n) for n in range(width)]

    async with engine:
        with pytest.raises(WorkflowFailed) as failed:
            await (await engine.start("fan", 8)).result(timeout=30)
    assert "max_run_tree_runs" in str(failed.value)
    assert "is 7; the limit is 6" in str(failed.value)
    assert len((await engine.list_runs(workflow="leaf", limit=100)).items) == 5
