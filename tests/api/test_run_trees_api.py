"""Run trees over the REST API (both backends): a self-recursive stored workflow stops at the
depth bound with a step error naming the setting, a Paused workflow starts no child, and
cancelling the root of a 30,000-run tree answers 200 with every run cancelled."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from plait.store.records import NewRun
from plait.testing import assert_eventually
from tests.backends import select

RECURSE = {"name": "recurse", "steps": [{"id": "again", "type": "workflow",
                                         "workflow": "recurse"}]}  # fmt: skip


async def run_of(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    return found


async def ended(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> dict[str, Any]:
    async def done() -> bool:
        status = (await run_of(client, admin, run_id))["status"]
        return status in ("succeeded", "failed", "cancelled")

    await assert_eventually(done, timeout=60)
    return await run_of(client, admin, run_id)


async def test_a_self_recursive_workflow_stops_at_the_depth_bound(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    await engine.start_worker()  # the app under test serves the API only
    made = await client.post("/~acme/workflows", headers=admin, json=RECURSE)
    assert made.status_code == 201
    root = await client.post(f"/~acme/workflows/{made.json()['$id']}/trigger", headers=admin,
                             json={"input": {}})  # fmt: skip
    assert root.status_code in (201, 202), root.text
    finished = await ended(client, admin, root.json()["$id"])
    assert finished["status"] == "failed"
    assert "max_run_tree_depth" in finished["error"]["message"]
    store = await engine.deps.store()
    assert await select(store, "SELECT COUNT(*), MAX(depth) FROM runs") == [(33, 32)]
    [(deepest,)] = await select(store, "SELECT id FROM runs WHERE depth = 32")
    step = (await run_of(client, admin, deepest))["steps"][0]
    assert step["status"] == "failed" and step["error"]["type"] == "plait.LimitExceeded"
    assert "is 33; the limit is 32 (setting max_run_tree_depth" in step["error"]["message"]


async def test_a_paused_workflow_starts_no_child_run(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    await engine.start_worker()
    target = {"name": "target", "triggerEvent": "Thing.happened",
              "steps": [{"action": "log", "mapping": {"message": "'hi'"}}]}  # fmt: skip
    made = (await client.post("/~acme/workflows", headers=admin, json=target)).json()
    await client.post(f"/~acme/workflows/{made['$id']}/activate", headers=admin)
    paused = await client.post(f"/~acme/workflows/{made['$id']}/pause", headers=admin)
    assert paused.json()["status"] == "Paused"
    caller = {"name": "caller", "steps": [{"id": "call", "type": "workflow",
                                           "workflow": "target"}]}  # fmt: skip
    made = (await client.post("/~acme/workflows", headers=admin, json=caller)).json()
    run = await client.post(f"/~acme/workflows/{made['$id']}/trigger", headers=admin, json={})
    finished = await ended(client, admin, run.json()["$id"])
    assert finished["status"] == "failed"
    assert "workflow 'target' is Paused and starts no new runs" in finished["error"]["message"]
    store = await engine.deps.store()
    assert await select(store, "SELECT COUNT(*) FROM runs WHERE workflow = 'target'") == [(0,)]


TREE = 30_000


async def test_cancelling_the_root_of_a_30000_run_tree_answers_200(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    store = await engine.deps.store()
    now = engine.clock.time()
    await store.create_run(NewRun("run_t0", "wf", b"[]", now, org="acme"))
    sql = f"""
        INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at,
                          parent_run_id, parent_step, root_run_id, depth)
        WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {TREE - 1})
        SELECT 'run_t' || i, 'acme', 'wf', 'waiting', '[]', 'child', {now}, {now},
               'run_t' || CASE WHEN i <= 2000 THEN i - 1 ELSE (i - 2000) / 3 END,
               'child:wf', 'run_t0', 1
        FROM seq
    """
    await store._submit(lambda db: db.execute(sql))  # type: ignore[attr-defined]
    answer = await client.post("/~acme/runs/run_t0/cancel", headers=admin,
                               json={"reason": "runaway"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    rows = await select(store, "SELECT status, COUNT(*) FROM runs GROUP BY status")
    assert rows == [("cancelled", TREE)]
