"""What saving a workflow tells its author: an error policy of fallback with no fallback to run
is a warning while the workflow is a Draft and an error at activation, listed with every other
problem at its JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import WELCOME
from tests.integration.test_service_cli import plait

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


# -- warnings are returned by create and update, and printed by the CLI -------------------------

LITERAL = {"subject": "'Welcome ' + customer.name", "type": "Call"}
LITERAL_WARNING = {
    "path": "$.steps[0].mapping.type",
    "message": "mapping value 'Call' is not an expression over known names; it is used as the "
    "literal string",
}


async def test_create_and_update_return_the_warnings_validate_shows(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document = {**WELCOME, "steps": [{"action": "Activity.create", "mapping": LITERAL}]}
    created = await client.post("/~acme/workflows", headers=admin, json=document)
    assert created.status_code == 201, created.text
    assert created.json()["$type"] == "Workflow"
    assert created.json()["warnings"] == [LITERAL_WARNING]
    workflow = f"/~acme/workflows/{created.json()['$id']}"
    updated = await client.patch(workflow, headers=admin, json={"errorHandling": "Fallback"})
    assert updated.status_code == 200, updated.text
    assert [w["path"] for w in updated.json()["warnings"]] == [LITERAL_WARNING["path"],
                                                               "$.errorHandling"]  # fmt: skip
    clean = await client.patch(workflow, headers=admin, json={"steps": WELCOME["steps"],
                                                              "errorHandling": "Stop"})  # fmt: skip
    assert clean.json()["warnings"] == []
    assert "warnings" not in (await client.get(workflow, headers=admin)).json()


async def test_the_openapi_document_names_the_saved_workflow(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, verb, status in [("/~{org}/workflows", "post", "201"),
                               ("/~{org}/workflows/{workflow_id}", "patch", "200")]:  # fmt: skip
        schema = paths[path][verb]["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/SavedWorkflow"}


def test_the_cli_prints_the_warnings_and_includes_them_in_json(tmp_path: Path) -> None:
    document = {**WELCOME, "steps": [{"action": "Activity.create", "mapping": LITERAL}]}
    (tmp_path / "welcome.json").write_text(json.dumps(document))
    made = plait("workflows", "create", "welcome.json", "--org", "acme", "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["warnings"] == [LITERAL_WARNING]
    (tmp_path / "patch.json").write_text(json.dumps({"description": "hi"}))
    shown = plait("workflows", "update", json.loads(made.stdout)["$id"], "patch.json",
                  "--org", "acme", cwd=tmp_path)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"warning {LITERAL_WARNING['path']}: {LITERAL_WARNING['message']}" in shown.stdout
