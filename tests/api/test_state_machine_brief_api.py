"""Brief 003's order state machine over the REST API (issue 12): the machine as written fails
validation only for its undefined state; the example loads without a correlation, its
instances are addressed by key, a failed terminal state counts as a failure, and ``retry``
re-enters a state (both backends)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.api import create_app
from plait.testing import assert_eventually
from tests.api.conftest import bearer
from tests.integration.test_state_machine_brief import CHARGE, brief_003, charging, order_003

MakeEngine = Callable[..., Engine]
Api = tuple[httpx.AsyncClient, dict[str, str]]


@pytest.fixture
async def api(make_engine: MakeEngine) -> AsyncIterator[tuple[Api, list[Any]]]:
    engine = make_engine()
    calls: list[Any] = []
    charging(engine, calls)
    app = create_app(engine, worker=True)
    async with app.router.lifespan_context(app):
        key = (await engine.keys.create("acme", "admin")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plait.test") as client:
            yield (client, bearer(key)), calls


async def instance_at(client: httpx.AsyncClient, headers: dict[str, str], url: str,
                      state: str, taken: int) -> dict[str, Any]:  # fmt: skip
    shown: dict[str, Any] = {}

    async def reached() -> bool:
        shown.update((await client.get(url, headers=headers)).json())
        at_rest = shown.get("status") in ("waiting", "succeeded", "failed", "cancelled")
        return shown.get("state") == state and len(shown.get("history", [])) == taken and at_rest

    await assert_eventually(reached, timeout=20)
    return shown


async def test_the_brief_machine_is_422_only_for_returning(api: tuple[Api, list[Any]]) -> None:
    (client, headers), _ = api
    answer = await client.post("/~acme/workflows", json=brief_003(), headers=headers)
    assert answer.status_code == 422, answer.text
    assert [(e["path"], e["message"]) for e in answer.json()["errors"]] == [
        ("$.body.states.shipped.on.RETURN_REQUESTED",
         "unknown target state 'returning' (did you mean 'pending'?)"),
    ]  # fmt: skip


async def test_instances_by_key_retry_and_a_failed_outcome(api: tuple[Api, list[Any]]) -> None:
    (client, headers), calls = api
    created = await client.post("/~acme/workflows", headers=headers,
                                json=order_003(processing_payment=CHARGE))  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == []
    workflow = created.json()["$id"]
    activated = await client.post(f"/~acme/workflows/{workflow}/activate", headers=headers)
    assert activated.status_code == 200, activated.text

    on_bus = await client.post("/~acme/events", headers=headers,
                               json={"type": "VALIDATE", "data": {"orderId": "o-1"}})  # fmt: skip
    assert on_bus.status_code in (200, 201, 202), on_bus.text
    assert on_bus.json()["runs"] == []  # no correlation: bus events reach no instance

    url = f"/~acme/workflows/{workflow}/instances/o-1"
    for event in ("VALIDATE", "VALIDATION_SUCCESS", "PROCESS_PAYMENT", "PAYMENT_FAILED"):
        sent = await client.post(f"{url}/events", headers=headers,
                                 json={"type": event, "data": {"orderId": "o-1"}})  # fmt: skip
        assert sent.status_code == 202, sent.text
    retried = await instance_at(client, headers, url, "processing-payment", 4)
    assert retried["attempt"] == 2 and retried["outcome"] is None and len(calls) == 2
    assert retried["history"][-1]["attempt"] == 2
    for _ in range(2):
        await client.post(f"{url}/events", headers=headers, json={"type": "PAYMENT_FAILED"})
    ended = await instance_at(client, headers, url, "payment-failed", 6)
    assert (ended["status"], ended["outcome"]) == ("failed", "failed")
    assert ended["error"]["type"] == "plait.MachineFailed" and len(calls) == 3
    run = (await client.get(f"/~acme/runs/{ended['runId']}", headers=headers)).json()
    assert (run["status"], run["outcome"], run["success"]) == ("failed", "failed", False)
    counted = (await client.get(f"/~acme/workflows/{workflow}", headers=headers)).json()
    assert (counted["runCount"], counted["successCount"], counted["failureCount"]) == (1, 0, 1)
    listed = (await client.get(f"/~acme/workflows/{workflow}/instances", headers=headers)).json()
    assert [(i["key"], i["outcome"]) for i in listed["items"]] == [("o-1", "failed")]
    late = await client.post(f"{url}/events", headers=headers, json={"type": "PAYMENT_SUCCESS"})
    assert late.status_code == 409 and "has ended" in late.json()["detail"]
