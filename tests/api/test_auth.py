"""API keys: who may do what, and what one organization can learn of another."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.resources.keys import ROLES, Role
from plait.service.keys import hash_key
from tests.api.conftest import WELCOME, Keys, bearer
from tests.backends import select

Call = Callable[[httpx.AsyncClient, dict[str, str], Engine, str], Awaitable[httpx.Response]]


async def _read(client: httpx.AsyncClient, h: dict[str, str], e: Engine, n: str) -> httpx.Response:
    return await client.get("/~acme/workflows", headers=h)


async def _run(client: httpx.AsyncClient, h: dict[str, str], e: Engine, n: str) -> httpx.Response:
    return await client.post("/~acme/events", headers=h, json={"type": "Ping", "data": {}})


async def _edit(client: httpx.AsyncClient, h: dict[str, str], e: Engine, n: str) -> httpx.Response:
    return await client.post("/~acme/workflows", headers=h, json={**WELCOME, "name": n})


async def _delete(
    client: httpx.AsyncClient, h: dict[str, str], e: Engine, n: str
) -> httpx.Response:
    created = await e.workflows.create("acme", {**WELCOME, "name": n})
    return await client.delete(f"/~acme/workflows/{created.id}", headers=h)


async def _hooks(client: httpx.AsyncClient, h: dict[str, str], e: Engine, n: str) -> httpx.Response:
    body = {"name": n.lower(), "secret": "s3cret", "eventType": "Ping"}
    return await client.post("/~acme/webhooks", headers=h, json=body)


VERBS: dict[str, tuple[Role, Call]] = {
    "read": ("viewer", _read),
    "run": ("runner", _run),
    "edit": ("editor", _edit),
    "delete": ("admin", _delete),
    "webhooks": ("admin", _hooks),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
async def test_each_role_may_do_what_its_rank_allows(
    client: httpx.AsyncClient, keys: Keys, engine: Engine, verb: str
) -> None:
    needed, call = VERBS[verb]
    for role in ROLES:
        response = await call(client, bearer(keys["acme"][role]), engine, f"wf-{verb}-{role}")
        if ROLES.index(role) >= ROLES.index(needed):
            assert response.status_code < 300, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert f"needs the {needed} role" in response.json()["detail"]


async def test_runner_may_trigger_and_cancel(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    created = await engine.workflows.create("acme", WELCOME)
    await engine.workflows.activate("acme", created.id)
    runner, viewer = bearer(keys["acme"]["runner"]), bearer(keys["acme"]["viewer"])
    path = f"/~acme/workflows/{created.id}/trigger"
    assert (await client.post(path, headers=viewer)).status_code == 403
    run = await client.post(path, headers=runner, json={"input": {"name": "Ada"}})
    assert run.status_code == 202
    cancel = f"/~acme/runs/{run.json()['$id']}/cancel"
    assert (await client.post(cancel, headers=viewer)).status_code == 403
    assert (await client.post(cancel, headers=runner)).json()["status"] == "cancelled"
    pause = await client.post(f"/~acme/workflows/{created.id}/pause", headers=runner)
    assert pause.status_code == 403 and "editor" in pause.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer plait_AAAAAAAA_" + "x" * 43],
)
async def test_missing_or_invalid_key_is_401(
    client: httpx.AsyncClient, keys: Keys, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/~acme/workflows", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_tampered_or_revoked_key_is_401(
    client: httpx.AsyncClient, keys: Keys, admin: dict[str, str]
) -> None:
    key = keys["acme"]["viewer"]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert (await client.get("/~acme/runs", headers=bearer(tampered))).status_code == 401
    assert (await client.get("/~acme/runs", headers=bearer(key))).status_code == 200
    key_id = key.split("_")[1]
    assert (await client.delete(f"/~acme/keys/{key_id}", headers=admin)).status_code == 204
    assert (await client.get("/~acme/runs", headers=bearer(key))).status_code == 401


async def test_another_organizations_key_gets_404_whatever_exists(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    workflow = await engine.workflows.create("acme", WELCOME)
    globex = bearer(keys["globex"]["admin"])
    answers: list[dict[str, Any]] = []
    for path in (
        f"/~acme/workflows/{workflow.id}",  # exists, in acme
        "/~acme/workflows/workflow_00000000",  # does not exist
        "/~acme/workflows",
        "/~nobody/workflows",  # no such organization
        "/~acme/keys",
    ):
        response = await client.get(path, headers=globex)
        assert response.status_code == 404, path
        answers.append({**response.json(), "detail": response.json()["detail"].replace(path, "")})
    assert all(answer == answers[0] for answer in answers)  # nothing tells them apart
    deleted = await client.delete(f"/~acme/workflows/{workflow.id}", headers=globex)
    assert deleted.status_code == 404
    assert (await engine.workflows.get("acme", workflow.id)).name == WELCOME["name"]


async def test_ids_of_another_organization_are_not_found_under_ones_own(
    client: httpx.AsyncClient, keys: Keys, engine: Engine
) -> None:
    theirs = await engine.workflows.create("globex", WELCOME)
    await engine.workflows.activate("globex", theirs.id)
    run = await engine.workflows.trigger("globex", theirs.id, {"name": "Ada"})
    event = await engine.events.emit("globex", "Customer.created", {"name": "Bo"})
    acme = bearer(keys["acme"]["admin"])
    for path in (
        f"/~acme/workflows/{theirs.id}",
        f"/~acme/runs/{run.id}",
        f"/~acme/events/{event.id}",
    ):
        response = await client.get(path, headers=acme)
        assert response.status_code == 404, path
    cancel = await client.post(f"/~acme/runs/{run.id}/cancel", headers=acme)
    assert cancel.status_code == 404
    trigger = await client.post(f"/~acme/workflows/{theirs.id}/trigger", headers=acme)
    assert trigger.status_code == 404
    for listing in ("workflows", "runs", "events", "webhooks", "schedules"):
        found = (await client.get(f"/~acme/{listing}", headers=acme)).json()
        assert found == {"items": [], "nextCursor": None}, listing
    for kind in ("Workflow", "Run", "Event"):
        found = await client.post("/~acme/query", headers=acme, json={"type": kind})
        assert found.json()["items"] == [], kind
    own = (await client.get("/~globex/runs", headers=bearer(keys["globex"]["viewer"]))).json()
    assert {run.id, *event.runs} <= {r["$id"] for r in own["items"]}


async def _database(engine: Engine, folder: Path) -> tuple[bytes, set[str]]:
    """Every byte of the stored keys (SQLite: of the whole database files), and their hashes."""
    store = await engine.deps.store()
    stored = {row[0] for row in await select(store, "SELECT hash FROM api_keys")}
    if not engine.settings.database_url.startswith("sqlite"):
        rows = await select(store, "SELECT CAST(k AS TEXT) FROM api_keys AS k")
        return "\n".join(row[0] for row in rows).encode(), stored
    await engine.close()  # checkpoint the WAL into the file
    return _file_bytes(folder), stored


def _file_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("api.db"))


async def test_keys_are_stored_hashed(keys: Keys, engine: Engine, tmp_path: Path) -> None:
    raw, stored = await _database(engine, tmp_path)
    for org_keys in keys.by_org.values():
        for key in org_keys.values():
            secret = key.split("_", 2)[2]
            assert key.encode() not in raw and secret.encode() not in raw
            assert hash_key(key) in stored
    assert len(stored) == len(ROLES) * len(keys.by_org)


async def test_admins_manage_keys_through_the_api(
    client: httpx.AsyncClient, keys: Keys, admin: dict[str, str]
) -> None:
    created = await client.post("/~acme/keys", headers=admin, json={"role": "runner"})
    assert created.status_code == 201
    new = created.json()
    assert new["role"] == "runner" and new["key"].startswith(f"plait_{new['$id']}_")
    emitted = await client.post("/~acme/events", headers=bearer(new["key"]), json={"type": "A"})
    assert emitted.status_code == 202
    listed = (await client.get("/~acme/keys", headers=admin)).json()["items"]
    assert new["$id"] in {k["$id"] for k in listed}
    assert all("key" not in k and "hash" not in k for k in listed)
    editor = bearer(keys["acme"]["editor"])
    assert (await client.get("/~acme/keys", headers=editor)).status_code == 403
    bad = await client.post("/~acme/keys", headers=admin, json={"role": "owner"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.body.role"
