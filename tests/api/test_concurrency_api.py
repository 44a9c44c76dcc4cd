"""Flow control of stored workflows over REST (docs/flow-control.md): a definition's
``concurrency``, ``priority`` and ``singleton`` are checked with their paths, a trigger takes a
``priority``, and the run shows its priority and concurrency key."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from tests.api.test_run_operations import until

FLOW: dict[str, Any] = {
    "name": "Sync account",
    "dialect": "canonical",
    "concurrency": {"key": "input.account", "limit": 1},
    "priority": 2,
    "singleton": {"key": "input.account + '/' + input.kind", "mode": "skip"},
    "steps": [{"kind": "action", "id": "sync", "action": "sync"}],
}


async def test_a_stored_workflow_runs_under_its_flow_control(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    @engine.action("sync")
    async def sync(data: Any) -> Any:
        return "synced"

    await engine.start_worker()
    created = await client.post("/~acme/workflows", headers=admin, json=FLOW)
    assert created.status_code == 201, created.text
    workflow = created.json()["$id"]
    await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    trigger = f"/~acme/workflows/{workflow}/trigger"
    body = {"input": {"account": "a-1", "kind": "full"}}
    default = (await client.post(trigger, headers=admin, json=body)).json()
    done = await until(client, admin, default["$id"], "succeeded")
    assert (done["priority"], done["concurrencyKey"]) == (2, "a-1")
    urgent = (await client.post(trigger, headers=admin, json={**body, "priority": -3})).json()
    done = await until(client, admin, urgent["$id"], "succeeded")
    assert done["priority"] == -3


async def test_flow_keys_with_problems_are_refused_with_their_paths(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {**FLOW, "concurrency": {"key": "input.(", "limit": 0, "strategy": "later"},
            "priority": 20, "singleton": {"key": "input", "mode": "never", "extra": 1}}  # fmt: skip
    refused = await client.post("/~acme/workflows", headers=admin, json=body)
    assert refused.status_code == 422, refused.text
    paths = {e["path"] for e in refused.json()["errors"]}
    assert paths == {"$.body.concurrency.key", "$.body.concurrency.limit", "$.body.priority",
                     "$.body.singleton.mode", "$.body.singleton.extra"}  # fmt: skip


async def test_a_trigger_priority_out_of_range_is_a_problem(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=FLOW)).json()["$id"]
    await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    refused = await client.post(f"/~acme/workflows/{workflow}/trigger", headers=admin,
                                json={"input": {}, "priority": 11})  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["path"] == "$.body.priority"
