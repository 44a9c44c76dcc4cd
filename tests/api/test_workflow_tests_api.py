"""A stored workflow keeps its test scenarios (``tests``, or ``PUT .../tests``); with
``required: true`` activation runs them first, on throwaway engines, and refuses with a 409
problem document listing each failing scenario's failed expectations."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine

NOTIFY: dict[str, Any] = {
    "name": "Notify sales",
    "triggerEvent": "Deal.won",
    "steps": [
        {"action": "http", "mapping": {"url": "'https://crm.example/' + deal.name"}},
        {"action": "Activity.create", "mapping": {"subject": "'Won: ' + deal.name"}},
    ],
}
PASSING = {
    "name": "a won deal is announced",
    "event": {"type": "Deal.won", "data": {"name": "Acme"}},
    "mocks": {"http": {"status": 200}},
    "expect": {"status": "succeeded", "calls": {"http": {"args": [{"url": "https://crm.example/Acme"}]}}},
}  # fmt: skip
FAILING = {
    "name": "the CRM is down",
    "event": {"type": "Deal.won", "data": {"name": "Acme"}},
    "mocks": {"http": {"error": "503 from the CRM"}},
    "expect": {"outcome": "succeeded"},
}


async def test_activation_runs_required_scenarios_and_refuses_with_the_failures(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    body = {**NOTIFY, "tests": {"required": True, "scenarios": [PASSING, FAILING]}}
    created = await client.post("/~acme/workflows", headers=admin, json=body)
    assert created.status_code == 201, created.text
    workflow = created.json()["$id"]

    refused = await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:plait:problem:scenarios-failed"
    assert "1 of 2 test scenarios failed ('the CRM is down')" in problem["detail"]
    assert problem["errors"] == [{
        "path": "$.tests.scenarios[1]",
        "message": "scenario 'the CRM is down': expect.outcome: expected succeeded, got failed "
                   "(http (mocked): 503 from the CRM)",
    }]  # fmt: skip
    assert (await client.get(f"/~acme/workflows/{workflow}", headers=admin)).json()["status"] == (
        "Draft"
    )
    # The scenarios ran on throwaway engines: nothing of them is in the organization's data.
    assert (await engine.runs.find("acme")).items == []
    assert (await client.get("/~acme/events?type=Activity.created", headers=admin)).json()[
        "items"
    ] == []

    fixed = await client.put(f"/~acme/workflows/{workflow}/tests", headers=admin,
                             json={"required": True, "scenarios": [PASSING]})  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["version"] == 2
    stored = await client.get(f"/~acme/workflows/{workflow}/tests", headers=admin)
    assert stored.json()["scenarios"][0]["name"] == "a won deal is announced"

    activated = await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "Activated"


async def test_scenarios_that_are_not_required_run_on_demand_only(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {**NOTIFY, "tests": {"scenarios": [PASSING, FAILING]}}
    workflow = (await client.post("/~acme/workflows", headers=admin, json=body)).json()["$id"]
    report = await client.post(f"/~acme/workflows/{workflow}/tests/run", headers=admin)
    assert report.status_code == 200, report.text
    assert report.json()["summary"]["passRate"] == 0.5
    assert [r["passed"] for r in report.json()["results"]] == [True, False]
    activated = await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    assert activated.status_code == 200, activated.text


async def test_a_tests_block_with_problems_is_refused_with_their_paths(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {**NOTIFY, "tests": {"scenarios": [{"name": "x", "expect": {"stauts": "failed"}}]}}
    refused = await client.post("/~acme/workflows", headers=admin, json=body)
    assert refused.status_code == 422, refused.text
    assert {"path": "$.body.tests.scenarios[0].expect.stauts", "message": "unknown key"} in (
        refused.json()["errors"]
    )
