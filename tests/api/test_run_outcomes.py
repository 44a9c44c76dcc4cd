"""Honest outcomes over the REST API, on every backend: a stored definition run that carried on
past a failed step (``errorHandling: Continue``) ends ``partial`` and counts as a failure of its
workflow; one in which no step succeeded ends ``failed``, keeping what it recorded; the run
document says which steps completed, failed and were skipped."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually
from tests.api.test_run_operations import until

ONBOARDING: dict[str, Any] = {
    "name": "Onboard customer",
    "triggerEvent": "Deal.won",
    "errorHandling": "Continue",
    "steps": [
        {"id": "customer", "action": "onboard", "mapping": {"step": "'customer'"}},
        {"id": "welcome", "action": "onboard", "mapping": {"step": "'welcome'"}},
        {"id": "upsell", "action": "onboard", "mapping": {"step": "'upsell'"},
         "condition": "input.plan == 'enterprise'"},
    ],
}  # fmt: skip


async def _triggered(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], broken: set[str]
) -> tuple[str, str]:
    """The workflow's and the run's ids of ONBOARDING triggered over REST, where the steps
    named in ``broken`` fail."""

    @engine.action("onboard")
    async def onboard(data: dict[str, str]) -> str:
        if data["step"] in broken:
            raise RuntimeError(f"{data['step']} failed")
        return data["step"]

    await engine.start_worker()  # the app under test serves the API only
    workflow = (await client.post("/~acme/workflows", headers=admin, json=ONBOARDING)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {"plan": "starter"}})).json()  # fmt: skip
    return workflow["$id"], run["$id"]


async def _counted(client: httpx.AsyncClient, admin: dict[str, str], workflow_id: str) -> Any:
    """The workflow's (runCount, successCount, failureCount) once its run's end is counted."""

    async def counted() -> bool:
        shown = (await client.get(f"/~acme/workflows/{workflow_id}", headers=admin)).json()
        return bool(shown["runCount"] == 1)

    await assert_eventually(counted)
    shown = (await client.get(f"/~acme/workflows/{workflow_id}", headers=admin)).json()
    return shown["runCount"], shown["successCount"], shown["failureCount"]


async def test_a_run_continued_past_a_failed_step_is_partial_and_counts_as_a_failure(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    workflow_id, run_id = await _triggered(client, engine, admin, broken={"welcome"})
    run = await until(client, admin, run_id, "succeeded")

    assert run["outcome"] == "partial" and run["success"] is False
    assert run["output"] == {"customer": "customer", "welcome": None, "upsell": None}
    assert run["completedSteps"] == ["customer"]
    assert run["failedSteps"] == ["welcome"]
    assert run["skippedSteps"] == [{"step": "upsell", "reason": "condition", "failed": None}]
    assert await _counted(client, admin, workflow_id) == (1, 0, 1)
    [listed] = (await client.get("/~acme/runs", headers=admin)).json()["items"]
    assert (listed["outcome"], listed["success"]) == ("partial", False)
    assert listed["completedSteps"] == listed["failedSteps"] == listed["skippedSteps"] == []


async def test_a_run_in_which_no_step_succeeded_fails_and_keeps_what_it_recorded(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    workflow_id, run_id = await _triggered(client, engine, admin, broken={"customer", "welcome"})
    run = await until(client, admin, run_id, "failed")

    assert run["outcome"] == "failed" and run["success"] is False
    assert run["error"]["type"] == "plait.NoStepSucceeded"
    assert run["error"]["steps"] == ["customer", "welcome"]
    assert run["output"] == {"customer": None, "welcome": None, "upsell": None}
    assert run["completedSteps"] == [] and run["failedSteps"] == ["customer", "welcome"]
    assert [s["key"] for s in run["steps"]] == ["customer", "welcome", "upsell"]
    assert await _counted(client, admin, workflow_id) == (1, 0, 1)


async def test_a_run_whose_steps_all_succeeded_is_a_success(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    workflow_id, run_id = await _triggered(client, engine, admin, broken=set())
    run = await until(client, admin, run_id, "succeeded")

    assert run["outcome"] == "succeeded" and run["success"] is True
    assert run["completedSteps"] == ["customer", "welcome"] and run["failedSteps"] == []
    assert await _counted(client, admin, workflow_id) == (1, 1, 0)
