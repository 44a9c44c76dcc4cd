"""Business metrics of code workflows (brief 001 ``metrics``): declared with the workflow,
recorded with ``ctx.metric``, stored once per record whatever replays, aggregated per workflow
over a window, and shown on a run read with ``include=metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine, RetryPolicy
from plait.errors import (
    InvalidParameter,
    LimitExceeded,
    StepFailed,
    WorkflowFailed,
    WorkflowNotFound,
)
from plait.testing import VirtualClock
from tests.backends import select

LIMIT = 30.0
DECLARED: list[str | dict[str, str]] = [
    {"name": "dealValue", "description": "Value of the deal, in euros"},
    "touches",
]


@pytest.fixture
def engine(make_engine: Callable[..., Engine], clock: VirtualClock) -> Engine:
    return make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                       heartbeat_seconds=10**6)  # fmt: skip


def deals(engine: Engine) -> None:
    @engine.workflow("deals", metrics=DECLARED)
    async def deals(ctx: Context, value: float, plan: str) -> float:
        ctx.metric("dealValue", value, plan=plan)
        ctx.metric("touches", 1)
        return value


async def run(engine: Engine, clock: VirtualClock, *args: Any) -> str:
    handle = await engine.start("deals", *args)
    await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    return handle.id


async def test_twenty_runs_aggregate_exactly(engine: Engine, clock: VirtualClock) -> None:
    deals(engine)
    async with engine:
        for value in range(1, 21):
            await run(engine, clock, float(value), "pro" if value % 2 else "basic")
        found = await engine.workflows.metrics("default", "deals", window="1h")
    figures = {f.name: f for f in found.metrics}
    assert [f.name for f in found.metrics] == ["dealValue", "touches"]  # declared order
    deal = figures["dealValue"]
    assert (deal.count, deal.sum, deal.mean, deal.p50) == (20, 210.0, 10.5, 10.5)
    assert deal.p95 == pytest.approx(19.05)  # interpolated: 19 + 0.05 * (20 - 19)
    assert (deal.min, deal.max, deal.description) == (1.0, 20.0, "Value of the deal, in euros")
    touches = figures["touches"]
    assert (touches.count, touches.sum, touches.mean, touches.p95) == (20, 20.0, 1.0, 1.0)
    assert found.window.window == "1h"
    assert found.window.until.timestamp() - found.window.since.timestamp() == 3600


async def test_figures_by_label_set_and_by_name(engine: Engine, clock: VirtualClock) -> None:
    deals(engine)
    async with engine:
        for value in range(1, 21):
            await run(engine, clock, float(value), "pro" if value % 2 else "basic")
        found = await engine.workflows.metrics("default", "deals", name="dealValue",
                                               by_labels=True)  # fmt: skip
    by_plan = {f.labels["plan"]: f for f in found.metrics if f.labels}
    assert (by_plan["pro"].count, by_plan["pro"].sum) == (10, 100.0)  # 1, 3, ... 19
    assert (by_plan["basic"].count, by_plan["basic"].sum, by_plan["basic"].p50) == (10, 110.0, 11.0)
    assert [f.name for f in found.metrics] == ["dealValue", "dealValue"]


async def test_the_window_leaves_older_measurements_out(
    engine: Engine, clock: VirtualClock
) -> None:
    deals(engine)
    async with engine:
        await run(engine, clock, 5.0, "pro")
        await clock.advance(7200)
        await run(engine, clock, 7.0, "pro")
        last_hour = await engine.workflows.metrics("default", "deals", window="1h")
        both = await engine.workflows.metrics("default", "deals", window="3h")
    assert [(f.count, f.sum) for f in last_hour.metrics if f.name == "dealValue"] == [(1, 7.0)]
    assert [(f.count, f.sum) for f in both.metrics if f.name == "dealValue"] == [(2, 12.0)]


async def test_a_replay_does_not_record_a_metric_twice(engine: Engine, clock: VirtualClock) -> None:
    executions: list[int] = []

    @engine.workflow("waits", metrics=["dealValue"])
    async def waits(ctx: Context) -> None:
        executions.append(1)
        ctx.metric("dealValue", 42, stage="before")
        await ctx.sleep("cool-off", hours=1)  # suspends: the run replays from the top
        ctx.metric("dealValue", 8, stage="after")

    async with engine:
        handle = await engine.start("waits")
        await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        store = await engine.deps.store()
        rows = await select(store, "SELECT name, value, labels FROM run_metrics ORDER BY value")
        run = await engine.runs.get("default", handle.id, include="metrics")
        found = await engine.workflows.metrics("default", "waits", window="2h")
    assert len(executions) == 2  # executed, suspended, replayed
    assert rows == [("dealValue", 8.0, '{"stage":"after"}'),
                    ("dealValue", 42.0, '{"stage":"before"}')]  # fmt: skip
    assert run.metrics is not None
    assert [(m.name, m.value, m.labels, m.step) for m in run.metrics] == [
        ("dealValue", 42.0, {"stage": "before"}, "metric:dealValue"),
        ("dealValue", 8.0, {"stage": "after"}, "metric:dealValue#2"),
    ]
    assert (found.metrics[0].count, found.metrics[0].sum) == (2, 50.0)


async def test_a_restarted_worker_does_not_record_a_metric_twice(
    make_engine: Callable[..., Engine],
) -> None:
    """A worker stops while the run is inside a step after its metric was recorded; the run
    is released, and another engine replays it from the top: the metric is read back."""
    first = make_engine(shutdown_seconds=0.1)
    entered = asyncio.Event()

    async def never() -> None:
        entered.set()
        await asyncio.Event().wait()

    @first.workflow("resumable", metrics=["dealValue"])
    async def resumable_v1(ctx: Context) -> str:
        ctx.metric("dealValue", 3)
        await ctx.step("work", never)
        return "unreachable"

    await first.start_worker()
    handle = await first.start(resumable_v1)
    await asyncio.wait_for(entered.wait(), LIMIT)
    await first.close()
    second = make_engine()

    async def quick() -> str:
        return "done"

    @second.workflow("resumable", metrics=["dealValue"])
    async def resumable_v2(ctx: Context) -> str:
        ctx.metric("dealValue", 3)
        return str(await ctx.step("work", quick))

    async with second:
        assert await second.handle(handle.id).result(timeout=LIMIT) == "done"
        store = await second.deps.store()
        rows = await select(store, "SELECT run_id, value FROM run_metrics")
        found = await second.workflows.metrics("default", "resumable")
    assert rows == [(handle.id, 3.0)]
    assert (found.metrics[0].count, found.metrics[0].sum) == (1, 3.0)


async def test_an_undeclared_metric_fails_the_run_naming_it(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.workflow("sloppy", metrics=["dealValue"])
    async def sloppy(ctx: Context) -> None:
        ctx.metric("dealvalue", 1)

    async with engine:
        handle = await engine.start("sloppy")
        with pytest.raises(WorkflowFailed) as failed:
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        run = await engine.runs.get("default", handle.id)
    assert run.error is not None and run.error["type"] == "plait.errors.InvalidMetric"
    assert "metric 'dealvalue': is not declared by the workflow (declared: dealValue)" in str(
        failed.value
    )


def test_values_and_labels_are_checked(engine: Engine) -> None:
    from plait.runtime.business_metrics import declared

    with pytest.raises(ValueError, match="declared twice"):
        declared(["a", {"name": "a"}])
    with pytest.raises(ValueError, match="must be a letter"):
        declared(["9lives"])


async def test_bad_windows_and_unknown_workflows_are_refused(engine: Engine) -> None:
    deals(engine)
    async with engine:
        with pytest.raises(InvalidParameter) as bad:
            await engine.workflows.metrics("default", "deals", window="24 hours")
        assert bad.value.path == "$.query.window" and "30m, 24h or 7d" in str(bad.value)
        with pytest.raises(LimitExceeded) as long:
            await engine.workflows.stats("default", "deals", window="91d")
        assert long.value.setting == "stats_max_window_days" and long.value.limit == "90d"
        with pytest.raises(WorkflowNotFound):
            await engine.workflows.metrics("default", "nope")
        with pytest.raises(InvalidParameter) as include:
            await engine.runs.get("default", "run_x", include="metrics,trace")
        assert include.value.path == "$.query.include" and "'trace'" in str(include.value)


async def test_a_resumed_run_keeps_only_the_values_it_records_again(
    engine: Engine, clock: VirtualClock
) -> None:
    """The first execution records a decline after its charge failed, then fails; resumed from
    the charge, which now succeeds, the run records revenue and no decline."""
    declined = [True]

    async def charge() -> float:
        if declined[0]:
            raise ValueError("declined")
        return 42.0

    @engine.workflow("charging", metrics=["declines", "revenue", "attempts"])
    async def charging(ctx: Context) -> float:
        ctx.metric("attempts", 1)
        try:
            amount = float(await ctx.step("charge", charge, retry=RetryPolicy(max_attempts=1)))
        except StepFailed:
            ctx.metric("declines", 1)
            raise
        ctx.metric("revenue", amount)
        return amount

    async with engine:
        handle = await engine.start("charging")
        with pytest.raises(WorkflowFailed):
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        first = await engine.runs.get("default", handle.id, include="metrics")
        declined[0] = False
        await engine.runs.resume("default", handle.id)
        assert await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT) == 42.0
        again = await engine.runs.get("default", handle.id, include="metrics")
        found = await engine.workflows.metrics("default", "charging", window="1h")
    assert first.metrics is not None and again.metrics is not None
    assert [m.name for m in first.metrics] == ["attempts", "declines"]
    assert [(m.name, m.value) for m in again.metrics] == [("attempts", 1.0), ("revenue", 42.0)]
    assert {f.name: f.count for f in found.metrics} == {"declines": 0, "revenue": 1, "attempts": 1}
