"""A workflow's versions, checking a definition without storing it, and searching workflows by
name over the REST API (both backends): what the console's Workflows pages call, offered to
every client."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import Keys, bearer

FLOW: dict[str, Any] = {
    "name": "Order Flow",
    "description": "Ship an order",
    "triggerEvent": "Order.placed",
    "steps": [{"id": "hello", "type": "function", "function": "log",
               "input": {"message": "hi"}}],
}  # fmt: skip


async def test_every_version_is_listed_and_read_with_its_document(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    editor = bearer(keys["acme"]["editor"])
    created = (await client.post("/~acme/workflows", headers=editor, json=FLOW)).json()
    url = f"/~acme/workflows/{created['$id']}"
    patched = await client.patch(url, headers=editor, json={"description": "Ship it fast"})
    assert patched.status_code == 200, patched.text
    viewer = bearer(keys["acme"]["viewer"])
    listed = (await client.get(f"{url}/versions", headers=viewer)).json()
    assert listed["current"] == 2 and listed["name"] == "Order Flow"
    assert [v["version"] for v in listed["versions"]] == [2, 1]
    assert all(v["createdAt"].endswith("Z") for v in listed["versions"])
    first = (await client.get(f"{url}/versions/1", headers=viewer)).json()
    assert first["$type"] == "WorkflowVersion"
    assert first["document"]["description"] == "Ship an order"
    assert first["definition"]["steps"][0]["id"] == "hello"
    second = (await client.get("/~acme/workflows/Order Flow/versions/2", headers=viewer)).json()
    assert second["document"]["description"] == "Ship it fast"
    missing = await client.get(f"{url}/versions/3", headers=viewer)
    assert missing.status_code == 404
    other_org = await client.get(f"{url}/versions", headers=bearer(keys["globex"]["admin"]))
    assert other_org.status_code == 404


async def test_validate_answers_errors_and_warnings_at_their_paths_and_stores_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    viewer = bearer(keys["acme"]["viewer"])
    valid = await client.post("/~acme/workflows/validate", headers=viewer, json=FLOW)
    assert valid.status_code == 200, valid.text
    assert valid.json() == {"$type": "Validation", "valid": True, "errors": [], "warnings": []}
    broken = {**FLOW, "steps": [{"id": "a", "type": "function", "function": "log",
                                 "dependsOn": ["nowhere"]}]}  # fmt: skip
    answer = (await client.post("/~acme/workflows/validate", headers=viewer, json=broken)).json()
    assert answer["valid"] is False
    assert [e["path"] for e in answer["errors"]] == ["$.steps[0].dependsOn[0]"]
    listed = (await client.get("/~acme/workflows", headers=viewer)).json()
    assert listed["items"] == []

    editor = bearer(keys["acme"]["editor"])
    await client.post("/~acme/workflows", headers=editor, json=FLOW)
    as_patch = await client.post("/~acme/workflows/validate?workflow=Order Flow",
                                 headers=viewer, json={"steps": 3})  # fmt: skip
    assert as_patch.json()["valid"] is False
    assert as_patch.json()["errors"][0]["path"].startswith("$.steps")


async def test_workflows_are_searched_by_name_or_description(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    editor = bearer(keys["acme"]["editor"])
    await client.post("/~acme/workflows", headers=editor, json=FLOW)
    other = {**FLOW, "name": "Invoices", "description": "Bill each ORDER"}
    await client.post("/~acme/workflows", headers=editor, json=other)
    third = {**FLOW, "name": "Reports", "description": None}
    await client.post("/~acme/workflows", headers=editor, json=third)
    found = (await client.get("/~acme/workflows?search=order&sort=name", headers=editor)).json()
    assert [w["name"] for w in found["items"]] == ["Invoices", "Order Flow"]
    none = (await client.get("/~acme/workflows?search=zzz", headers=editor)).json()
    assert none["items"] == []
