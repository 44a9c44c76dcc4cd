"""A step whose dependency failed under ``required: false`` is skipped, as brief 003's executor
refuses to run a step whose dependencies are not met: its reason is ``dependency``, naming the
failed steps, and the steps after it by ``dependsOn`` are skipped the same way. A failure the
run carries on past (``continue``, ``log-and-continue``) lets its dependents run and see null,
and steps that only run in turn (an entity document's list) carry on too."""

from __future__ import annotations

from typing import Any

import httpx

from plait import Engine
from tests.api.test_run_operations import until


def _service(required: bool | None) -> dict[str, Any]:
    ship: dict[str, Any] = {"id": "ship", "type": "function", "dependsOn": ["charge"]}
    if required is not None:
        ship["required"] = required
    return {
        "name": "Orders",
        "triggerEvent": "Order.placed",
        "steps": [
            {"id": "charge", "type": "function", "required": False},
            ship,
            {"id": "notify", "type": "function", "dependsOn": ["ship"]},
            {"id": "audit", "type": "function"},
        ],
    }


async def _run(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str], body: dict[str, Any],
    broken: set[str], status: str,
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    calls: list[str] = []
    for name in ("charge", "ship", "notify", "audit", "step"):

        def make(name: str) -> Any:
            async def act(data: Any = None) -> str:
                step = data["step"] if isinstance(data, dict) and "step" in data else name
                calls.append(step)
                if step in broken:
                    raise RuntimeError(f"{step} failed")
                return step

            return act

        engine.action(name)(make(name))
    await engine.start_worker()
    workflow = (await client.post("/~acme/workflows", headers=admin, json=body)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{workflow['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    return await until(client, admin, run["$id"], status), calls


async def test_steps_depending_on_a_failed_step_are_skipped_naming_it(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    run, calls = await _run(client, engine, admin, _service(None), {"charge"}, "succeeded")

    assert sorted(calls) == ["audit", "charge"]
    assert run["outcome"] == "partial" and run["success"] is False
    assert run["failedSteps"] == ["charge"] and run["completedSteps"] == ["audit"]
    assert run["skippedSteps"] == [
        {"step": "ship", "reason": "dependency", "failed": ["charge"]},
        {"step": "notify", "reason": "dependency", "failed": ["ship"]},
    ]


async def test_a_required_step_whose_dependency_failed_fails_the_run_naming_both(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    run, calls = await _run(client, engine, admin, _service(True), {"charge"}, "failed")

    assert "notify" not in calls and "ship" not in calls
    assert run["error"]["type"] == "plait.errors.RequiredStepSkipped"
    assert run["error"]["message"] == (
        "required step 'ship' was skipped: a step it depends on failed ('charge')"
    )
    assert run["error"]["path"] == "$.steps[1].dependsOn"


async def test_steps_that_run_in_turn_carry_on_past_a_failed_step_under_continue(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    body = {"name": "Onboard", "triggerEvent": "Deal.won", "errorHandling": "Continue",
            "steps": [{"id": s, "action": "step", "mapping": {"step": f"'{s}'"}}
                      for s in ("customer", "welcome", "project")]}  # fmt: skip
    run, calls = await _run(client, engine, admin, body, {"welcome"}, "succeeded")

    assert calls == ["customer", "welcome", "project"]
    assert run["completedSteps"] == ["customer", "project"]
    assert run["skippedSteps"] == []


async def test_dependents_of_a_step_carried_on_past_by_its_policy_run_and_see_null(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    body = _service(None)
    body["steps"][0] = {"id": "charge", "type": "function", "onError": "log-and-continue"}
    run, calls = await _run(client, engine, admin, body, {"charge"}, "succeeded")

    assert sorted(calls) == ["audit", "charge", "notify", "ship"]
    assert run["outcome"] == "partial" and run["failedSteps"] == ["charge"]
    assert run["skippedSteps"] == []
