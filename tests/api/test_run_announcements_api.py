"""Runs started through the REST API (a trigger, an event, a webhook) are announced with
``Workflow.triggered``, and their ends with ``Workflow.finished``, in ``GET /~{org}/events``."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from plait import Engine
from plait.service.signatures import sign
from plait.testing import assert_eventually

SECRET = "s3cret-of-the-hook"
LOG = [{"action": "log", "mapping": {"message": "'hi'"}}]


async def _activated(client: httpx.AsyncClient, admin: dict[str, str], body: Any) -> str:
    made = await client.post("/~acme/workflows", headers=admin, json=body)
    assert made.status_code == 201, made.text
    workflow_id: str = made.json()["$id"]
    activated = await client.post(f"/~acme/workflows/{workflow_id}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    return workflow_id


async def _listed(client: httpx.AsyncClient, admin: dict[str, str], type: str) -> list[Any]:
    answer = await client.get("/~acme/events", headers=admin, params={"type": type})
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def test_trigger_event_and_webhook_starts_and_ends_are_listed(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    await engine.start_worker()  # the app under test serves the API only
    body = {"name": "On push", "triggerEvent": "Push.received", "steps": LOG}
    workflow_id = await _activated(client, admin, body)
    hook = {"name": "gh", "secret": SECRET, "scheme": "github", "eventType": "Push.received"}
    assert (await client.post("/~acme/webhooks", headers=admin, json=hook)).status_code == 201

    triggered = await client.post(f"/~acme/workflows/{workflow_id}/trigger", headers=admin,
                                  json={"input": {"ref": "main"}})  # fmt: skip
    assert triggered.status_code == 202, triggered.text
    emitted = await client.post("/~acme/events", headers=admin,
                                json={"type": "Push.received", "data": {"ref": "dev"}})  # fmt: skip
    assert emitted.status_code in (200, 201, 202), emitted.text
    payload = orjson.dumps({"ref": "hooked"})
    headers = {**sign("github", SECRET, payload, timestamp=None), "X-GitHub-Delivery": "d-1"}
    received = await client.post("/~acme/webhooks/gh", headers=headers, content=payload)
    assert received.status_code == 202, received.text

    starts = await _listed(client, admin, "Workflow.triggered")
    runs = {item["data"]["run"]["$id"]: item["data"] for item in starts}
    assert {d["$id"] for d in runs.values()} == {workflow_id}
    manual = runs[triggered.json()["$id"]]["run"]["trigger"]
    assert (manual["kind"], manual["actor"]["interface"]) == ("manual", "api")
    by_event = {d["run"]["trigger"].get("eventId"): d for d in runs.values()}
    assert by_event[emitted.json()["$id"]]["run"]["trigger"]["eventType"] == "Push.received"
    assert by_event["d-1"]["run"]["trigger"]["kind"] == "event"  # the webhook's event

    async def all_ended() -> bool:
        return len(await _listed(client, admin, "Workflow.finished")) == 3

    await assert_eventually(all_ended)
    ends = [item["data"] for item in await _listed(client, admin, "Workflow.finished")]
    assert {d["run"]["$id"] for d in ends} == set(runs)
    assert {d["run"]["outcome"] for d in ends} == {"succeeded"}
    assert ends[0]["runCount"] == 3 and ends[0]["successCount"] == 3  # newest first
    workflow = (await client.get(f"/~acme/workflows/{workflow_id}", headers=admin)).json()
    assert workflow["runCount"] == 3
