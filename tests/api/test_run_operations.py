"""Run operations over the REST API: resume, fork, retry and cancel, who did them, and the
4xx answers that change nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer
from tests.api.test_tasks import start_sign_off

FLOW: dict[str, Any] = {
    "name": "Bill customer",
    "triggerEvent": "Invoice.due",
    "steps": [
        {"id": "load", "action": "tally", "mapping": {"step": "'load'"}},
        {"id": "bill", "action": "tally", "mapping": {"step": "'bill'"}},
    ],
}


async def failed_run(client: httpx.AsyncClient, engine: Engine, admin: dict[str, str],
                     broken: set[str], calls: list[str],
                     gate: asyncio.Event | None = None) -> str:  # fmt: skip
    """A failed run of FLOW; while ``broken`` holds "hold", each step waits for ``gate``."""

    @engine.action("tally")
    async def tally(data: dict[str, str]) -> str:
        calls.append(data["step"])
        if "hold" in broken and gate is not None:
            await gate.wait()
        if data["step"] in broken:
            raise RuntimeError(f"{data['step']} failed")
        return data["step"]

    await engine.start_worker()  # the app under test serves the API only
    workflow = (await client.post("/~acme/workflows", headers=admin, json=FLOW)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    await until(client, admin, run["$id"], "failed")
    return str(run["$id"])


async def until(client: httpx.AsyncClient, admin: dict[str, str], run_id: str,
                status: str) -> dict[str, Any]:  # fmt: skip
    async def reached() -> bool:
        got = await client.get(f"/~acme/runs/{run_id}", headers=admin)
        return bool(got.json()["status"] == status)

    await assert_eventually(reached)
    found: dict[str, Any] = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    return found


async def test_resume_fork_and_retry_record_the_key_that_did_them(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    broken, calls = {"bill"}, list[str]()
    run_id = await failed_run(client, engine, admin, broken, calls)
    broken.clear()
    runner = bearer(keys["acme"]["runner"])
    resumed = await client.post(f"/~acme/runs/{run_id}/resume", headers=runner,
                                json={"reason": "billing is back"})  # fmt: skip
    assert resumed.status_code == 202 and resumed.json()["status"] == "pending"
    done = await until(client, admin, run_id, "succeeded")
    assert calls == ["load", "bill", "bill"]  # "load" was reused
    [entry] = done["history"]
    assert entry["action"] == "resume" and entry["reason"] == "billing is back"
    assert entry["by"].startswith("key:")

    forked = await client.post(f"/~acme/runs/{run_id}/fork", headers=runner, json={"step": "bill"})
    assert forked.status_code == 201
    assert forked.headers["location"] == f"/~acme/runs/{forked.json()['$id']}"
    await until(client, admin, forked.json()["$id"], "succeeded")
    retried = await client.post(f"/~acme/runs/{run_id}/retry", headers=runner)
    assert retried.status_code == 201 and retried.json()["trigger"] == "retry"
    await until(client, admin, retried.json()["$id"], "succeeded")
    assert calls == ["load", "bill", "bill", "bill", "load", "bill"]


async def test_bad_operations_are_4xx_and_change_nothing(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    calls: list[str] = []
    run_id = await failed_run(client, engine, admin, {"bill"}, calls)
    before = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()

    missing = await client.post(f"/~acme/runs/{run_id}/fork", headers=admin, json={"step": "x"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"run {run_id} has no step 'x' (its steps: load, bill)"
    unknown = await client.post(f"/~acme/runs/{run_id}/fork", headers=admin,
                                json={"step": "load", "color": "red"})  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "$.body.color"
    viewer = bearer(keys["acme"]["viewer"])
    assert (await client.post(f"/~acme/runs/{run_id}/resume", headers=viewer)).status_code == 403
    other = bearer(keys["globex"]["admin"])
    assert (await client.post(f"/~globex/runs/{run_id}/resume", headers=other)).status_code == 404

    listed = await client.get("/~acme/runs", headers=admin)
    assert [r["$id"] for r in listed.json()["items"]] == [run_id]
    assert (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json() == before

    ended = await client.post(f"/~acme/runs/{run_id}/cancel", headers=admin, json={"reason": "x"})
    assert ended.status_code == 200 and ended.json()["status"] == "failed"  # it had ended
    assert ended.json()["history"] == []


async def test_resume_of_a_run_that_did_not_fail_is_a_409(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    calls: list[str] = []
    broken, gate = {"bill"}, asyncio.Event()
    run_id = await failed_run(client, engine, admin, broken, calls, gate)
    await client.post(f"/~acme/runs/{run_id}/resume", headers=admin)
    await until(client, admin, run_id, "failed")
    broken.add("hold")  # the retried run's first step waits: it is live when cancelled
    retried = await client.post(f"/~acme/runs/{run_id}/retry", headers=admin)
    new_id = retried.json()["$id"]
    await until(client, admin, new_id, "running")
    cancelled = await client.post(f"/~acme/runs/{new_id}/cancel", headers=admin,
                                  json={"reason": "dup"})  # fmt: skip
    gate.set()
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    [entry] = cancelled.json()["history"][1:]  # after "retried-from"
    assert (entry["action"], entry["reason"]) == ("cancel", "dup")
    refused = await client.post(f"/~acme/runs/{new_id}/resume", headers=admin)
    assert refused.status_code == 409
    body = refused.json()
    assert body["type"].endswith("run-not-resumable")
    assert f"cannot resume run {new_id}: it is cancelled" in body["detail"]
    assert (await client.get(f"/~acme/runs/{new_id}", headers=admin)).json()["status"] == (
        "cancelled"
    )


async def test_cancelling_a_waiting_run_records_the_key(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    run_id, task = await start_sign_off(client, engine, admin, "ann")
    await until(client, admin, run_id, "waiting")
    runner = keys["acme"]["runner"]
    cancelled = await client.post(f"/~acme/runs/{run_id}/cancel", headers=bearer(runner),
                                  json={"reason": "no longer needed"})  # fmt: skip
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    [entry] = cancelled.json()["history"]
    assert entry["action"] == "cancel" and entry["by"] == f"key:{runner.split('_')[1]}"
    assert entry["reason"] == "no longer needed"
    got = (await client.get(f"/~acme/tasks/{task['$id']}", headers=admin)).json()
    assert got["status"] == "cancelled"
