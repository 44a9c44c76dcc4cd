"""Filtering, searching and paging runs (`GET /~{org}/runs`, `engine.runs.find`), and bulk
operations on them (`POST /~{org}/runs/bulk`, `engine.runs.bulk`): each filter finds exactly
its runs, paging reaches every run once, bad filters are a 422, and a bulk operation says what
it did to each run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait import Context, Engine
from plait.errors import InvalidParameter, LimitExceeded
from plait.service.run_filters import RunFilters
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer

BILL: dict[str, Any] = {
    "name": "Bill customer",
    "triggerEvent": "Invoice.due",
    "steps": [{"id": "bill", "action": "bill", "mapping": {"fail": "input.fail"}}],
}
SHIP: dict[str, Any] = {
    "name": "Ship order",
    "triggerEvent": "Order.paid",
    "steps": [{"id": "ship", "action": "bill", "mapping": {"fail": "input.fail"}}],
}


@dataclass
class Seeded:
    """Runs of acme: ``ann`` and ``cy`` succeeded, ``bob`` and ``dee`` failed (Bill customer,
    started by hand), ``ship`` (Ship order), ``evented`` (started by the event ``event``)."""

    ids: dict[str, str] = field(default_factory=dict)
    event: str = ""
    broken: set[str] = field(default_factory=set)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


async def seed(engine: Engine) -> Seeded:
    """The runs of :class:`Seeded`, ended, created in the order ann, bob, cy, dee, ship,
    evented."""
    seeded = Seeded(broken={"yes"})

    @engine.action("bill")
    async def bill(data: dict[str, Any]) -> str:
        if data["fail"] and "yes" in seeded.broken:
            raise RuntimeError("the card was declined")
        return "billed"

    await engine.start_worker()
    billing = await engine.workflows.create("acme", BILL)
    await engine.workflows.activate("acme", billing.id)
    shipping = await engine.workflows.create("acme", SHIP)
    await engine.workflows.activate("acme", shipping.id)
    people = {"ann": False, "bob": True, "cy": False, "dee": True}
    for name, fail in people.items():
        given = {"customer": {"email": f"{name}@example.com", "tier": len(name)}, "fail": fail}
        seeded.ids[name] = (await engine.workflows.trigger("acme", billing.id, given)).id
    seeded.ids["ship"] = (await engine.workflows.trigger("acme", shipping.id, {"fail": False})).id
    emitted = await engine.events.emit("acme", "Invoice.due", {"fail": False}, id="invoice-77")
    [seeded.ids["evented"]] = emitted.runs
    seeded.event = emitted.id

    async def ended() -> bool:
        page = await engine.runs.find("acme", limit=1000)
        return len(page.items) == 6 and all(run.done for run in page.items)

    await assert_eventually(ended)
    return seeded


async def found(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    got = await client.get("/~acme/runs", headers=headers, params=params)
    assert got.status_code == 200, got.text
    return [run["$id"] for run in got.json()["items"]]


async def test_each_filter_and_search_finds_exactly_its_runs(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    s = await seed(engine)
    viewer = admin
    assert await found(client, viewer, status="failed") == [s["dee"], s["bob"]]
    assert await found(client, viewer, outcome="failed") == [s["dee"], s["bob"]]
    assert await found(client, viewer, outcome="succeeded", workflow="Bill customer") == [
        s["evented"], s["cy"], s["ann"]]  # fmt: skip
    assert await found(client, viewer, workflow="Ship order") == [s["ship"]]
    assert await found(client, viewer, workflow="Bill customer", status="failed") == [
        s["dee"], s["bob"]]  # fmt: skip
    assert await found(client, viewer, trigger="event") == [s["evented"]]
    assert await found(client, viewer, trigger="manual", status="succeeded") == [
        s["ship"], s["cy"], s["ann"]]  # fmt: skip
    assert await found(client, viewer, trigger="schedule") == []
    assert await found(client, viewer, status="failed", outcome="succeeded") == []
    # search: an input field (text, or JSON), a run id or its prefix, an event id
    assert await found(client, viewer, search="input.customer.email=cy@example.com") == [s["cy"]]
    assert await found(client, viewer, search="input.customer.tier=3") == [
        s["dee"], s["bob"], s["ann"]]  # fmt: skip
    assert await found(client, viewer, search='input.customer.tier="3"') == []
    assert await found(client, viewer, search="input.fail=true", status="failed") == [
        s["dee"], s["bob"]]  # fmt: skip
    assert await found(client, viewer, search=s["bob"]) == [s["bob"]]
    assert s["bob"] in await found(client, viewer, search=s["bob"][:6])
    assert await found(client, viewer, search=f"run:{s['dee']}") == [s["dee"]]
    assert await found(client, viewer, search=s.event) == [s["evented"]]
    assert await found(client, viewer, search=f"event:{s.event}", status="failed") == []
    assert await found(client, viewer, search="no-such-event") == []
    # time range: createdAfter inclusive, createdBefore exclusive
    cy_at = (await client.get(f"/~acme/runs/{s['cy']}", headers=viewer)).json()["createdAt"]
    assert s["cy"] in await found(client, viewer, createdAfter=cy_at)
    assert s["cy"] not in await found(client, viewer, createdBefore=cy_at)
    assert s["bob"] in await found(client, viewer, createdBefore=cy_at)
    later = await found(client, viewer, createdAfter=cy_at, createdBefore="2999-01-01T00:00:00Z")
    assert s["cy"] in later and s["ann"] not in later
    # the service answers the same, and another organization sees none of it
    page = await engine.runs.find("acme", status="succeeded", search="input.customer.tier=3")
    assert [r.id for r in page.items] == [s["ann"]]
    assert (await engine.runs.find("globex", search=s["bob"])).items == []


async def test_paging_reaches_every_run_once(
    client: httpx.AsyncClient, engine: Engine, admin: dict[str, str]
) -> None:
    s = await seed(engine)
    filters: list[dict[str, str]] = [{}, {"workflow": "Bill customer"}, {"trigger": "manual"}]
    for params in filters:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
            got = (await client.get("/~acme/runs", headers=admin, params=query)).json()
            seen += [run["$id"] for run in got["items"]]
            cursor = got["nextCursor"]
            if cursor is None:
                break
        expected = await found(client, admin, **params)
        assert seen == expected and len(set(seen)) == len(seen), params
    assert len(await found(client, admin)) == len(s.ids)


async def test_a_bounded_scan_pages_on_to_every_match(tmp_path: Path) -> None:
    """With ``run_search_scan`` 2, a trigger filter reads two runs per page: short pages with
    a cursor, and every match once in the end."""
    engine = Engine(f"sqlite:///{tmp_path / 'scan.db'}", run_search_scan=2)
    try:
        s = await seed(engine)
        seen: list[str] = []
        cursor: str | None = None
        reads = 0
        while True:
            page = await engine.runs.find("acme", trigger="manual", limit=100, cursor=cursor)
            seen += [run.id for run in page.items]
            reads += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        manual = [s[name] for name in ("ship", "dee", "cy", "bob", "ann")]
        assert seen == manual and reads >= 3
    finally:
        await engine.close()


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"outcome": "meh"}, {"trigger": "cron"}, {"createdAfter": "yesterday"},
     {"limit": 0}, {"colour": "red"}, {"search": "input.a..b=1"}, {"search": ""},
     {"createdAfter": "2026-01-02T00:00:00Z", "createdBefore": "2026-01-01T00:00:00Z"}],
)  # fmt: skip
async def test_bad_filters_are_refused_with_422(
    client: httpx.AsyncClient, admin: dict[str, str], params: dict[str, Any]
) -> None:
    got = await client.get("/~acme/runs", headers=admin, params=params)
    assert got.status_code == 422, got.text


async def test_bulk_retry_of_failed_runs_runs_them_again(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    s = await seed(engine)
    s.broken.clear()  # the card works now
    runner = bearer(keys["acme"]["runner"])
    body = {"action": "retry", "filter": {"status": "failed"}, "reason": "cards work again"}
    done = await client.post("/~acme/runs/bulk", headers=runner, json=body)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["done"] == 2 and result["skipped"] == 0 and result["notFound"] == 0
    assert [r["runId"] for r in result["results"]] == [s["dee"], s["bob"]]
    new = [r["newRunId"] for r in result["results"]]

    async def succeeded() -> bool:
        runs = [await engine.runs.get("acme", run_id) for run_id in new]
        return all(run.status == "succeeded" for run in runs)

    await assert_eventually(succeeded)
    retried = await engine.runs.get("acme", new[0])
    assert retried.trigger == "retry" and retried.input["customer"]["email"] == "dee@example.com"
    history = (await engine.runs.get("acme", s["dee"])).history
    assert history[-1].action == "retry" and history[-1].reason == "cards work again"


async def test_bulk_cancel_skips_finished_runs_with_the_reason(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    s = await seed(engine)
    gate = asyncio.Event()

    @engine.action("hold")
    async def hold(data: dict[str, Any]) -> str:
        await gate.wait()
        return "held"

    held = await engine.workflows.create("acme", {"name": "Hold", "triggerEvent": "X.y", "steps": [
        {"id": "hold", "action": "hold", "mapping": {}}]})  # fmt: skip
    await engine.workflows.activate("acme", held.id)
    live = (await engine.workflows.trigger("acme", held.id, {})).id
    runner = bearer(keys["acme"]["runner"])
    body = {"action": "cancel", "ids": [s["ann"], live, "run_missing", s["bob"]]}
    done = (await client.post("/~acme/runs/bulk", headers=runner, json=body)).json()
    results = {r["runId"]: r for r in done["results"]}
    assert results[live]["result"] == "done" and results[live]["status"] == "cancelled"
    assert results[s["ann"]] == {"runId": s["ann"], "result": "skipped",
                                 "reason": "already succeeded", "status": "succeeded",
                                 "newRunId": None}  # fmt: skip
    assert results[s["bob"]]["reason"] == "already failed"
    assert results["run_missing"]["result"] == "not-found"
    assert (done["done"], done["skipped"], done["notFound"]) == (1, 2, 1)
    assert (await engine.runs.get("acme", s["ann"])).status == "succeeded"
    gate.set()
    # resume takes only failed runs
    resumed = await engine.runs.bulk("acme", "resume", ids=[s["ann"]])
    assert resumed.results[0].reason == "succeeded: only a failed run can be resumed"


async def test_bulk_refusals(
    client: httpx.AsyncClient, engine: Engine, keys: Keys, admin: dict[str, str]
) -> None:
    s = await seed(engine)
    viewer = bearer(keys["acme"]["viewer"])
    body = {"action": "cancel", "ids": [s["ann"]]}
    assert (await client.post("/~acme/runs/bulk", headers=viewer, json=body)).status_code == 403
    for bad in ({"action": "explode", "ids": [s["ann"]]}, {"action": "cancel"},
                {"action": "cancel", "ids": []},
                {"action": "cancel", "ids": [s["ann"]], "filter": {"status": "failed"}},
                {"action": "retry", "filter": {"status": "lost"}}):  # fmt: skip
        got = await client.post("/~acme/runs/bulk", headers=admin, json=bad)
        assert got.status_code == 422, (bad, got.text)
    with pytest.raises(InvalidParameter):
        await engine.runs.bulk("acme", "cancel", where=RunFilters(), ids=[s["ann"]])


async def test_bulk_refuses_more_runs_than_bulk_max_runs(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'cap.db'}", bulk_max_runs=3)
    try:
        s = await seed(engine)
        with pytest.raises(LimitExceeded, match="bulk_max_runs"):
            await engine.runs.bulk("acme", "retry", where=RunFilters(trigger="manual"))
        with pytest.raises(LimitExceeded, match="bulk_max_runs"):
            await engine.runs.bulk("acme", "cancel", ids=[s[n] for n in ("ann", "bob", "cy",
                                                                          "dee")])  # fmt: skip
        assert all(not r.history for r in (await engine.runs.find("acme")).items)
        with pytest.raises(InvalidParameter, match="colour"):
            await engine.runs.bulk("acme", "retry", where={"colour": "red"})
        done = await engine.runs.bulk("acme", "retry", where={"status": "failed"})
        assert done.done == 2
    finally:
        await engine.close()


async def test_an_event_id_finds_the_runs_it_woke(engine: Engine) -> None:
    @engine.workflow("approval")
    async def approval(ctx: Context, order: str) -> Any:
        decided = await ctx.wait_for("Approval.decided", match=f"event.data.order == '{order}'",
                                     timeout=3600)  # fmt: skip
        return decided["data"]["approved"] if decided else "timed out"

    await engine.start_worker()
    waiting = await engine.start(approval, "o-1")
    other = await engine.start(approval, "o-2")

    async def both_wait() -> bool:
        runs = [await engine.handle(h.id).info() for h in (waiting, other)]
        return all(run.status == "waiting" for run in runs)

    await assert_eventually(both_wait)
    decision = {"order": "o-1", "approved": True}
    event = await engine.events.emit("default", "Approval.decided", decision, id="decision-1")
    assert await waiting.result(timeout=10) is True
    found = await engine.runs.find("default", search=event.id)
    assert [run.id for run in found.items] == [waiting.id]
