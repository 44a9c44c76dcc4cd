"""A node graph over REST (brief 004's API access): a context problem is refused at its path
(422); a triggered run's resource shows the final workflow context, whether it succeeded, and
each failed node with its error."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from tests.api.test_run_operations import until

GRAPH: dict[str, Any] = {
    "metadata": {"name": "restock"},
    "context": {"threshold": 5},
    "nodes": [
        {"id": "start", "type": "trigger", "config": {"event": "Stock.checked"}},
        {"id": "check", "type": "action", "config": {
            "action": "lowest", "input": {"under": "{{ context.threshold }}"},
            "assign": {"low": "{{ output }}"}}},
        {"id": "order", "type": "action", "config": {
            "action": "supplier", "input": {"skus": "{{ context.low }}"},
            "assign": {"orderId": "{{ output }}"}}},
    ],
    "edges": [{"source": "start", "target": "check"}, {"source": "check", "target": "order"}],
}  # fmt: skip


async def test_a_context_problem_is_refused_at_its_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    nodes = [*GRAPH["nodes"]]
    nodes[1] = {**nodes[1], "config": {**nodes[1]["config"], "assign": {"runId": "x"}}}
    refused = await client.post("/~acme/workflows", headers=admin, json={**GRAPH, "nodes": nodes})

    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["errors"]
    assert problem["path"] == "$.body.nodes[1].config.assign.runId"
    assert problem["message"].startswith("'runId' cannot be a workflow context key")


async def _triggered(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    created = await client.post("/~acme/workflows", headers=admin, json=GRAPH)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["$id"]
    activated = await client.post(f"/~acme/workflows/{workflow_id}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    run = await client.post(f"/~acme/workflows/{workflow_id}/trigger", headers=admin,
                            json={"input": {}})  # fmt: skip
    run_id: str = run.json()["$id"]
    return run_id


def _register(engine: Engine, *, supplier_down: bool) -> None:
    @engine.action("lowest")
    async def lowest(value: dict[str, int]) -> list[str]:
        return ["W-1"] if value["under"] == 5 else []

    @engine.action("supplier")
    async def supplier(value: dict[str, list[str]]) -> str:
        if supplier_down:
            raise RuntimeError("supplier API down")
        return "po-" + "-".join(value["skus"])


async def test_a_triggered_runs_resource_has_the_final_context(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    _register(engine, supplier_down=False)
    await engine.start_worker()
    run = await until(client, admin, await _triggered(client, admin), "succeeded")

    assert run["success"] is True
    assert run["context"] == {"threshold": 5, "low": ["W-1"], "orderId": "po-W-1"}
    assert run["output"] == {"check": ["W-1"], "order": "po-W-1"}
    assert run["completedSteps"] == ["check", "order"]  # the context records are no steps
    listed = (await client.get("/~acme/runs", headers=admin)).json()["items"]
    assert [item["context"] for item in listed] == [None]


async def test_a_failed_node_is_in_the_run_with_its_error_and_the_context_so_far(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    _register(engine, supplier_down=True)
    await engine.start_worker()
    run = await until(client, admin, await _triggered(client, admin), "failed")

    assert run["success"] is False
    assert run["failedSteps"] == ["order"]
    [failed] = [step for step in run["steps"] if step["key"] == "order"]
    assert failed["error"]["message"] == "supplier API down"
    assert failed["error"]["path"] == "$.nodes[2]"
    assert run["context"] == {"threshold": 5, "low": ["W-1"]}
