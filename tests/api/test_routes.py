"""Each resource of the REST API, end to end on a SQLite file."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from plait import Engine
from plait.resources.health import StoreCounters
from plait.service.signatures import sign
from tests.api.conftest import WELCOME, Keys, bearer


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> Any:
    response = await client.post("/~acme/workflows", headers=headers, json={**WELCOME, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_workflow_lifecycle(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = await create(client, admin)
    path = f"/~acme/workflows/{created['$id']}"
    assert created["status"] == "Draft" and created["version"] == 1
    assert created["organization"] == "acme"
    fetched = await client.get(path, headers=admin)
    assert fetched.json()["$id"] == created["$id"]
    updated = await client.patch(path, headers=admin, json={"description": "Say hello"})
    assert updated.json()["version"] == 2 and updated.json()["description"] == "Say hello"
    for verb, status in (("activate", "Activated"), ("pause", "Paused"), ("archive", "Archived")):
        response = await client.post(f"{path}/{verb}", headers=admin)
        assert response.json()["status"] == status, response.text
    assert (await client.delete(path, headers=admin)).status_code == 204
    assert (await client.get(path, headers=admin)).status_code == 404


async def test_create_answers_201_with_its_location(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post("/~acme/workflows", headers=admin, json=WELCOME)
    assert response.headers["location"] == f"/~acme/workflows/{response.json()['$id']}"
    again = await client.post("/~acme/workflows", headers=admin, json=WELCOME)
    assert again.status_code == 409  # one name per organization


async def test_list_filters_sorts_and_pages(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    ids = [(await create(client, admin, name=f"wf-{i}"))["$id"] for i in range(3)]
    await client.post(f"/~acme/workflows/{ids[1]}/activate", headers=admin)
    active = await client.get("/~acme/workflows", headers=admin, params={"status": "Activated"})
    assert [w["$id"] for w in active.json()["items"]] == [ids[1]]
    by_name = await client.get("/~acme/workflows", headers=admin, params={"name": "wf-2"})
    assert [w["$id"] for w in by_name.json()["items"]] == [ids[2]]
    where = await client.get(
        "/~acme/workflows", headers=admin, params={"where": '{"version": 1, "status": "Draft"}'}
    )
    assert sorted(w["$id"] for w in where.json()["items"]) == sorted([ids[0], ids[2]])
    bad = await client.get("/~acme/workflows", headers=admin, params={"where": "[1]"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.query.where"
    seen: list[str] = []
    params: dict[str, Any] = {"sort": "-name", "limit": 2}
    while True:
        page = (await client.get("/~acme/workflows", headers=admin, params=params)).json()
        seen += [w["name"] for w in page["items"]]
        if page["nextCursor"] is None:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == ["wf-2", "wf-1", "wf-0"]


async def test_trigger_starts_a_run_that_can_be_read_and_cancelled(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = await create(client, admin)
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    response = await client.post(
        f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin, json={"input": {"n": 1}}
    )
    assert response.status_code == 202
    run = response.json()
    assert run["$type"] == "Run" and run["status"] == "pending"
    assert response.headers["location"] == f"/~acme/runs/{run['$id']}"
    assert (await client.get(f"/~acme/runs/{run['$id']}", headers=admin)).json()["$id"] == run[
        "$id"
    ]
    listed = await client.get("/~acme/runs", headers=admin, params={"status": "pending"})
    assert [r["$id"] for r in listed.json()["items"]] == [run["$id"]]
    cancelled = await client.post(f"/~acme/runs/{run['$id']}/cancel", headers=admin)
    assert cancelled.json()["status"] == "cancelled"
    bad = await client.get("/~acme/runs", headers=admin, params={"status": "done"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.query.status"


async def test_events_are_emitted_once_per_id_and_start_runs(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = await create(client, admin)
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    body = {"type": "Customer.created", "data": {"name": "Ada"}, "id": "signup-1"}
    first = await client.post("/~acme/events", headers=admin, json=body)
    assert first.status_code == 202
    event = first.json()
    assert event["$id"] == "signup-1" and len(event["runs"]) == 1
    again = await client.post("/~acme/events", headers=admin, json=body)
    assert again.json()["$id"] == "signup-1"
    listed = await client.get("/~acme/events", headers=admin, params={"type": "Customer.created"})
    assert [e["$id"] for e in listed.json()["items"]] == ["signup-1"]
    fetched = await client.get("/~acme/events/signup-1", headers=admin)
    assert fetched.json()["data"] == {"name": "Ada"}


async def test_webhooks_verify_signatures_and_store_nothing_otherwise(
    client: httpx.AsyncClient, admin: dict[str, str], keys: Keys
) -> None:
    hook = {"name": "billing", "secret": "whsec_42", "eventType": "Payment.received"}
    created = await client.post("/~acme/webhooks", headers=admin, json=hook)
    assert created.status_code == 201 and "secret" not in created.json()
    viewer = bearer(keys["acme"]["viewer"])
    assert [
        w["name"] for w in (await client.get("/~acme/webhooks", headers=viewer)).json()["items"]
    ] == ["billing"]
    payload = orjson.dumps({"amount": 42})
    signed = sign("hmac-sha256", "whsec_42", payload, timestamp=None)
    accepted = await client.post("/~acme/webhooks/billing", content=payload, headers=signed)
    assert accepted.status_code == 202, accepted.text
    event_id = accepted.json()["$id"]
    forged = {"X-Signature-256": "sha256=" + "0" * 64}
    rejected = await client.post("/~acme/webhooks/billing", content=payload, headers=forged)
    assert rejected.status_code == 401
    assert rejected.headers["content-type"] == "application/problem+json"
    assert "does not match" in rejected.json()["detail"]
    events = await client.get("/~acme/events", headers=admin, params={"type": "Payment.received"})
    assert [e["$id"] for e in events.json()["items"]] == [event_id]
    assert (  # as for a bad signature: names cannot be told apart (tests/api/test_webhook_replays)
        await client.post("/~acme/webhooks/nope", content=payload, headers=signed)
    ).status_code == 401
    assert (await client.delete("/~acme/webhooks/billing", headers=admin)).status_code == 204
    invalid = await client.post("/~acme/webhooks", headers=admin, json={**hook, "name": "Bad Name"})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["path"] == "$.body.name"


async def test_schedules(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    workflow = await create(client, admin)
    body = {"workflow": workflow["$id"], "cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    created = await client.post("/~acme/schedules", headers=admin, json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    listed = await client.get(
        "/~acme/schedules", headers=admin, params={"workflow": workflow["$id"]}
    )
    assert [s["$id"] for s in listed.json()["items"]] == [schedule["$id"]]
    invalid = await client.post(
        "/~acme/schedules", headers=admin, json={**body, "cron": "99 * * * *"}
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["path"] == "$.body.cron"
    gone = await client.delete(f"/~acme/schedules/{schedule['$id']}", headers=admin)
    assert gone.status_code == 204
    assert (await client.get("/~acme/schedules", headers=admin)).json()["items"] == []


async def test_query_dispatches_by_type(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    first = await create(client, admin, name="a")
    await create(client, admin, name="b")
    await client.post(f"/~acme/workflows/{first['$id']}/activate", headers=admin)
    query = {"type": "Workflow", "filter": {"status": "Draft"}, "sort": {"name": "desc"}}
    found = (await client.post("/~acme/query", headers=admin, json=query)).json()
    assert [w["name"] for w in found["items"]] == ["b"]
    everything = {"type": "Workflow", "sort": {"name": "desc"}, "limit": 20}
    found = (await client.post("/~acme/query", headers=admin, json=everything)).json()
    assert [w["name"] for w in found["items"]] == ["b", "a"]
    await client.post("/~acme/events", headers=admin, json={"type": "Ping"})
    events = await client.post(
        "/~acme/query", headers=admin, json={"type": "Event", "filter": {"type": "Ping"}}
    )
    assert [e["type"] for e in events.json()["items"]] == ["Ping"]
    runs = await client.post(
        "/~acme/query", headers=admin, json={"type": "Run", "filter": {"status": "failed"}}
    )
    assert runs.json() == {"items": [], "nextCursor": None}
    bad = await client.post(
        "/~acme/query", headers=admin, json={"type": "Run", "filter": {"name": "a"}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.body.filter.name"


async def test_healthz_and_metrics_need_no_key(client: httpx.AsyncClient, engine: Engine) -> None:
    health = await client.get("/healthz")
    version = await (await engine.deps.store()).schema_version()
    assert health.json() == {"status": "ok", "database": "ok", "schemaVersion": version}
    await client.get("/~acme/runs")  # a 401, counted
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'plait_http_responses_total{method="GET",status="401"} 1' in metrics.text
    await engine.events.emit("acme", "Ping", {})  # a group-committed write
    counters = await engine.health.counters()
    assert isinstance(counters, StoreCounters) and counters.commits and counters.writes
    assert counters.wire() == {"commits": counters.commits, "writes": counters.writes}
    counted = (await client.get("/metrics")).text
    assert f"plait_store_commits_total {counters.commits}" in counted
    assert f"plait_store_writes_total {counters.writes}" in counted


async def test_openapi_documents_every_path_and_the_bearer_scheme(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document = (await client.get("/openapi.json")).json()
    expected = {
        "/~{org}/workflows": {"get", "post"},
        "/~{org}/workflows/{workflow_id}": {"get", "patch", "delete"},
        "/~{org}/workflows/{workflow_id}/activate": {"post"},
        "/~{org}/workflows/{workflow_id}/pause": {"post"},
        "/~{org}/workflows/{workflow_id}/archive": {"post"},
        "/~{org}/workflows/{workflow_id}/trigger": {"post"},
        "/~{org}/runs": {"get"},
        "/~{org}/runs/{run_id}": {"get"},
        "/~{org}/runs/{run_id}/cancel": {"post"},
        "/~{org}/runs/{run_id}/resume": {"post"},
        "/~{org}/runs/{run_id}/fork": {"post"},
        "/~{org}/runs/{run_id}/retry": {"post"},
        "/~{org}/events": {"get", "post"},
        "/~{org}/webhooks": {"get", "post"},
        "/~{org}/webhooks/{name}": {"post", "delete"},
        "/~{org}/schedules": {"get", "post"},
        "/~{org}/schedules/{schedule_id}": {"delete"},
        "/~{org}/query": {"post"},
        "/healthz": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(document["paths"][path]), path
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    listing = document["paths"]["/~{org}/workflows"]["get"]
    assert listing["security"] == [{"apiKey": []}]
    assert "security" not in document["paths"]["/~{org}/webhooks/{name}"]["post"]
    problem = listing["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    text = orjson.dumps(document).decode()
    for name in document["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in text or name == "Problem"
    assert "HTTPValidationError" not in text
