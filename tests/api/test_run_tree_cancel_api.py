"""Cancelling a run that ended by itself over the REST API (both backends): a root that
succeeded after starting children it does not wait for (`wait: false`) still has its live
descendants cancelled; it keeps its status, answers 200, and its history records the cancel."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually

WAITER = {"name": "waiter", "steps": [
    {"id": "wait", "type": "wait-for-event", "event": "Never.happens"}]}  # fmt: skip
MIDDLE = {"name": "middle", "steps": [
    {"id": "kick", "type": "workflow", "workflow": "waiter", "wait": False}]}  # fmt: skip
ROOT = {"name": "spawner", "steps": [
    {"id": "kick", "type": "workflow", "workflow": "middle", "wait": False}]}  # fmt: skip


async def run_of(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
    return found


async def test_cancelling_a_succeeded_root_cancels_its_live_fire_and_forget_grandchild(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    await engine.start_worker()  # the app under test serves the API only
    ids = {}
    for document in (WAITER, MIDDLE, ROOT):
        made = await client.post("/~acme/workflows", headers=admin, json=document)
        assert made.status_code == 201, made.text
        ids[document["name"]] = made.json()["$id"]
    root = (await client.post(f"/~acme/workflows/{ids['spawner']}/trigger", headers=admin,
                              json={})).json()["$id"]  # fmt: skip
    found: dict[str, str] = {}

    async def grandchild_waits() -> bool:
        root_run = await run_of(client, admin, root)
        if root_run["status"] != "succeeded" or not root_run["children"]:
            return False
        middle = await run_of(client, admin, root_run["children"][0])
        found["middle"] = middle["$id"]
        if middle["status"] != "succeeded" or not middle["children"]:
            return False
        found["waiter"] = middle["children"][0]
        return (await run_of(client, admin, found["waiter"]))["status"] == "waiting"

    await assert_eventually(grandchild_waits, timeout=60)
    answer = await client.post(f"/~acme/runs/{root}/cancel", headers=admin,
                               json={"reason": "runaway"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    [entry] = answer.json()["history"]
    assert (entry["action"], entry["reason"], entry["descendants"]) == ("cancel", "runaway", 1)
    assert (await run_of(client, admin, found["middle"]))["status"] == "succeeded"
    waiter = await run_of(client, admin, found["waiter"])
    assert waiter["status"] == "cancelled"
    assert waiter["error"]["reason"] == f"the tree below run {root} was cancelled"

    again = await client.post(f"/~acme/runs/{root}/cancel", headers=admin, json={})
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert len(again.json()["history"]) == 1  # nothing was live: nothing changed
