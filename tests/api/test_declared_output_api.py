"""Saving a function-steps workflow over REST: an output schema that nothing produces is refused
(422, the problem at its path under ``$.body``); with an ``outputMapping`` the workflow saves and
its triggered run's output is the mapped object; a Draft without steps that declares an output
saves with a warning."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from tests.api.test_run_operations import until

PLAN: dict[str, Any] = {
    "name": "onboarding",
    "triggerEvent": "Customer.signedUp",
    "output": {"type": "object", "required": ["status"],
               "properties": {"status": {"enum": ["completed", "in_progress"]}}},
    "steps": [{"id": "plan", "function": "makePlan", "input": {"id": "{{input.id}}"}}],
}  # fmt: skip


async def test_an_output_nothing_produces_is_refused_at_its_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    refused = await client.post("/~acme/workflows", headers=admin, json=PLAN)

    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["errors"]
    assert problem["path"] == "$.body.output.required[0]"
    assert problem["message"].startswith("the run's output has no field 'status'")
    listed = await client.get("/~acme/workflows", headers=admin)
    assert listed.json()["items"] == []  # nothing was saved


async def test_a_mapped_output_saves_and_is_the_runs_output(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    @engine.action("makePlan")
    async def make_plan(value: dict[str, str]) -> dict[str, str]:
        return {"state": "in_progress", "for": value["id"]}

    await engine.start_worker()
    document = {**PLAN, "outputMapping": {"status": "{{plan.state}}"}}
    created = await client.post("/~acme/workflows", headers=admin, json=document)
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []
    workflow_id = created.json()["$id"]
    activated = await client.post(f"/~acme/workflows/{workflow_id}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    run = (await client.post(f"/~acme/workflows/{workflow_id}/trigger", headers=admin,
                             json={"input": {"id": "c1"}})).json()  # fmt: skip

    done = await until(client, admin, run["$id"], "succeeded")
    assert done["output"] == {"status": "in_progress"}
    assert done["success"] is True


async def test_a_draft_without_steps_that_declares_an_output_is_warned(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    draft = {key: value for key, value in PLAN.items() if key != "steps"}
    created = await client.post("/~acme/workflows", headers=admin, json=draft)

    assert created.status_code == 201, created.text
    [warning] = created.json()["warnings"]
    assert warning["path"] == "$.output"
    assert warning["message"].startswith("nothing produces the declared output yet")
