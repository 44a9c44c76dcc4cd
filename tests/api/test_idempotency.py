"""Idempotent requests over the REST API: an ``Idempotency-Key`` header on a trigger, an emit
and the run operations makes a repeat answer the first request's result and do nothing again;
the same key with another request is a 422; concurrent repeats act once; keys expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.api import create_app
from plait.resources.workflows import StoredWorkflow
from plait.testing import VirtualClock
from tests.api.conftest import WELCOME, Keys, bearer
from tests.api.test_run_operations import failed_run, until


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def activated(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    """The id of an Activated WELCOME workflow (triggered by ``Customer.created``)."""
    created = (await client.post("/~acme/workflows", headers=admin, json=WELCOME)).json()
    await client.post(f"/~acme/workflows/{created['$id']}/activate", headers=admin)
    return str(created["$id"])


async def run_ids(client: httpx.AsyncClient, admin: dict[str, str]) -> list[str]:
    page = (await client.get("/~acme/runs", headers=admin)).json()
    return [run["$id"] for run in page["items"]]


async def test_a_repeated_trigger_answers_the_first_run_and_starts_no_other(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    url, body = f"/~acme/workflows/{workflow}/trigger", {"input": {"name": "Ann"}}
    first = await client.post(url, headers=keyed(admin, "order-1"), json=body)
    again = await client.post(url, headers=keyed(admin, "order-1"), json=body)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()  # no worker here: the run is still pending
    assert again.headers["location"] == first.headers["location"]
    assert await run_ids(client, admin) == [first.json()["$id"]]
    other = await client.post(url, headers=keyed(admin, "order-2"), json=body)
    assert other.status_code == 202 and other.json()["$id"] != first.json()["$id"]
    assert len(await run_ids(client, admin)) == 2


async def test_a_key_reused_for_another_request_is_a_422_that_changes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    url = f"/~acme/workflows/{workflow}/trigger"
    first = await client.post(url, headers=keyed(admin, "k-1"), json={"input": {"name": "Ann"}})
    other_body = await client.post(url, headers=keyed(admin, "k-1"),
                                   json={"input": {"name": "Bob"}})  # fmt: skip
    other_verb = await client.post("/~acme/events", headers=keyed(admin, "k-1"),
                                   json={"type": "Customer.created"})  # fmt: skip

    for refused in (other_body, other_verb):
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"] == "urn:plait:problem:idempotency-key-reused"
        assert problem["detail"].startswith(
            f"idempotency key 'k-1' was first used for another request (workflows.trigger "
            f"{workflow}, or the same with other arguments)"
        )
        assert "PLAIT_IDEMPOTENCY_SECONDS" in problem["detail"]
        assert problem["errors"][0]["path"] == '$.headers["Idempotency-Key"]'
    assert await run_ids(client, admin) == [first.json()["$id"]]
    events = (await client.get("/~acme/events", headers=admin)).json()["items"]
    assert [e["type"] for e in events if e["type"] == "Customer.created"] == []


async def test_keys_belong_to_an_organization(
    client: httpx.AsyncClient, keys: Keys, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    globex = bearer(keys["globex"]["admin"])
    other = (await client.post("/~globex/workflows", headers=globex, json=WELCOME)).json()
    await client.post(f"/~globex/workflows/{other['$id']}/activate", headers=globex)
    ours = await client.post(f"/~acme/workflows/{workflow}/trigger", headers=keyed(admin, "k"))
    theirs = await client.post(f"/~globex/workflows/{other['$id']}/trigger",
                               headers=keyed(globex, "k"))  # fmt: skip
    assert ours.status_code == theirs.status_code == 202
    assert ours.json()["$id"] != theirs.json()["$id"]


async def test_an_invalid_key_is_a_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    workflow = await activated(client, admin)
    long = await client.post(f"/~acme/workflows/{workflow}/trigger",
                             headers=keyed(admin, "k" * 256))  # fmt: skip
    assert long.status_code == 422
    assert long.json()["errors"][0]["path"] == '$.headers["Idempotency-Key"]'
    assert await run_ids(client, admin) == []


async def test_concurrent_repeats_on_two_servers_start_one_run(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    second = Engine(engine.settings.database_url)  # another process's engine, same database
    app = create_app(second)
    try:
        async with app.router.lifespan_context(app), _client(app) as other:
            url, body = f"/~acme/workflows/{workflow}/trigger", {"input": {"name": "Ann"}}
            answers = await asyncio.gather(*(
                c.post(url, headers=keyed(admin, "pair"), json=body)
                for c in (client, other, client, other)
            ))  # fmt: skip
    finally:
        await second.close()
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["$id"] for a in answers}) == 1
    assert await run_ids(client, admin) == [answers[0].json()["$id"]]


async def test_a_repeat_while_the_first_request_acts_waits_for_its_run(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    entered, gate = asyncio.Event(), asyncio.Event()

    @engine.workflows.before("trigger")
    async def slow(resource: StoredWorkflow) -> None:
        entered.set()
        await gate.wait()

    url = f"/~acme/workflows/{workflow}/trigger"
    first = asyncio.create_task(client.post(url, headers=keyed(admin, "slow")))
    await entered.wait()  # the first request holds the key and has not started its run
    repeat = asyncio.create_task(client.post(url, headers=keyed(admin, "slow")))
    gate.set()
    answers = await asyncio.gather(first, repeat)
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json()["$id"] == answers[1].json()["$id"]
    assert len(await run_ids(client, admin)) == 1


async def test_a_refused_first_request_leaves_the_key_free_for_its_repeat(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = await activated(client, admin)
    await client.post(f"/~acme/workflows/{workflow}/pause", headers=admin)
    url = f"/~acme/workflows/{workflow}/trigger"
    refused = await client.post(url, headers=keyed(admin, "retry-me"))
    assert refused.status_code == 409 and await run_ids(client, admin) == []
    await client.post(f"/~acme/workflows/{workflow}/activate", headers=admin)
    done = await client.post(url, headers=keyed(admin, "retry-me"))
    assert done.status_code == 202 and await run_ids(client, admin) == [done.json()["$id"]]


# -- events -------------------------------------------------------------------------------------


async def test_a_duplicate_event_answers_the_runs_the_first_started(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await activated(client, admin)
    event = {"type": "Customer.created", "id": "event_crm42", "data": {"name": "Ann"}}
    first = await client.post("/~acme/events", headers=admin, json=event)
    again = await client.post("/~acme/events", headers=admin, json=event)

    assert first.status_code == again.status_code == 202
    [run] = first.json()["runs"]
    assert first.json()["duplicate"] is False
    assert again.json()["duplicate"] is True and again.json()["runs"] == [run]
    assert await run_ids(client, admin) == [run]
    nothing = {"type": "Nobody.listens", "id": "event_quiet"}
    for _ in range(2):
        answer = await client.post("/~acme/events", headers=admin, json=nothing)
        assert answer.json()["runs"] == []


async def test_a_repeated_emit_with_a_key_answers_the_first_answer(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await activated(client, admin)
    event = {"type": "Customer.created", "data": {"name": "Ann"}}  # no id: each emit is new
    first = await client.post("/~acme/events", headers=keyed(admin, "emit-1"), json=event)
    again = await client.post("/~acme/events", headers=keyed(admin, "emit-1"), json=event)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and len(first.json()["runs"]) == 1
    stored = await client.get("/~acme/events", headers=admin, params={"type": "Customer.created"})
    assert [e["$id"] for e in stored.json()["items"]] == [first.json()["$id"]]
    assert await run_ids(client, admin) == first.json()["runs"]


# -- run operations -----------------------------------------------------------------------------


async def test_repeated_run_operations_act_once(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    calls: list[str] = []
    run_id = await failed_run(client, engine, admin, {"bill"}, calls)
    ops = f"/~acme/runs/{run_id}"

    retried = [await client.post(f"{ops}/retry", headers=keyed(admin, "retry")) for _ in "ab"]
    forked = [await client.post(f"{ops}/fork", headers=keyed(admin, "fork"),
                                json={"step": "bill"}) for _ in "ab"]  # fmt: skip
    for first, again in (retried, forked):
        assert first.status_code == again.status_code == 201
        assert again.json()["$id"] == first.json()["$id"] != run_id
    assert len(await run_ids(client, admin)) == 3  # the run, one retry, one fork
    for answers in (retried, forked):
        await until(client, admin, answers[0].json()["$id"], "failed")
    again = await client.post(f"{ops}/retry", headers=keyed(admin, "retry"))
    assert again.status_code == 201 and again.json()["status"] == "failed"  # as it is now

    resumed = [await client.post(f"{ops}/resume", headers=keyed(admin, "resume")) for _ in "ab"]
    assert [r.status_code for r in resumed] == [202, 202]  # unkeyed, the second is a 409
    await until(client, admin, run_id, "failed")
    history = (await client.get(ops, headers=admin)).json()["history"]
    assert [entry["action"] for entry in history].count("resume") == 1


async def test_a_repeated_signal_is_sent_once(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    from tests.api.test_tasks import start_sign_off

    run_id, _ = await start_sign_off(client, engine, admin, "ann")
    url = f"/~acme/runs/{run_id}/signals/nudge"
    sent = [await client.post(url, headers=keyed(admin, "nudge"), json={"n": 1}) for _ in "ab"]
    assert [s.status_code for s in sent] == [202, 202] and sent[0].json() == sent[1].json()
    third = await client.post(url, headers=admin, json={"n": 1})
    assert third.json()["seq"] == sent[0].json()["seq"] + 1  # the repeat queued nothing
    cancelled = [await client.post(f"/~acme/runs/{run_id}/cancel", headers=keyed(admin, "stop"),
                                   json={"reason": "done"}) for _ in "ab"]  # fmt: skip
    assert [c.json()["status"] for c in cancelled] == ["cancelled", "cancelled"]
    history = cancelled[1].json()["history"]
    assert [entry["action"] for entry in history] == ["cancel"]


# -- expiry -------------------------------------------------------------------------------------


@pytest.fixture
async def clocked(engine: Engine) -> AsyncIterator[tuple[httpx.AsyncClient, VirtualClock]]:
    """A client of an app on virtual time whose keys are kept for 60 s."""
    clock = VirtualClock(start=1_800_000_000.0)
    timed = engine.reconfigured(clock=clock, idempotency_seconds=60)
    app = create_app(timed)
    try:
        async with app.router.lifespan_context(app), _client(app) as client:
            yield client, clock
    finally:
        await timed.close()


async def test_a_key_expires_after_idempotency_seconds(
    clocked: tuple[httpx.AsyncClient, VirtualClock], admin: dict[str, str]
) -> None:
    client, clock = clocked
    workflow = await activated(client, admin)
    url = f"/~acme/workflows/{workflow}/trigger"
    first = await client.post(url, headers=keyed(admin, "k"), json={"input": {"name": "Ann"}})
    await clock.advance(59)
    repeat = await client.post(url, headers=keyed(admin, "k"), json={"input": {"name": "Ann"}})
    assert repeat.json()["$id"] == first.json()["$id"]
    refused = await client.post(url, headers=keyed(admin, "k"), json={"input": {"name": "Bob"}})
    assert refused.status_code == 422 and "for 60 s after its first use" in refused.json()["detail"]

    await clock.advance(1)
    reused = await client.post(url, headers=keyed(admin, "k"), json={"input": {"name": "Bob"}})
    assert reused.status_code == 202 and reused.json()["$id"] != first.json()["$id"]
    assert len(await run_ids(client, admin)) == 2


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plait.test")
