"""Business metrics of definitions: the top-level ``metrics`` declarations (every dialect), a
step's ``metrics: {name: expression}`` over its output, the built-in ``metric`` action
(``Metric.record``, brief 002), and the problems validation reports at their paths."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine
from plait.definitions.load import load_definition
from plait.definitions.validate import InvalidDefinition
from plait.errors import WorkflowFailed
from plait.testing import VirtualClock
from tests.backends import select

LIMIT = 30.0


@pytest.fixture
def engine(make_engine: Callable[..., Engine], clock: VirtualClock) -> Engine:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip

    @engine.action("charge")
    async def charge(value: dict[str, Any]) -> dict[str, Any]:
        return {"amount": value["amount"] * 2, "currency": "EUR"}

    return engine


def function_dialect(**extra: Any) -> dict[str, Any]:
    """Brief 001's function steps: a charge whose output is measured, then Metric.record."""
    return {
        "name": "checkout",
        "steps": [
            {"id": "charge", "function": "charge", "input": {"amount": "{{input.amount}}"},
             "metrics": {"revenue": "{{ output.amount }}", "orders": "1"}},
            {"id": "measure", "function": "Metric.record",
             "input": {"workflow": "checkout", "duration": "{{input.amount / 10}}",
                       "status": "success"}},
        ],
        "metrics": [{"name": "revenue", "description": "Charged, in euros"}, "orders",
                    {"name": "duration"}],
        **extra,
    }  # fmt: skip


async def run(engine: Engine, clock: VirtualClock, workflow: str, value: Any) -> str:
    handle = await engine.start(workflow, value)
    await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    return handle.id


async def test_step_metrics_and_the_metric_action_are_recorded_and_aggregated(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.define(function_dialect())
    async with engine:
        ids = [await run(engine, clock, "checkout", {"amount": n * 10}) for n in range(1, 5)]
        found = await engine.workflows.metrics("default", "checkout")
        shown = await engine.runs.get("default", ids[0], include=["metrics"])
        by_status = await engine.workflows.metrics("default", "checkout", name="duration",
                                                   by_labels=True)  # fmt: skip
    figures = {f.name: (f.count, f.sum, f.p50) for f in found.metrics}
    assert figures == {
        "revenue": (4, 200.0, 50.0),  # 20, 40, 60, 80
        "orders": (4, 4.0, 1.0),
        "duration": (4, 10.0, 2.5),  # 1, 2, 3, 4
    }
    assert [f.description for f in found.metrics] == ["Charged, in euros", None, None]
    assert shown.metrics is not None
    assert [(m.name, m.value, m.labels, m.step) for m in shown.metrics] == [
        ("revenue", 20.0, {}, "charge.metric:revenue"),
        ("orders", 1.0, {}, "charge.metric:orders"),
        ("duration", 1.0, {"status": "success", "workflow": "checkout"},
         "measure.metric:duration"),
    ]  # fmt: skip
    [labelled] = by_status.metrics
    assert labelled.labels == {"status": "success", "workflow": "checkout"}


async def test_the_explicit_metric_action_records_with_its_labels(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.define({
        "name": "explicit", "dialect": "canonical", "metrics": ["score"],
        "steps": [{"id": "m", "kind": "action", "action": "metric",
                   "input": {"name": "score", "value": "{{ input.n }}",
                             "labels": {"tier": "gold"}}}],
    })  # fmt: skip
    async with engine:
        await run(engine, clock, "explicit", {"n": 7})
        store = await engine.deps.store()
        rows = await select(store, "SELECT key, name, value, labels FROM run_metrics")
    assert rows == [("m.metric:score", "score", 7.0, '{"tier":"gold"}')]


async def test_a_metric_that_is_not_a_number_fails_the_run_at_the_step(
    engine: Engine, clock: VirtualClock
) -> None:
    engine.define({**function_dialect(name="bad"), "steps": [
        {"id": "charge", "function": "charge", "input": {"amount": 1},
         "metrics": {"revenue": "output.currency"}}]})  # fmt: skip
    async with engine:
        handle = await engine.start("bad", {})
        failing = clock.run_skipping(handle.result())
        with pytest.raises(WorkflowFailed, match="the value must be a finite number, not 'EUR'"):
            await asyncio.wait_for(failing, LIMIT)
        run = await engine.runs.get("default", handle.id, include="metrics")
    assert run.error is not None
    assert (run.error["path"], run.error["step"]) == ("$.steps[0].metrics", "charge.metrics")
    assert run.metrics == []  # nothing recorded


def test_undeclared_metrics_and_bad_shapes_are_problems_with_paths(engine: Engine) -> None:
    document = function_dialect()
    document["steps"][0]["metrics"] = {"revenu": "output.amount", "orders": "output.("}
    document["steps"][1]["input"] = {"status": "ok"}
    document["metrics"] = ["revenue", {"name": 3}, "orders", "orders", {"name": "9 lives"}]
    with pytest.raises(InvalidDefinition) as invalid:
        engine.define(document)
    problems = {p.path: p.message for p in invalid.value.problems}
    assert problems["$.steps[0].metrics.revenu"].startswith(
        "metric 'revenu' is not declared in the workflow's metrics (declared: orders, revenue)"
    )
    assert "did you mean 'revenue'?" in problems["$.steps[0].metrics.revenu"]
    assert "$.steps[0].metrics.orders" in problems  # the expression does not compile
    assert problems["$.steps[1].input"].startswith("none of its keys names a declared metric")
    assert problems["$.metrics[1]"] == "a metric is a name or {name, description}"
    assert problems["$.metrics[3].name"] == "metric 'orders' is declared twice"
    assert problems["$.metrics[4].name"].startswith("metric name '9 lives' must be a letter")


def test_every_dialect_takes_metrics(engine: Engine) -> None:
    service = {
        "name": "svc", "metrics": [{"name": "seats"}],
        "steps": [{"id": "a", "name": "A", "type": "function", "function": "charge",
                   "input": {"amount": 1}, "metrics": {"seats": "output.amount"}}],
    }  # fmt: skip
    graph = {
        "metadata": {"name": "graph"}, "metrics": ["seats"],
        "nodes": [{"id": "t", "type": "trigger", "name": "Start"},
                  {"id": "n", "type": "action", "name": "charge", "metrics": {"seats": "1"},
                   "config": {"action": "charge", "input": {"amount": 1}}}],
        "edges": [{"source": "t", "target": "n"}],
    }  # fmt: skip
    for document in (service, graph):
        workflow = engine.define(document)
        assert [m.name for m in workflow.metrics] == ["seats"]
    with pytest.raises(InvalidDefinition) as invalid:
        engine.define({**service, "name": "svc2", "metrics": []})
    assert [p.path for p in invalid.value.problems] == ["$.steps[0].metrics.seats"]


def test_a_canonical_dump_reloads_with_its_metrics() -> None:
    definition = load_definition(function_dialect())
    dumped = json.loads(definition.model_dump_json(by_alias=True))
    assert dumped["steps"][0]["metrics"] == {"revenue": "{{ output.amount }}", "orders": "1"}
    reloaded = load_definition(dumped)
    assert reloaded == definition
    assert [m.name for m in reloaded.metrics] == ["revenue", "orders", "duration"]
    dumped["steps"][0]["metrics"] = {"refunds": "1"}
    with pytest.raises(InvalidDefinition) as invalid:
        load_definition(dumped)
    assert [p.path for p in invalid.value.problems] == ["$.steps[0].metrics.refunds"]
