"""Stored test scenarios guard every way a workflow goes live: an edit of an Activated workflow
whose new version requires its scenarios runs them (409 ``scenarios-failed`` if one fails, the
old version staying live); a workflow without tests answers 404 ``no-tests``; stored scenarios
keep no secrets, and name only steps and actions the workflow has."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_workflow_tests_api import FAILING, NOTIFY, PASSING


async def _activated(client: httpx.AsyncClient, admin: dict[str, str], body: Any) -> str:
    created = await client.post("/~acme/workflows", headers=admin, json=body)
    assert created.status_code == 201, created.text
    workflow = str(created.json()["$id"])
    activated = await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    return workflow


async def test_editing_an_activated_workflow_runs_its_required_scenarios(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {**NOTIFY, "tests": {"required": True, "scenarios": [PASSING]}}
    workflow = await _activated(client, admin, body)

    # The new version calls the CRM with another URL: the stored scenario's args no longer match.
    steps = [{**NOTIFY["steps"][0], "mapping": {"url": "'https://crm.example/v2/' + deal.name"}},
             NOTIFY["steps"][1]]  # fmt: skip
    refused = await client.patch(f"/~acme/workflows/{workflow}", headers=admin,
                                 json={"steps": steps})  # fmt: skip
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:plait:problem:scenarios-failed"
    assert problem["detail"].startswith("cannot update workflow Notify sales: 1 of 1 test")
    assert problem["errors"][0]["path"] == "$.tests.scenarios[0]"
    assert "expect.calls.http.args[0].url: expected" in problem["errors"][0]["message"]
    live = (await client.get(f"/~acme/workflows/{workflow}", headers=admin)).json()
    assert live["version"] == 1 and live["status"] == "Activated"

    # Replacing the tests with a failing one is an edit too.
    failing = await client.put(f"/~acme/workflows/{workflow}/tests", headers=admin,
                               json={"required": True, "scenarios": [FAILING]})  # fmt: skip
    assert failing.status_code == 409, failing.text
    passing = await client.patch(f"/~acme/workflows/{workflow}", headers=admin,
                                 json={"description": "announces won deals"})  # fmt: skip
    assert passing.status_code == 200, passing.text
    assert passing.json()["version"] == 2


async def test_a_workflow_without_tests_answers_404_no_tests(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=NOTIFY)).json()["$id"]
    for answer in (
        await client.get(f"/~acme/workflows/{workflow}/tests", headers=admin),
        await client.post(f"/~acme/workflows/{workflow}/tests/run", headers=admin),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "urn:plait:problem:no-tests"
        assert "keeps no test scenarios" in answer.json()["detail"]
    missing = await client.get("/~acme/workflows/nope/tests", headers=admin)
    assert missing.json()["type"] == "urn:plait:problem:not-found"


async def test_stored_scenarios_keep_no_secrets(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    scenario = {**PASSING, "secrets": {"CRM_TOKEN": "s3cr3t"}}
    body = {**NOTIFY, "tests": {"scenarios": [scenario]}}
    refused = await client.post("/~acme/workflows", headers=admin, json=body)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["path"] == "$.body.tests.scenarios[0].secrets"
    assert "organization's secrets store" in error["message"]
    assert "s3cr3t" not in refused.text


async def test_stored_scenarios_name_only_steps_and_actions_of_the_workflow(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    scenario = {**PASSING, "mocks": {"htpp": {"status": 200}},
                "expect": {"calls": {"Activity.create": 1}, "state": "done"}}  # fmt: skip
    refused = await client.post("/~acme/workflows", headers=admin,
                                json={**NOTIFY, "tests": [scenario]})  # fmt: skip
    assert refused.status_code == 422, refused.text
    errors = {e["path"]: e["message"] for e in refused.json()["errors"]}
    assert set(errors) == {"$.body.tests.scenarios[0].mocks.htpp",
                           "$.body.tests.scenarios[0].expect.state"}  # fmt: skip
    assert "did you mean 'http'?" in errors["$.body.tests.scenarios[0].mocks.htpp"]
    assert "not a state machine" in errors["$.body.tests.scenarios[0].expect.state"]

    required = {"required": "yes", "scenarios": [PASSING]}
    strict = await client.post("/~acme/workflows", headers=admin,
                               json={**NOTIFY, "tests": required})  # fmt: skip
    assert strict.status_code == 422, strict.text
    assert [e["path"] for e in strict.json()["errors"]] == ["$.body.tests.required"]
