"""Paged listings of schedules, webhooks and keys; step-less drafts; the role matrix of the
lifecycle and schedule verbs; what another organization's key learns (nothing)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from plait import Engine
from plait.resources.keys import ROLES, Role
from plait.service.signatures import sign
from tests.api.conftest import WELCOME, Keys, bearer

LOG = [{"action": "log", "mapping": {"message": "'hi'"}}]


async def every_page(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing, following nextCursor, and how many pages it took."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    pages = 0
    while True:
        response = await client.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        found += body["items"]
        pages += 1
        if body["nextCursor"] is None:
            return found, pages
        params = {"limit": limit, "cursor": body["nextCursor"]}


@pytest.mark.parametrize("listing", ["schedules", "webhooks", "keys"])
async def test_schedules_webhooks_and_keys_are_paged(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine, keys: Keys, listing: str
) -> None:
    workflow = await engine.workflows.create("acme", {"name": "w", "steps": LOG})
    for n in range(5):
        if listing == "schedules":
            await engine.schedules.create("acme", {"workflow": "w", "cron": f"{n} * * * *"})
        elif listing == "webhooks":
            await engine.webhooks.create("acme", {"name": f"h{n}", "secret": "s", "eventType": "E"})
        else:
            await client.post("/~acme/keys", headers=admin, json={"role": "viewer"})
    found, pages = await every_page(client, f"/~acme/{listing}", admin, limit=2)
    expected = 9 if listing == "keys" else 5  # the fixture made 4 keys per organization
    assert len(found) == expected and len({item["$id"] for item in found}) == expected
    assert pages == (expected + 1) // 2
    if listing == "schedules":
        assert {item["workflow"] for item in found} == {workflow.id}
    if listing == "webhooks":
        assert [item["name"] for item in found] == ["h0", "h1", "h2", "h3", "h4"]
    unknown = await client.get(f"/~acme/{listing}", headers=admin, params={"page": 2})
    assert unknown.status_code == 422
    too_many = await client.get(f"/~acme/{listing}", headers=admin, params={"limit": 5000})
    assert too_many.status_code == 422
    bad = await client.get(f"/~acme/{listing}", headers=admin, params={"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


async def test_a_draft_without_steps_is_refused_at_activation(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post("/~acme/workflows", headers=admin,
                                json={"name": "later", "triggerEvent": "X.done"})  # fmt: skip
    assert created.status_code == 201, created.text
    path = f"/~acme/workflows/{created.json()['$id']}"
    refused = await client.post(f"{path}/activate", headers=admin)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"path": "$.body.steps", "message": "a workflow needs at least one step before activation"}
    ]
    assert (await client.patch(path, headers=admin, json={"steps": LOG})).status_code == 200
    assert (await client.post(f"{path}/activate", headers=admin)).json()["status"] == "Activated"


async def test_update_of_an_archived_workflow_is_a_clear_409(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    created = await engine.workflows.create("acme", WELCOME)
    await engine.workflows.archive("acme", created.id)
    refused = await client.patch(f"/~acme/workflows/{created.id}", headers=admin,
                                 json={"description": "x"})  # fmt: skip
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("an Archived workflow cannot be updated")


async def _patch(client: httpx.AsyncClient, h: dict[str, str], e: Engine, wid: str) -> Any:
    return await client.patch(f"/~acme/workflows/{wid}", headers=h, json={"description": "d"})


async def _activate(client: httpx.AsyncClient, h: dict[str, str], e: Engine, wid: str) -> Any:
    return await client.post(f"/~acme/workflows/{wid}/activate", headers=h)


async def _archive(client: httpx.AsyncClient, h: dict[str, str], e: Engine, wid: str) -> Any:
    return await client.post(f"/~acme/workflows/{wid}/archive", headers=h)


async def _schedule(client: httpx.AsyncClient, h: dict[str, str], e: Engine, wid: str) -> Any:
    body = {"workflow": wid, "cron": "0 9 * * *"}
    return await client.post("/~acme/schedules", headers=h, json=body)


async def _unschedule(client: httpx.AsyncClient, h: dict[str, str], e: Engine, wid: str) -> Any:
    made = await e.schedules.create("acme", {"workflow": wid, "cron": "0 9 * * *"})
    return await client.delete(f"/~acme/schedules/{made.id}", headers=h)


VERBS: dict[str, tuple[Role, Any]] = {
    "patch": ("editor", _patch), "activate": ("editor", _activate),
    "archive": ("editor", _archive), "schedule": ("editor", _schedule),
    "unschedule": ("editor", _unschedule),
}  # fmt: skip


@pytest.mark.parametrize("verb", sorted(VERBS))
async def test_role_matrix_of_lifecycle_and_schedule_verbs(
    client: httpx.AsyncClient, keys: Keys, engine: Engine, verb: str
) -> None:
    needed, call = VERBS[verb]
    for role in ROLES:
        created = await engine.workflows.create("acme", {**WELCOME, "name": f"{verb}-{role}"})
        response = await call(client, bearer(keys["acme"][role]), engine, created.id)
        if ROLES.index(role) >= ROLES.index(needed):
            assert response.status_code < 300, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert f"needs the {needed} role" in response.json()["detail"]
    if verb in ("patch", "activate", "archive"):  # refused verbs changed nothing
        refused = await engine.workflows.get("acme", f"{verb}-viewer")
        assert (refused.version, refused.status) == (1, "Draft")


async def test_another_organizations_key_learns_nothing_of_runs_events_or_triggers(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    workflow = await engine.workflows.create("acme", WELCOME)
    await engine.workflows.activate("acme", workflow.id)
    await engine.workflows.trigger("acme", workflow.id, {"name": "Ada"})
    await engine.events.emit("acme", "Customer.created", {"name": "Bo"})
    globex = bearer(keys["globex"]["admin"])
    answers = []
    for method, path in (
        ("GET", "/~acme/runs"),
        ("GET", "/~acme/events"),
        ("POST", f"/~acme/workflows/{workflow.id}/trigger"),
        ("POST", "/~acme/workflows/workflow_00000000/trigger"),
        ("POST", "/~acme/events"),
    ):
        response = await client.request(method, path, headers=globex, json={"type": "X"})
        assert response.status_code == 404, path
        body = response.json()
        answers.append({**body, "detail": body["detail"].replace(path, "")})
        # as whole words: a random id in the text may hold the letters "Bo"
        assert not re.search(r"\b(Ada|Bo)\b", response.text), response.text
    assert all(answer == answers[0] for answer in answers)
    runs = await engine.runs.find("acme")
    assert len(runs.items) == 2  # the refused trigger started nothing


async def test_github_redeliveries_are_one_event_by_their_delivery_id(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    hook = {"name": "gh", "secret": "s3cret", "scheme": "github", "eventType": "Push.received"}
    assert (await client.post("/~acme/webhooks", headers=admin, json=hook)).status_code == 201
    body = orjson.dumps({"ref": "main"})
    headers = {**sign("github", "s3cret", body, timestamp=None),
               "X-GitHub-Delivery": "72d3162e-cc78"}  # fmt: skip
    ids = []
    for _ in range(2):
        received = await client.post("/~acme/webhooks/gh", headers=headers, content=body)
        assert received.status_code == 202, received.text
        ids.append(received.json()["$id"])
    assert ids == ["72d3162e-cc78", "72d3162e-cc78"]
    page = await engine.events.find("acme", type="Push.received")
    assert [e.id for e in page.items] == ["72d3162e-cc78"]


def _cursor(data: Any) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        {"l": "runs", "k": ["abc", "x"]},
        {"l": "runs", "k": [1.0, 2]},
        {"l": "events", "k": ["abc"]},
        {"l": "events", "k": [10**30]},
        {"l": "schedules", "k": [None, "x"]},
        {"f": "createdAt", "k": [True, "float", "abc", "x"]},
        "not a cursor",
    ],
)
async def test_forged_cursors_never_get_a_server_error(
    client: httpx.AsyncClient, keys: Keys, forged: Any
) -> None:
    admin = bearer(keys["acme"]["admin"])
    cursor = forged if isinstance(forged, str) else _cursor(forged)
    for listing in ("runs", "events", "schedules", "tasks"):  # keyset pages read in SQL
        answer = await client.get(f"/~acme/{listing}", headers=admin, params={"cursor": cursor})
        assert answer.status_code == 400, (listing, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"] == "the cursor is not valid" or "listing" in answer.text
    for listing in ("keys", "webhooks", "workflows"):  # a well-formed one may just page on
        answer = await client.get(f"/~acme/{listing}", headers=admin, params={"cursor": cursor})
        assert answer.status_code in (200, 400), (listing, answer.text)


@pytest.mark.parametrize("sort", ["retryPolicy", "-steps", "definition"])
async def test_sorting_workflows_by_a_field_holding_objects_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine, sort: str
) -> None:
    for name, attempts in (("a", 2), ("b", 3)):
        await engine.workflows.create("acme", {"name": name, "steps": LOG, "triggerEvent": [
            f"{name}.x", "y"], "retryPolicy": {"maxAttempts": attempts}})  # fmt: skip
    response = await client.get("/~acme/workflows", headers=admin, params={"sort": sort})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:plait:problem:invalid-query"
    assert repr(sort.lstrip("-")) in response.json()["detail"]
    for field in ("-name", "-triggerEvent"):  # values, and lists of values, still sort
        by = await client.get("/~acme/workflows", headers=admin, params={"sort": field})
        assert [item["name"] for item in by.json()["items"]] == ["b", "a"], by.text
