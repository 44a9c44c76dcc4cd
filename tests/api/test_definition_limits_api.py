"""Definitions through the REST API: limits answer 422 with the JSON path, a large definition
does not slow listings, and Drafts are well-typed, so listings keep to their own schema
(issue 10, breaks 3 and 9). Both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.api import create_app
from plait.definitions import load
from tests.api.conftest import Keys, bearer
from tests.cpu import cpu_seconds


@pytest.fixture
async def app(engine: Engine) -> AsyncIterator[FastAPI]:
    """The app with a body limit above the largest definition these tests send (2 MB)."""
    app = create_app(engine, max_body_bytes=2_000_000)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def editor(keys: Keys) -> dict[str, str]:
    return bearer(keys["acme"]["editor"])


def megabyte_definition() -> dict[str, Any]:
    """About 1 MB: 1,500 chained steps, each with literal text in its input and ten keys no
    dialect knows (15,000 warnings, which a quadratic de-duplication took 40 s over)."""
    steps = [{"id": f"step-{i}", "type": "function", "function": "log",
              "input": {"message": f"{i} " + "x" * 200},
              "dependsOn": [f"step-{i - 1}"] if i else [],
              **{f"note{k}": f"{i}-{k} " + "n" * 20 for k in range(10)}}
             for i in range(1_500)]  # fmt: skip
    return {"name": "big", "triggerEvent": "Deal.won", "steps": steps}


async def test_a_one_megabyte_definition_saves_fast_and_does_not_slow_listings(
    client: httpx.AsyncClient, editor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = megabyte_definition()
    assert 950_000 < len(orjson.dumps(document)) < 1_100_000
    started = cpu_seconds()
    created = await client.post("/~acme/workflows", json=document, headers=editor)
    assert created.status_code == 201, created.text[:500]
    # About 1.1 s of CPU alone; a worker whose earlier tests left a large heap (the OpenTelemetry
    # SDK, protobuf) pays more for the collections a megabyte's parse triggers: 3 s still tells
    # linear from the quadratic this bounds.
    assert cpu_seconds() - started < 3

    checks: list[str] = []
    for name in ("check_document", "validate"):  # what every check of a document goes through
        original = getattr(load, name)
        monkeypatch.setattr(
            load, name, lambda *a, _f=original, **k: checks.append("x") or _f(*a, **k)
        )
    created_again = await client.post(
        "/~acme/workflows", json={**document, "name": "big-2"}, headers=editor
    )
    assert created_again.status_code == 201
    assert len(checks) == 2  # saving checks the document: the spies work
    checks.clear()
    for _ in range(3):
        started = cpu_seconds()
        listed = await client.get("/~acme/workflows?limit=1", headers=editor)
        assert cpu_seconds() - started < 1
        assert listed.status_code == 200
    got = await client.get(f"/~acme/workflows/{created.json()['$id']}", headers=editor)
    assert got.status_code == 200
    assert checks == []  # no read validates a stored definition
    [item] = listed.json()["items"]
    assert item["name"] == "big" and item["triggerEvent"] == "Deal.won"
    assert listed.json()["nextCursor"] is not None


async def test_a_long_name_is_a_422_with_its_path(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    body = {"name": "n" * 200_000, "triggerEvent": "Deal.won", "steps": [{"action": "log"}]}
    answer = await client.post("/~acme/workflows", json=body, headers=editor)
    assert answer.status_code == 422
    problem = answer.json()
    assert [e["path"] for e in problem["errors"]] == ["$.body.name"]
    assert "max_name_length" in problem["detail"] and "200000" in problem["detail"]
    stepless = await client.post("/~acme/workflows", json={"name": "n" * 201}, headers=editor)
    assert stepless.status_code == 422
    assert [e["path"] for e in stepless.json()["errors"]] == ["$.body.name"]
    listed = await client.get("/~acme/workflows", headers=editor)
    assert listed.json()["items"] == []


async def test_too_many_steps_is_a_422(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    body = {"name": "many", "steps": [{"id": f"s{i}", "type": "function"} for i in range(2_001)]}
    answer = await client.post("/~acme/workflows", json=body, headers=editor)
    assert answer.status_code == 422
    assert [e["path"] for e in answer.json()["errors"]] == ["$.body.steps"]
    assert "max_steps" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "draft", "timeout": "abc"}, "$.body.timeout"),
        ({"name": "draft", "description": 5}, "$.body.description"),
        ({"name": "draft", "triggerEvent": 7}, "$.body.triggerEvent"),
        ({"name": "draft", "timeout": 2**70}, "$.body.timeout"),  # beyond what JSON storage holds
        ({"name": "draft", "retryPolicy": {"maxAttempts": "x"}}, "$.body.retryPolicy.maxAttempts"),
    ],
)
async def test_a_draft_must_be_well_typed(
    client: httpx.AsyncClient, editor: dict[str, str], body: dict[str, Any], path: str
) -> None:
    answer = await client.post("/~acme/workflows", json=body, headers=editor)
    assert answer.status_code == 422, answer.text
    assert path in [e["path"] for e in answer.json()["errors"]]


async def test_a_patch_that_mistypes_a_draft_is_refused(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    created = await client.post("/~acme/workflows", json={"name": "draft"}, headers=editor)
    assert created.status_code == 201
    patched = await client.patch(f"/~acme/workflows/{created.json()['$id']}",
                                 json={"timeout": "abc"}, headers=editor)  # fmt: skip
    assert patched.status_code == 422
    assert [e["path"] for e in patched.json()["errors"]] == ["$.body.timeout"]


async def test_listings_keep_to_their_schema_whatever_drafts_hold(
    client: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    bodies: list[dict[str, Any]] = [
        {"name": "bare"},
        {"name": "timed", "timeout": "30s", "triggerEvent": ["A.b", "C.d"]},
        {"name": "incomplete", "steps": [{"action": "Nothing.registered"}]},  # no trigger
        {"name": "service", "errorHandling": {"defaultRetryPolicy": {"maxAttempts": 2}},
         "timeout": 5000},
        {"name": "machine", "correlation": "event.data.id", "initial": "a",
         "states": {"a": {"on": {"Go.now": "b"}}, "b": {"terminal": True}}},
    ]  # fmt: skip
    for body in bodies:
        answer = await client.post("/~acme/workflows", json=body, headers=editor)
        assert answer.status_code == 201, answer.text
    listed = await client.get("/~acme/workflows", headers=editor)
    assert listed.status_code == 200
    spec = (await client.get("/openapi.json")).json()
    schema = {"$ref": "#/components/schemas/WorkflowPage", "components": spec["components"]}
    jsonschema.Draft202012Validator(schema).validate(listed.json())
    assert [item["name"] for item in listed.json()["items"]] == [b["name"] for b in bodies]
    machine = listed.json()["items"][-1]
    assert machine["triggerEvent"] == "Go.now"
