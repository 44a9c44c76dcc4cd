"""``type: workflow`` steps: stored workflows run as children of a definition's run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine
from plait.errors import WorkflowCancelled, WorkflowFailed
from plait.testing import assert_eventually

MakeEngine = Callable[..., Engine]

RESERVE = {
    "name": "reserve",
    "steps": [{"id": "hold", "type": "function", "function": "hold-item",
               "input": {"item": "{{ input.item }}"}}],
}  # fmt: skip


def reserve(step_id: str, item: str) -> dict[str, Any]:
    return {"id": step_id, "type": "workflow", "workflow": "reserve", "input": {"item": item},
            "compensation": "release-item"}  # fmt: skip


FULFIL = {
    "name": "fulfil",
    "steps": [
        {"id": "reservations", "type": "parallel", "steps": [
            reserve("a", "{{ input.items[0] }}"), reserve("b", "{{ input.items[1] }}"),
            reserve("c", "{{ input.items[2] }}")]},
        {"id": "ship", "type": "function", "function": "ship", "dependsOn": ["reservations"],
         "input": {"held": "{{ steps.a.hold }}"}},
    ],
}  # fmt: skip


def setup(engine: Engine) -> dict[str, list[Any]]:
    calls: dict[str, list[Any]] = {"hold": [], "release": [], "ship": []}

    @engine.action("hold-item")
    def hold(data: dict[str, Any]) -> str:
        calls["hold"].append(data["item"])
        if data["item"] == "broken":
            raise ValueError("no stock for broken")
        return f"held {data['item']}"

    @engine.action("release-item")
    def release(data: Any) -> None:
        calls["release"].append(data)

    @engine.action("ship")
    def ship(data: Any) -> str:
        calls["ship"].append(data)
        return "shipped"

    return calls


async def create(engine: Engine, *documents: dict[str, Any]) -> list[str]:
    ids = []
    for document in documents:
        created = await engine.workflows.create("acme", {**document, "triggerEvent": "Test.go"})
        await engine.workflows.activate("acme", created.id)
        ids.append(created.id)
    return ids


async def test_three_children_in_parallel_succeed(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls = setup(engine)
    async with engine:
        _, parent = await create(engine, RESERVE, FULFIL)
        run = await engine.workflows.trigger("acme", parent, {"items": ["x", "y", "z"]})
        output = await engine.handle(run.id, org=run.organization).result(timeout=10)
        assert output["ship"] == "shipped"
        assert output["reservations"]["a"] == {"hold": "held x"}
        assert sorted(calls["hold"]) == ["x", "y", "z"] and calls["release"] == []
        resource = await engine.runs.get("acme", run.id)
        assert len(resource.children) == 3
        child = await engine.runs.get("acme", resource.children[0])
        assert child.parent_run_id == run.id and child.trigger == "child"


async def test_a_failing_child_fails_the_group_and_compensates_the_others(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    calls = setup(engine)
    async with engine:
        _, parent = await create(engine, RESERVE, FULFIL)
        run = await engine.workflows.trigger("acme", parent, {"items": ["x", "broken", "z"]})
        with pytest.raises(WorkflowFailed) as failure:
            await engine.handle(run.id, org=run.organization).result(timeout=10)
        assert (
            "b: step 'b.result' failed: plait.ChildWorkflowFailed" in failure.value.error["message"]
        )
        assert "no stock for broken" in failure.value.error["message"]
        assert len(calls["release"]) == 2 and calls["ship"] == []
        steps = {s.key: s for s in (await engine.runs.get("acme", run.id)).steps}
        assert steps["b.result"].error["childStatus"] == "failed"
        assert {"a.compensate", "c.compensate"} <= set(steps) and "b.compensate" not in steps


async def test_wait_false_starts_the_child_and_moves_on(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls = setup(engine)
    starter = {"name": "starter", "steps": [
        {"id": "kick", "type": "workflow", "workflow": "reserve", "wait": False,
         "input": {"item": "{{ input.item }}"}}]}  # fmt: skip
    async with engine:
        _, parent = await create(engine, RESERVE, starter)
        run = await engine.workflows.trigger("acme", parent, {"item": "q"})
        output = await engine.handle(run.id, org=run.organization).result(timeout=10)
        child_id = output["kick"]["runId"]
        assert output["kick"]["workflow"] == "reserve"
        assert await engine.handle(child_id, org="acme").result(timeout=10) == {"hold": "held q"}
        assert calls["hold"] == ["q"]


async def test_cancelling_a_definition_run_cancels_its_waiting_children(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    waiter = {"name": "waiter", "steps": [
        {"id": "wait", "type": "wait-for-event", "event": "Never.happens"}]}  # fmt: skip
    parent_doc = {"name": "umbrella", "steps": [
        {"id": "one", "type": "workflow", "workflow": "waiter"},
        {"id": "two", "type": "workflow", "workflow": "waiter"}]}  # fmt: skip
    async with engine:
        _, parent = await create(engine, waiter, parent_doc)
        run = await engine.workflows.trigger("acme", parent, {})

        async def both_waiting() -> bool:
            resource = await engine.runs.get("acme", run.id)
            kids = [await engine.runs.get("acme", c) for c in resource.children]
            return len(kids) == 2 and all(k.status == "waiting" for k in kids)

        await assert_eventually(both_waiting)
        await engine.runs.cancel("acme", run.id)
        with pytest.raises(WorkflowCancelled):
            await engine.handle(run.id, org=run.organization).result(timeout=10)
        resource = await engine.runs.get("acme", run.id)
        for child_id in resource.children:
            assert (await engine.runs.get("acme", child_id)).status == "cancelled"


async def test_a_workflow_step_without_a_workflow_is_invalid(make_engine: MakeEngine) -> None:
    from plait.definitions.validate import InvalidDefinition

    engine = make_engine()
    async with engine:
        with pytest.raises(InvalidDefinition) as invalid:
            await engine.workflows.create(
                "acme",
                {
                    "name": "broken",
                    "steps": [
                        {"id": "x", "type": "workflow", "input": {"a": "{{ nothing.here }}"}}
                    ],
                },
            )
        paths = {p.path for p in invalid.value.problems}
        assert "$.steps[0].workflow" in paths and "$.steps[0].input.a" in paths
