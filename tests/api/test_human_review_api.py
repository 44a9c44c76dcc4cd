"""``onError: human-review`` over REST: the review task in the organization's shared inbox
(``GET /~{org}/tasks?assignee=*``), and each decision completed with
``POST /~{org}/tasks/{id}/complete`` deciding the run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer

CHECKOUT: dict[str, Any] = {"name": "checkout", "triggerEvent": "Order.placed", "steps": [
    {"id": "reserve", "type": "function", "function": "reserve"},
    {"id": "charge", "type": "function", "function": "charge", "dependsOn": ["reserve"],
     "input": {"amount": "{{ input.amount }}"}, "onError": "human-review"},
    {"id": "receipt", "type": "function", "function": "receipt", "dependsOn": ["charge"]},
]}  # fmt: skip


def register(engine: Engine, calls: dict[str, int]) -> None:
    """``charge`` fails its first call (``card declined``) and succeeds after."""

    def count(name: str) -> None:
        calls[name] = calls.get(name, 0) + 1

    @engine.action("reserve")
    def reserve(item: Any) -> str:
        count("reserve")
        return "held"

    @engine.action("charge")
    def charge(item: dict[str, Any]) -> dict[str, Any]:
        count("charge")
        if calls["charge"] == 1:
            raise RuntimeError("card declined")
        return {"charged": item["amount"]}

    @engine.action("receipt")
    def receipt(item: Any) -> str:
        count("receipt")
        return "sent"


async def review(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """Create, activate and trigger ``checkout``; return the run's id and its review task."""
    created = await client.post("/~acme/workflows", headers=admin, json=CHECKOUT)
    assert created.status_code == 201, created.text
    workflow = created.json()["$id"]
    activated = await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    run = await client.post(f"/~acme/workflows/{workflow}/trigger", headers=admin,
                            json={"input": {"amount": 40}})  # fmt: skip
    await engine.start_worker()
    found: list[dict[str, Any]] = []

    async def has_task() -> bool:
        page = await client.get("/~acme/tasks", headers=admin,
                                params={"assignee": "*", "status": "open"})  # fmt: skip
        found[:] = page.json()["items"]
        return len(found) == 1

    await assert_eventually(has_task)
    return run.json()["$id"], found[0]


async def ended(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = {}

    async def is_over() -> bool:
        shown.update((await client.get(f"/~acme/runs/{run_id}", headers=admin)).json())
        return shown["status"] in ("succeeded", "failed")

    await assert_eventually(is_over)
    return shown


@pytest.mark.parametrize(
    ("decision", "status", "outcome", "calls"),
    [("retry", "succeeded", "succeeded", {"reserve": 1, "charge": 2, "receipt": 1}),
     ("skip", "succeeded", "partial", {"reserve": 1, "charge": 1, "receipt": 1}),
     ("fail", "failed", "failed", {"reserve": 1, "charge": 1})],
)  # fmt: skip
async def test_each_decision_decides_the_run(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str],
    decision: str, status: str, outcome: str, calls: dict[str, int],
) -> None:  # fmt: skip
    counted: dict[str, int] = {}
    register(engine, counted)
    run_id, task = await review(client, engine, admin)
    assert task["title"] == "Review failed step 'charge'" and task["assignee"] == "*"
    assert task["choices"] == ["retry", "skip", "fail"] and task["stepKey"] == "charge.review"
    assert task["data"]["step"] == {"id": "charge", "name": None, "key": "charge"}
    assert task["data"]["input"] == {"amount": 40}
    assert task["data"]["error"] == {"type": "RuntimeError", "message": "card declined"}

    mia = bearer((await engine.keys.create("acme", "runner", user="mia")).key)
    done = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=mia,
                             json={"decision": decision, "comment": "checked"})  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["completedBy"] == "mia" and done.json()["decision"] == decision

    run = await ended(client, admin, run_id)
    assert run["status"] == status and run["outcome"] == outcome
    assert "charge" in run["failedSteps"]
    decided = next(s for s in run["steps"] if s["key"] == "charge.review")
    assert decided["output"]["decision"] == decision and decided["output"]["completedBy"] == "mia"
    if decision == "fail":
        assert run["error"]["type"] == "RuntimeError" and run["error"]["message"] == "card declined"
    assert counted == calls


async def test_a_viewer_cannot_decide_a_review(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    register(engine, {})
    _, task = await review(client, engine, admin)
    viewer = bearer(keys["acme"]["viewer"])
    refused = await client.post(f"/~acme/tasks/{task['$id']}/complete", headers=viewer,
                                json={"decision": "skip", "by": "ops"})  # fmt: skip
    assert refused.status_code == 403
    wrong = await client.post(f"/~acme/tasks/{task['$id']}/complete",
                              headers=bearer(keys["acme"]["runner"]),
                              json={"decision": "approve", "by": "ops"})  # fmt: skip
    assert wrong.status_code == 422
    assert "choose one of 'retry', 'skip', 'fail'" in wrong.json()["detail"]
    still = await client.get(f"/~acme/tasks/{task['$id']}", headers=admin)
    assert still.json()["status"] == "open"
