"""State machines over the REST API (both backends): sending events to instances, reading an
instance and its run while it waits, and the 4xx answers that change nothing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from plait import Engine
from plait.api import create_app
from plait.testing import assert_eventually
from tests.api.conftest import bearer
from tests.integration.test_state_machine import ITEMS, order_machine, with_actions

MakeEngine = Callable[..., Engine]
BASE = "/~acme/workflows/order-state-machine/instances"


@pytest.fixture
async def api(make_engine: MakeEngine) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    engine = make_engine()
    with_actions(engine, [])
    app = create_app(engine, worker=True)
    async with app.router.lifespan_context(app):
        key = (await engine.keys.create("acme", "admin")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plait.test") as client:
            yield client, bearer(key)


async def create_machine(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    created = await client.post("/~acme/workflows", json=order_machine(), headers=headers)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=headers)  # fmt: skip
    assert activated.status_code == 200, activated.text
    body: dict[str, Any] = created.json()
    return body


async def test_send_events_and_read_the_instance_while_it_waits(
    api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = api
    await create_machine(client, headers)
    sent = await client.post(f"{BASE}/o-1/events", headers=headers, json={
        "type": "Order.submitted", "data": {"orderId": "o-1", "items": ITEMS}, "id": "evt-1",
    })  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert sent.json()["outcome"] == "created"
    run_id = sent.json()["runId"]
    again = await client.post(f"{BASE}/o-1/events", headers=headers, json={
        "type": "Order.submitted", "data": {"orderId": "o-1", "items": ITEMS}, "id": "evt-1",
    })  # fmt: skip
    assert again.status_code == 202 and again.json()["outcome"] == "duplicate"
    paid = await client.post(f"{BASE}/o-1/events", headers=headers,
                             json={"type": "pay", "data": {"amount": 12}})  # fmt: skip
    assert paid.status_code == 202 and paid.json()["outcome"] == "delivered"

    async def processing() -> bool:
        run = (await client.get(f"/~acme/runs/{run_id}", headers=headers)).json()
        return bool(run["status"] == "waiting" and run["machine"]["state"] == "processing")

    await assert_eventually(processing)
    run = (await client.get(f"/~acme/runs/{run_id}", headers=headers)).json()
    assert [(h["from"], h["to"], h["event"]) for h in run["machine"]["history"]] == [
        ("draft", "pending", "submit"), ("pending", "processing", "pay")
    ]  # fmt: skip
    assert run["machine"]["history"][0]["eventId"] == "evt-1"
    assert run["machine"]["context"]["paymentId"] == "pay-o-1"
    instance = (await client.get(f"{BASE}/o-1", headers=headers)).json()
    assert instance["state"] == "processing" and instance["runId"] == run_id
    assert instance["received"] == 2 and instance["rejected"] == []
    listed = (await client.get(BASE, headers=headers)).json()
    assert [(i["key"], i["runId"]) for i in listed["items"]] == [("o-1", run_id)]
    assert listed["nextCursor"] is None


async def test_unknown_instances_and_wrong_workflows_are_4xx(
    api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = api
    await create_machine(client, headers)
    unknown = await client.post(f"{BASE}/o-9/events", headers=headers,
                                json={"type": "Order.paid", "data": {"amount": 1}})  # fmt: skip
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert "no instance 'o-9' of state machine 'order-state-machine'" in unknown.json()["detail"]
    assert (await client.get(f"{BASE}/o-9", headers=headers)).status_code == 404
    assert (await client.get(BASE, headers=headers)).json() == {"items": [], "nextCursor": None}
    runs = (await client.get("/~acme/runs", headers=headers)).json()
    assert runs["items"] == []

    missing = await client.post("/~acme/workflows/nope/instances/o-1/events", headers=headers,
                                json={"type": "submit"})  # fmt: skip
    assert missing.status_code == 404
    plain = await client.post("/~acme/workflows", headers=headers, json={
        "name": "plain", "triggerEvent": "X.y", "steps": [{"action": "log", "mapping": {
            "message": "'hi'"}}]})  # fmt: skip
    assert plain.status_code == 201, plain.text
    not_machine = await client.post("/~acme/workflows/plain/instances/o-1/events",
                                    headers=headers, json={"type": "submit"})  # fmt: skip
    assert not_machine.status_code == 409
    assert "is not a state machine" in not_machine.json()["detail"]
    bad = await client.post(f"{BASE}/o-1/events", headers=headers, json={"data": {}})
    assert bad.status_code == 422
    by_hand = await client.post("/~acme/workflows/order-state-machine/trigger", headers=headers,
                                json={})  # fmt: skip
    assert by_hand.status_code == 422 and "not triggered by hand" in by_hand.text


def forged_cursor(key: list[Any]) -> str:
    raw = orjson.dumps({"l": "instances", "k": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_instances_page_by_keyset_and_refuse_a_forged_cursor(
    api: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, headers = api
    await create_machine(client, headers)
    keys = [f"o-{n}" for n in range(5)]
    for key in keys:
        sent = await client.post(f"{BASE}/{key}/events", headers=headers, json={
            "type": "Order.submitted", "data": {"orderId": key, "items": ITEMS}})  # fmt: skip
        assert sent.status_code == 202, sent.text
    listed: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await client.get(BASE, headers=headers, params=params)
        assert page.status_code == 200, page.text
        listed += [item["key"] for item in page.json()["items"]]
        if page.json()["nextCursor"] is None:
            break
        params["cursor"] = page.json()["nextCursor"]
    assert listed == keys
    for key in ([9223372036854775807], ["x", 1], [1.0, 2]):  # InvalidQuery, as every listing
        forged = await client.get(BASE, headers=headers, params={"cursor": forged_cursor(key)})
        assert forged.status_code == 400, (key, forged.text)
        assert "cursor" in forged.json()["detail"]
    for key in ([1e308, ""], [9223372036854775807, "o-1"]):  # past the last instance
        beyond = await client.get(BASE, headers=headers, params={"cursor": forged_cursor(key)})
        assert beyond.status_code == 200, beyond.text
        assert beyond.json() == {"items": [], "nextCursor": None}


def broken(**changes: Any) -> dict[str, Any]:
    document = order_machine()
    for path, value in changes.items():
        target = document
        *parents, last = path.split("/")
        for part in parents:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (broken(**{"states/draft/on/submit/target": "pendin"}),
         "$.states.draft.on.submit.target", "unknown target state 'pendin' (did you mean "
         "'pending'?)"),
        (broken(**{"states/failed/on/retry": "limbo"}),
         "$.states.failed.on.retry", "unknown target state 'limbo'"),
        (broken(**{"states/orphan": {"on": {"poke": "draft"}}}),
         "$.states.orphan", "state 'orphan' is unreachable from the initial state 'draft'"),
        (broken(**{"states/draft/on/submit/guard": "size(event.data.items >"}),
         "$.states.draft.on.submit.guard", "does not compile"),
        (broken(**{"states/draft/on/submit/guard": "order.items.length > 0"}),
         "$.states.draft.on.submit.guard", "unknown name 'order'"),
        (broken(initial=None), "$.initial", "required key 'initial' is missing"),
        (broken(initial="drafts"), "$.initial", "unknown state 'drafts' (did you mean 'draft'?)"),
        (broken(**{"states/pending/outcome": "failed"}), "$.states.pending.outcome",
         "state 'pending' is not terminal, so its outcome is never reached"),
        (broken(**{"states/cancelled/outcome": "lost"}), "$.states.cancelled.outcome",
         "'succeeded', 'failed' or 'cancelled'"),
        (broken(**{"states/pending/timeoutTransition": None}),
         "$.states.pending.timeout", "has a timeout but no 'timeoutTransition'"),
    ],
)  # fmt: skip
async def test_invalid_machines_are_422_with_json_paths(
    api: tuple[httpx.AsyncClient, dict[str, str]], document: dict[str, Any], path: str,
    message: str,
) -> None:  # fmt: skip
    client, headers = api
    answer = await client.post("/~acme/workflows", json=document, headers=headers)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    where = "$.body" + path[1:]  # the API reports paths inside the request body
    assert any(e["path"] == where and message in e["message"] for e in errors), errors
    assert (await client.get("/~acme/workflows", headers=headers)).json()["items"] == []
