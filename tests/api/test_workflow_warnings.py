"""What saving a workflow tells its author: an error policy of fallback with no fallback to run
is a warning while the workflow is a Draft and an error at activation, listed with every other
problem at its JSON path."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import WELCOME

NO_FALLBACK = "no fallback to run"


async def test_fallback_without_a_fallback_is_an_error_at_activation_with_the_others(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    steps = [*WELCOME["steps"], {"action": "Nowhere.call", "mapping": {}}]
    document = {**WELCOME, "steps": steps, "errorHandling": "Fallback"}
    created = await client.post("/~acme/workflows", headers=admin, json=document)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=admin)  # fmt: skip
    assert activated.status_code == 422, activated.text
    problems = {p["path"]: p["message"] for p in activated.json()["errors"]}
    assert set(problems) == {"$.body.errorHandling", "$.body.steps[1].action"}
    assert NO_FALLBACK in problems["$.body.errorHandling"]
    assert "'step-1', 'step-2'" in problems["$.body.errorHandling"]


async def test_a_step_policy_of_fallback_without_one_is_refused_at_activation(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document: dict[str, Any] = {
        "name": "canon", "dialect": "canonical", "trigger": {"events": ["Customer.created"]},
        "steps": [{"kind": "action", "id": "a", "action": "Activity.create", "input": {},
                   "on_error": "fallback"}],
    }  # fmt: skip
    created = await client.post("/~acme/workflows", headers=admin, json=document)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=admin)  # fmt: skip
    assert activated.status_code == 422, activated.text
    [problem] = activated.json()["errors"]
    assert problem["path"] == "$.body.steps[0].on_error"
    assert NO_FALLBACK in problem["message"]


async def test_fallback_with_a_fallback_activates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document = {"name": "svc", "triggerEvent": "Customer.created", "steps": [
        {"id": "a", "function": "Activity.create",
         "onError": {"fallback": {"id": "b", "function": "Activity.create"}}},
    ]}  # fmt: skip
    created = await client.post("/~acme/workflows", headers=admin, json=document)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=admin)  # fmt: skip
    assert activated.status_code == 200, activated.text
