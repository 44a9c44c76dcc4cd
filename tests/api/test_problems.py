"""Every error is an ``application/problem+json`` document with paths into the request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.errors import StoreError
from tests.api.conftest import WELCOME

PROBLEM = "application/problem+json"


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "errors"}
    assert body["status"] == status and body["type"].startswith("urn:plait:problem:")
    return body


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body["errors"]]


async def test_invalid_json_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        "/~acme/workflows",
        content=b'{"name": "x",',
        headers={**admin, "Content-Type": "application/json"},
    )
    body = problem_of(response, 400)
    assert body["type"] == "urn:plait:problem:invalid-json"
    assert "not valid JSON" in body["detail"] and paths(body) == ["$.body"]


async def test_a_body_that_is_not_json_is_415(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/~acme/events", content=b"type=Ping", headers={**admin, "Content-Type": "text/plain"}
    )
    assert "Content-Type: application/json" in problem_of(response, 415)["detail"]


async def test_unknown_fields_are_422_with_their_paths(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post("/~acme/events", headers=admin, json={"type": "Ping", "tpye": 1})
    body = problem_of(response, 422)
    assert body["errors"] == [{"path": "$.body.tpye", "message": "unknown key"}]
    query = await client.get("/~acme/workflows", headers=admin, params={"stauts": "Draft"})
    assert paths(problem_of(query, 422)) == ["$.query.stauts"]
    workflow = await client.post("/~acme/workflows", headers=admin, json={**WELCOME, "trigers": 1})
    assert "$.body.trigers" in paths(problem_of(workflow, 422))


async def test_wrong_types_are_422_with_their_paths(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/~acme/query", headers=admin, json={"type": "Deal", "limit": "many", "filter": []}
    )
    body = problem_of(response, 422)
    assert sorted(paths(body)) == ["$.body.filter", "$.body.limit", "$.body.type"]
    limit = await client.get("/~acme/runs", headers=admin, params={"limit": 0})
    assert problem_of(limit, 422)["errors"] == [
        {"path": "$.query.limit", "message": "must be at least 1, got '0'"}
    ]
    name = await client.post("/~acme/workflows", headers=admin, json={**WELCOME, "name": 5})
    assert problem_of(name, 422)["errors"] == [
        {"path": "$.body.name", "message": "expected a string, got 5"}
    ]


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"type": "Run", "filter": {"workflow": {"a": 1}}}, "$.body.filter.workflow"),
        ({"type": "Run", "filter": {"status": 3}}, "$.body.filter.status"),
        ({"type": "Event", "filter": {"type": ["x"]}}, "$.body.filter.type"),
        ({"type": "Event", "filter": {"type": None}}, "$.body.filter.type"),
    ],
)
async def test_query_filters_of_the_wrong_type_are_422_with_their_paths(
    client: httpx.AsyncClient, admin: dict[str, str], query: dict[str, Any], path: str
) -> None:
    response = await client.post("/~acme/query", headers=admin, json=query)
    assert paths(problem_of(response, 422)) == [path]


async def test_definition_problems_point_into_the_body(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    document = {**WELCOME, "steps": [{"action": "Activity.create", "mapping": []}]}
    response = await client.post("/~acme/workflows", headers=admin, json=document)
    body = problem_of(response, 422)
    assert body["type"] == "urn:plait:problem:invalid-definition"
    assert paths(body) and all(p.startswith("$.body.steps[0]") for p in paths(body))


async def test_missing_body_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = problem_of(await client.post("/~acme/events", headers=admin), 422)
    assert body["errors"] == [{"path": "$.body", "message": "a JSON body is required"}]


async def test_declared_oversized_body_is_413(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    payload = b'{"type": "Ping", "data": "' + b"x" * 70_000 + b'"}'
    response = await client.post(
        "/~acme/events", content=payload, headers={**admin, "Content-Type": "application/json"}
    )
    detail = problem_of(response, 413)["detail"]
    assert "larger than 65,536 bytes" in detail
    assert "max_request_bytes" in detail


async def test_streamed_oversized_body_is_413_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the bytes are counted
        yield b'{"type": "Ping", "data": "'
        for _ in range(20):
            yield b"x" * 4096
        yield b'"}'

    headers = {**admin, "Content-Type": "application/json"}
    response = await client.post("/~acme/events", content=chunks(), headers=headers)
    problem_of(response, 413)
    listed = await client.get("/~acme/events", headers=admin, params={"type": "Ping"})
    assert listed.json()["items"] == []


async def test_webhook_bodies_are_limited_too(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    problem_of(await client.post("/~acme/webhooks/stripe", content=chunks()), 413)


async def test_unknown_route_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = problem_of(await client.get("/~acme/nowhere", headers=admin), 404)
    assert body["type"] == "urn:plait:problem:not-found"
    problem_of(await client.get("/nowhere"), 404)


async def test_wrong_method_is_405_with_every_allowed_method(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.put("/~acme/workflows", headers=admin, json={})
    problem_of(response, 405)
    assert response.headers["allow"] == "GET, POST"


async def test_illegal_transition_is_409_naming_both_states(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = (await client.post("/~acme/workflows", headers=admin, json=WELCOME)).json()
    archived = await client.post(f"/~acme/workflows/{created['$id']}/archive", headers=admin)
    assert archived.json()["status"] == "Archived"
    response = await client.post(f"/~acme/workflows/{created['$id']}/activate", headers=admin)
    body = problem_of(response, 409)
    assert body["type"] == "urn:plait:problem:illegal-transition"
    assert "Archived" in body["detail"] and "Activated" in body["detail"]


async def test_missing_resource_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for path in ("/~acme/workflows/workflow_nope", "/~acme/runs/run_nope", "/~acme/events/e1"):
        assert problem_of(await client.get(path, headers=admin), 404)["title"] == "Not Found"


@pytest.mark.parametrize("error", [RuntimeError("db password is hunter2"), StoreError("hunter2")])
async def test_unexpected_errors_are_a_generic_500_and_logged(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(engine.workflows, "find", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/~acme/workflows", headers=admin)
    body = problem_of(response, 500)
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert body["detail"] == "The server failed to handle the request; the error is logged."
    assert any(r.exc_info and r.exc_info[1] is error for r in caplog.records)
