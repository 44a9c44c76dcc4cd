"""Costs of runs on every backend (brief 003 pricing): code workflows and definitions priced
once when each run ends, stored with the run (line items, total, currency) and added to the
month's totals, which a replay, a resume or a retry never charge twice; volume tiers read
the organization's exact count of priced runs, across engines sharing the database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from plait import Context, Engine
from plait.definitions.validate import InvalidDefinition
from plait.errors import WorkflowFailed
from plait.service.handles import RunHandle
from plait.testing import VirtualClock
from tests.integration.helpers import wait_status

LIMIT = 30.0
MONTH = "2027-01"  # the month of the clock fixture's start (1_800_000_000)
DOCUMENTS: dict[str, Any] = {
    "model": "per-execution", "baseRate": 0.5,
    "stepRates": {"ocr": 0.25, "classify": 0.1, "extract": 0.15, "validate": 0.05},
    "discounts": {"volume": [{"min": 3, "max": None, "discount": 0.2}]},
}  # fmt: skip
VIDEO: dict[str, Any] = {
    "model": "time-based", "rate": 0.1, "minimum": 1.0, "maximum": 100.0,
    "stepMultipliers": {"transcode": 1.5, "analyze": 1.2, "generate-thumbnails": 0.8},
}  # fmt: skip


@pytest.fixture
def engine(make_engine: Callable[..., Engine], clock: VirtualClock) -> Engine:
    return make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                       heartbeat_seconds=10**6)  # fmt: skip


async def settled(handle: RunHandle) -> None:
    """Once the run has ended, succeeded or failed."""
    with contextlib.suppress(WorkflowFailed):
        await handle.result()


async def finish(engine: Engine, clock: VirtualClock, name: str, *args: Any) -> str:
    handle = await engine.start(name, *args)
    await asyncio.wait_for(clock.run_skipping(settled(handle)), LIMIT)
    return handle.id


async def cost_of(engine: Engine, run_id: str) -> dict[str, Any] | None:
    """The run's cost as the API shows it, its line items without their null fields."""
    run = await engine.runs.get("default", run_id)
    if run.cost is None:
        return None
    wire = run.cost.wire()
    wire["lineItems"] = [{k: v for k, v in i.items() if v is not None} for i in wire["lineItems"]]
    return wire


def timed(clock: VirtualClock, seconds: float, fail: bool = False) -> Callable[..., Any]:
    async def work() -> str:
        await clock.sleep(seconds)
        if fail:
            raise RuntimeError("unreadable")
        return "done"

    return work


def documents(engine: Engine, clock: VirtualClock) -> None:
    @engine.workflow("documents", pricing=DOCUMENTS)
    async def process(ctx: Context, failing: str = "") -> str:
        for name in ("ocr", "classify", "extract", "validate"):
            try:
                await ctx.step(name, timed(clock, 2, fail=name == failing))
            except Exception:
                continue
        return "ok"


async def test_document_processing_is_priced_per_completed_step_with_volume_tiers(
    engine: Engine, clock: VirtualClock
) -> None:
    documents(engine, clock)
    async with engine:
        first = await finish(engine, clock, "documents")
        second = await finish(engine, clock, "documents", "validate")
        third = await finish(engine, clock, "documents")
        summary = await engine.costs.summary("default", period=MONTH)
        costs = [await cost_of(engine, run_id) for run_id in (first, second, third)]
    assert [c["total"] if c else None for c in costs] == ["1.05", "1", "0.84"]
    assert costs[0] is not None and costs[0]["currency"] == "USD" and costs[0]["volume"] == 1
    assert costs[0]["lineItems"][:2] == [
        {"kind": "charge", "name": "baseRate", "rate": "0.5", "amount": "0.5"},
        {"kind": "step", "name": "ocr", "step": "ocr", "rate": "0.25", "amount": "0.25"},
    ]
    assert costs[2] is not None and costs[2]["lineItems"][-1] == {
        "kind": "volume", "name": "volume 3", "quantity": "3", "discount": "0.2",
        "amount": "-0.21",
    }  # fmt: skip
    wire = summary.wire()
    assert wire["from"] == wire["to"] == MONTH and wire["totals"] == {"USD": "2.89"}
    assert wire["items"] == [{"month": MONTH, "workflow": "documents", "currency": "USD",
                              "runs": 3, "total": "2.89"}]  # fmt: skip


async def test_video_pipeline_is_priced_by_its_run_and_step_seconds(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.workflow("video", pricing=VIDEO)
    async def video(ctx: Context, seconds: float) -> str:
        await ctx.step("transcode", timed(clock, 30 * seconds))
        await ctx.step("analyze", timed(clock, 10 * seconds))
        await ctx.step("generate-thumbnails", timed(clock, 5 * seconds))
        await ctx.step("upload", timed(clock, 15 * seconds))
        return "published"

    async with engine:
        normal = await finish(engine, clock, "video", 1.0)
        short = await finish(engine, clock, "video", 0.01)
        long = await finish(engine, clock, "video", 50.0)
        costs = [await cost_of(engine, run_id) for run_id in (normal, short, long)]
    # 60 s x 0.1 + 30 x 0.1 x 0.5 + 10 x 0.1 x 0.2 - 5 x 0.1 x 0.2 = 7.6
    assert [c["total"] if c else None for c in costs] == ["7.6", "1", "100"]
    assert costs[0] is not None and costs[0]["lineItems"][0] == {
        "kind": "time",
        "name": "run",
        "quantity": "60",
        "rate": "0.1",
        "amount": "6",
    }
    assert costs[1] is not None and costs[1]["lineItems"][-1]["kind"] == "minimum"


INVOICE: dict[str, Any] = {
    "name": "invoice",
    "dialect": "service",
    "steps": [
        {"id": "extract", "type": "function", "function": "extract"},
        {"id": "validate", "type": "function", "function": "check", "dependsOn": ["extract"],
         "required": False, "onError": "continue"},
        {"id": "approve", "type": "function", "function": "extract", "dependsOn": ["validate"]},
    ],
    "pricing": {"model": "per-execution", "rate": 2.0, "failureRefund": 1.0},
}  # fmt: skip


async def test_invoice_definition_refunds_a_run_with_a_failed_step(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.action("extract")
    async def extract(data: Any) -> dict[str, Any]:
        return {"total": 10}

    @engine.action("check")
    async def check(data: Any) -> dict[str, Any]:
        raise ValueError("totals differ")

    engine.define(INVOICE)
    async with engine:
        refunded = await finish(engine, clock, "invoice", {})
        run = await engine.runs.get("default", refunded)
    assert run.outcome == "partial" and run.cost is not None
    assert run.cost.total == "1" and [i.name for i in run.cost.line_items] == ["failureRefund"]


EXPENSE: dict[str, Any] = {
    "name": "expense",
    "dialect": "service",
    "steps": [
        {"id": "policy-check", "type": "function", "function": "policy"},
        {"id": "approval-routing", "type": "condition", "dependsOn": ["policy-check"],
         "condition": 'results["policy-check"].autoApprove === true',
         "then": {"id": "auto-approve", "type": "function", "function": "policy"},
         "else": {"id": "human-approval", "type": "human-task", "assignTo": "'manager'"}},
        {"id": "process", "type": "function", "function": "policy",
         "dependsOn": ["approval-routing"]},
    ],
    "pricing": {"model": "per-execution", "rates": {"automated": 0.25, "humanReview": 1.0}},
}  # fmt: skip


async def test_expense_approval_costs_more_when_a_person_reviewed_it(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.action("policy")
    async def policy(data: Any) -> dict[str, Any]:
        return {"autoApprove": bool(data and data.get("small"))}

    document = {
        **EXPENSE,
        "steps": [
            {**EXPENSE["steps"][0], "input": {"small": "{{ input.small }}"}},
            *EXPENSE["steps"][1:],
        ],
    }
    engine.define(document)
    async with engine:
        automated = await finish(engine, clock, "expense", {"small": True})
        handle = await engine.start("expense", {"small": False})
        await wait_status(engine, handle.id, "waiting")
        (task,) = (await engine.tasks.find("default", status="open")).items
        await engine.tasks.complete("default", task.id, decision="approve", by="manager")
        await asyncio.wait_for(settled(handle), LIMIT)
        costs = [await cost_of(engine, run_id) for run_id in (automated, handle.id)]
    assert [(c["total"], c["lineItems"][0]["name"]) if c else None for c in costs] == [
        ("0.25", "automated"),
        ("1", "humanReview"),
    ]


async def test_a_resumed_run_is_priced_once_and_a_retry_is_another_run(
    engine: Engine, clock: VirtualClock
) -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("down")
        return "ok"

    @engine.workflow(
        "invoice-code",
        pricing={
            "model": "per-execution",
            "rate": "2.0",
            "failureRefund": "1.0",
            "currency": "EUR",
        },
    )
    async def invoice(ctx: Context) -> str:
        await ctx.step("extract", timed(clock, 1))
        await ctx.sleep("cool-off", 60)  # suspends: the run replays after it
        return str(await ctx.step("charge", flaky))

    async with engine:
        run_id = await finish(engine, clock, "invoice-code")
        failed = await cost_of(engine, run_id)
        handle = await engine.handle(run_id).resume()
        await asyncio.wait_for(clock.run_skipping(settled(handle)), LIMIT)
        resumed = await cost_of(engine, run_id)
        retry = await engine.handle(run_id).retry()
        await asyncio.wait_for(clock.run_skipping(settled(retry)), LIMIT)
        summary = (await engine.costs.summary("default", workflow="invoice-code",
                                              period=f"{MONTH}..{MONTH}")).wire()  # fmt: skip
    assert failed is not None and (failed["total"], failed["currency"]) == ("1", "EUR")
    assert resumed is not None and resumed["total"] == "2" and resumed["volume"] == 1
    assert summary["runs"] == 2 and summary["totals"] == {"EUR": "4"}  # the run, its retry


async def test_a_workflow_without_pricing_costs_nothing_and_a_cancelled_run_is_not_priced(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.workflow("free")
    async def free(ctx: Context) -> str:
        return str(await ctx.step("a", timed(clock, 1)))

    @engine.workflow("priced", pricing={"model": "per-execution", "rate": 1})
    async def priced(ctx: Context) -> str:
        await ctx.sleep("later", 3600)
        return "late"

    async with engine:
        free_id = await finish(engine, clock, "free")
        handle = await engine.start("priced")
        await wait_status(engine, handle.id, "waiting")
        await handle.cancel(reason="not needed")
        summary = await engine.costs.summary("default", period=MONTH)
        assert await cost_of(engine, free_id) is None
        assert await cost_of(engine, handle.id) is None
    assert summary.items == [] and summary.runs == 0 and summary.totals == {}


async def test_engines_sharing_a_database_count_the_month_exactly(
    make_engine: Callable[..., Engine],
) -> None:
    pricing = {"model": "per-execution", "rate": 1,
               "discounts": {"volume": [{"min": 11, "discount": 0.5}]}}  # fmt: skip
    engines = [make_engine(concurrency=8) for _ in range(2)]
    for each in engines:

        @each.workflow("burst", pricing=pricing)
        async def burst(ctx: Context, n: int) -> int:
            return n

    async with engines[0], engines[1]:
        handles = [await engines[i % 2].start("burst", i) for i in range(20)]
        await asyncio.gather(*(asyncio.wait_for(settled(h), LIMIT) for h in handles))
        runs = [await engines[0].runs.get("default", h.id) for h in handles]
        summary = await engines[0].costs.summary("default", period=None)
    places = sorted(r.cost.volume for r in runs if r.cost is not None)
    assert places == list(range(1, 21))  # each run its own place in the month
    assert summary.runs == 20 and summary.totals == {"USD": "15"}  # 10 x 1 + 10 x 0.5
    assert sum(Decimal(r.cost.total) for r in runs if r.cost is not None) == Decimal(15)


def test_an_invalid_code_pricing_is_refused_with_its_paths(engine: Engine) -> None:
    with pytest.raises(InvalidDefinition) as raised:

        @engine.workflow("bad", pricing={"model": "per-execution", "rate": "x", "extra": 1})
        async def bad(ctx: Context) -> None:
            return None

    assert sorted(p.path for p in raised.value.problems) == ["$.pricing.extra", "$.pricing.rate"]


async def test_definitions_price_time_and_parallel_groups(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.action("work")
    async def work(value: Any) -> str:
        await clock.sleep(float(value["seconds"]))
        return "done"

    def step(name: str, seconds: float, after: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {"id": name, "type": "function", "function": "work",
                                 "input": {"seconds": seconds}}  # fmt: skip
        return {**found, "dependsOn": [after]} if after else found

    engine.define({"name": "video", "dialect": "service", "pricing": VIDEO, "steps": [
        step("transcode", 30), step("analyze", 10, "transcode"),
        step("generate-thumbnails", 5, "analyze"), step("upload", 15, "generate-thumbnails"),
    ]})  # fmt: skip
    engine.define(
        {
            "name": "content",
            "dialect": "service",
            "steps": [
                step("research", 1),
                {
                    "id": "create-assets",
                    "type": "parallel",
                    "dependsOn": ["research"],
                    "steps": [step("write-article", 5), step("generate-images", 3)],
                },
                step("publish", 1, "create-assets"),
            ],
            "pricing": {
                "model": "per-execution",
                "baseRate": 50,
                "parallelDiscount": 0.1,
                "stepRates": {"write-article": 2, "generate-images": 1, "publish": 1},
            },
        }
    )
    async with engine:
        video = await cost_of(engine, await finish(engine, clock, "video", {}))
        content = await cost_of(engine, await finish(engine, clock, "content", {}))
    assert video is not None and video["total"] == "7.6"
    assert [(i["kind"], i.get("name"), i["amount"]) for i in video["lineItems"]] == [
        ("time", "run", "6"), ("step-time", "transcode", "1.5"), ("step-time", "analyze", "0.2"),
        ("step-time", "generate-thumbnails", "-0.1"),
    ]  # fmt: skip
    # 50 + (2 + 1) x 0.9 inside the group + 1 for publish
    assert content is not None and content["total"] == "53.7"
    article = next(i for i in content["lineItems"] if i.get("name") == "write-article")
    assert (article["rate"], article["discount"], article["amount"]) == ("2", "0.1", "1.8")


async def test_a_code_workflow_through_a_human_task_is_priced_as_human_review(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.workflow("expense-code", pricing=EXPENSE["pricing"])
    async def expense(ctx: Context, amount: int) -> str:
        if amount > 100:
            decision = await ctx.human_task("Approve the expense", "manager", ["approve", "deny"])
            return str(decision.get("decision"))
        return str(await ctx.step("auto-approve", timed(clock, 1)))

    async with engine:
        small = await finish(engine, clock, "expense-code", 20)
        handle = await engine.start("expense-code", 500)
        await wait_status(engine, handle.id, "waiting")
        (task,) = (await engine.tasks.find("default", status="open")).items
        await engine.tasks.complete("default", task.id, decision="approve", by="manager")
        await asyncio.wait_for(settled(handle), LIMIT)
        costs = [await cost_of(engine, run_id) for run_id in (small, handle.id)]
    assert [c["lineItems"][0]["name"] if c else None for c in costs] == ["automated", "humanReview"]
    assert [c["total"] if c else None for c in costs] == ["0.25", "1"]


async def test_totals_keep_every_digit(engine: Engine, clock: VirtualClock) -> None:
    rate = "0.123456789012345678901234567"

    @engine.workflow("precise", pricing={"model": "per-execution", "rate": rate})
    async def precise(ctx: Context) -> str:
        return "ok"

    async with engine:
        for _ in range(3):
            await finish(engine, clock, "precise")
        summary = await engine.costs.summary("default", period=MONTH)
    assert (
        summary.totals
        == {"USD": str(Decimal(rate) * 3)}
        == {"USD": "0.370370367037037036703703701"}
    )


async def test_a_resumed_run_is_charged_for_the_time_it_executed_not_the_time_it_lay_failed(
    engine: Engine, clock: VirtualClock
) -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("down")
        return "ok"

    @engine.workflow("metered", pricing={"model": "time-based", "rate": 1})
    async def metered(ctx: Context) -> str:
        await ctx.step("a", timed(clock, 10))
        await ctx.step("b", flaky)
        return str(await ctx.step("c", timed(clock, 5)))

    async with engine:
        run_id = await finish(engine, clock, "metered")
        failed = await cost_of(engine, run_id)
        await clock.advance(3 * 86_400)  # three days failed before someone resumes it
        handle = await engine.handle(run_id).resume()
        await asyncio.wait_for(clock.run_skipping(settled(handle)), LIMIT)
        resumed = await cost_of(engine, run_id)
        summary = (await engine.costs.summary("default", workflow="metered")).wire()
    assert failed is not None and failed["total"] == "10"
    assert resumed is not None and resumed["total"] == "15"  # 10 s, then 5 s after the resume
    assert resumed["lineItems"][0]["quantity"] == "15"
    assert summary["runs"] == 1 and summary["totals"] == {"USD": "15"}


async def test_the_refund_applies_to_a_run_that_failed_after_its_steps(
    engine: Engine, clock: VirtualClock
) -> None:
    @engine.workflow("invoice-late", pricing={"model": "per-execution", "rate": "2.0",
                                              "failureRefund": "0.5"})  # fmt: skip
    async def late(ctx: Context) -> str:
        await ctx.step("extract", timed(clock, 1))
        raise RuntimeError("the total does not add up")

    async with engine:
        run_id = await finish(engine, clock, "invoice-late")
        cost = await cost_of(engine, run_id)
    assert cost is not None and cost["total"] == "0.5"
    assert cost["lineItems"][0]["name"] == "failureRefund"
