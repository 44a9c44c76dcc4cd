"""``/openapi.json`` names the schema of every 2xx JSON answer (a resource model, a page of
them, or a choice of named ones), so clients and the console generate types from it."""

from __future__ import annotations

from typing import Any

import httpx


def _named(schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return True
    choices = schema.get("anyOf") or schema.get("oneOf")
    return bool(choices) and all("$ref" in choice for choice in choices)


async def test_every_2xx_json_response_has_a_named_schema(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    unnamed = [
        f"{method.upper()} {path} {code}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for code, response in operation.get("responses", {}).items()
        if code.startswith("2")
        and "application/json" in response.get("content", {})
        and not _named(response["content"]["application/json"].get("schema", {}))
    ]
    assert unnamed == []
    schemas = spec["components"]["schemas"]
    for name in ("Run", "Step", "RunPage", "StoredWorkflow", "Event", "Task", "Signal"):
        assert name in schemas, name
    run = schemas["Run"]["properties"]
    assert {"$id", "$type", "workflowVersion", "createdAt", "replays", "steps"} <= set(run)
