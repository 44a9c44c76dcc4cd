"""Break 2 of issue 10: one CEL filter froze every request of every organization. An expression
too costly whatever the data is refused when saved (422 naming ``max_expression_cost`` and its
JSON path); one made too costly by an event is stopped before it runs, while the requests of
another organization go on answering."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.errors import PlaitError
from tests.api.conftest import WELCOME, Keys, bearer
from tests.unit.test_expression_cost import FOUR_MAPS, PAIRS

FAST = 1.0
"""Seconds within which another organization's request must answer."""


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> Any:
    return await client.post("/~acme/workflows", headers=headers, json={**WELCOME, **fields})


def names_the_limit(text: str) -> bool:
    return "max_expression_cost" in text and "the limit is 1,000,000" in text


async def test_the_reported_filter_is_refused_when_saved(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    started = time.perf_counter()
    response = await create(client, admin, filter=FOUR_MAPS)
    assert time.perf_counter() - started < 5 * FAST
    assert response.status_code == 422, response.text
    problems = response.json()["errors"]
    assert [p["path"] for p in problems] == ["$.body.filter"]
    assert names_the_limit(problems[0]["message"])
    listed = await client.get("/~acme/workflows", headers=admin)
    assert listed.json()["items"] == []  # nothing was stored


async def test_trigger_options_that_do_not_compile_are_refused_when_saved(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Each event evaluates them in the transaction that stores it: a broken one is refused
    when saved rather than failing every event of its type."""
    response = await create(client, admin, filter="customer.name ==",
                            debounce={"key": PAIRS, "delay": 5})  # fmt: skip
    assert response.status_code == 422, response.text
    problems = {p["path"]: p["message"] for p in response.json()["errors"]}
    assert "does not compile" in problems["$.body.filter"]
    assert "$.body.debounce.key" not in problems  # its cost depends on the event: accepted


async def test_a_costly_step_mapping_is_refused_with_its_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    step = {"action": "Activity.create", "mapping": {"subject": FOUR_MAPS.replace(" > 0", "")}}
    response = await create(client, admin, steps=[step])
    assert response.status_code == 422, response.text
    problems = response.json()["errors"]
    assert [p["path"] for p in problems] == ["$.body.steps[0].mapping.subject"]
    assert names_the_limit(problems[0]["message"])


async def test_an_event_too_costly_for_the_filter_starts_nothing_and_others_answer(
    client: httpx.AsyncClient, admin: dict[str, str], keys: Keys
) -> None:
    created = await create(client, admin, filter=PAIRS)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=admin)  # fmt: skip
    assert activated.status_code == 200, activated.text
    small = {"type": "Customer.created", "data": {"items": [1, 2, 3]}}
    assert len((await client.post("/~acme/events", headers=admin, json=small)).json()["runs"]) == 1

    globex = bearer(keys["globex"]["viewer"])

    async def timed(request: Any) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        response = await request
        return response, time.perf_counter() - started

    large = {"type": "Customer.created", "data": {"items": list(range(5000))}}
    emitted, health, listing = await asyncio.gather(
        timed(client.post("/~acme/events", headers=admin, json=large)),
        timed(client.get("/healthz")),
        timed(client.get("/~globex/workflows", headers=globex)),
    )
    assert emitted[0].status_code == 202 and emitted[0].json()["runs"] == []  # filter stopped
    assert health[0].status_code == 200 and health[1] < FAST
    assert listing[0].status_code == 200 and listing[1] < FAST
    assert emitted[1] < FAST
    stored = await client.get(f"/~acme/events/{emitted[0].json()['$id']}", headers=admin)
    assert len(stored.json()["data"]["items"]) == 5000  # the event itself is kept


async def test_a_step_too_costly_for_its_run_fails_naming_the_limit(engine: Engine) -> None:
    @engine.action("count")
    async def count(value: Any) -> Any:
        return value

    workflow = engine.define({"name": "pairs", "dialect": "canonical", "steps": [
        {"kind": "action", "id": "pairs", "action": "count",
         "input": "{{ input.items.map(a, input.items.map(b, a * b)).size() }}"},
    ]})  # fmt: skip
    async with engine:
        small = await engine.start(workflow, {"items": [1, 2, 3]})
        assert await small.result(timeout=30) == {"pairs": 3}
        large = await engine.start(workflow, {"items": list(range(5000))})
        with pytest.raises(PlaitError) as failed:
            await large.result(timeout=30)
    assert names_the_limit(str(failed.value)), str(failed.value)
    assert "pairs" in str(failed.value)


async def test_the_engine_setting_is_the_limit_in_force(engine: Engine) -> None:
    strict = engine.reconfigured(max_expression_cost=1_000)
    try:
        with pytest.raises(PlaitError) as refused:
            strict.define({"name": "dear", "dialect": "canonical", "steps": [
                {"kind": "action", "id": "a", "action": "count",
                 "input": "{{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(a, [1, 2, 3, 4, 5, 6, 7, 8, 9,"
                          " 10].map(b, a * b)) }}"},
            ]})  # fmt: skip
        assert "the limit is 1,000 " in str(refused.value)
        assert "max_expression_cost" in str(refused.value)
    finally:
        await strict.close()
