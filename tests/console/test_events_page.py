"""The events page (``/events``) and its REST twin (``GET /~{org}/overview/events``): the
organization's events newest first with their data and the runs each started, filtered by one
type or a family (``Deal.*``), a page at a time."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from fastapi import FastAPI

from plait import Context, Engine
from plait.testing import assert_eventually
from tests.console.conftest import BASE, BrowserFactory

DEALS: dict[str, Any] = {
    "name": "Celebrate deals",
    "triggerEvent": "Deal.won",
    "steps": [{"action": "Activity.create", "mapping": {"subject": "'Won ' + deal.name"}}],
}


async def started(engine: Engine) -> tuple[str, str]:
    """A Deal.won that started a run of an Activated workflow: the event's id and the run's."""
    workflow = await engine.workflows.create("acme", DEALS)
    await engine.workflows.activate("acme", workflow.id)
    won = await engine.events.emit("acme", "Deal.won", {"name": "Initech <&>", "amount": 5})
    assert len(won.runs) == 1
    return won.id, won.runs[0]


async def test_the_page_shows_an_event_its_data_and_the_run_it_started(
    browser: BrowserFactory, engine: Engine
) -> None:
    event_id, run_id = await started(engine)
    await engine.events.emit("acme", "Customer.created", {"name": "Ann"})
    person = await browser("acme", "viewer")
    page = await person.get("/events")
    assert page.status_code == 200
    text = page.text
    assert event_id in text and f'href="/runs/{run_id}"' in text
    assert "Started" in text and "from api" in text
    assert "&#34;name&#34;: &#34;Initech &lt;&amp;&gt;&#34;" in text  # the data, pretty, escaped
    assert 'data-live="/live/org?types=event"' in text
    newest = text.index("Customer.created")
    assert newest < text.index(event_id)  # newest first


async def test_the_page_filters_by_a_type_and_by_a_family(
    browser: BrowserFactory, engine: Engine
) -> None:
    await started(engine)
    await engine.events.emit("acme", "Deal.lost", {"name": "Globex"})
    await engine.events.emit("acme", "Dealer.created", {})
    await engine.events.emit("acme", "Customer.created", {})
    person = await browser("acme", "viewer")

    def types(html: str) -> list[str]:
        return re.findall(r'<a class="type" href="[^"]*">([^<]+)</a>', html)

    family = await person.get("/events", params={"type": "Deal.*"})
    assert types(family.text) == ["Deal.lost", "Deal.won"]
    assert 'value="Deal.*"' in family.text
    one = await person.get("/events", params={"type": "Deal.won"})
    assert types(one.text) == ["Deal.won"]
    none = await person.get("/events", params={"type": "Invoice.paid"})
    assert "No events of type Invoice.paid." in none.text
    everything = await person.get("/events")  # with the workflow's own (Workflow.activated...)
    shown = [t for t in types(everything.text) if not t.startswith("Workflow.")]
    assert shown == ["Customer.created", "Dealer.created", "Deal.lost", "Deal.won"]
    bad = await person.get("/events", params={"type": "De*al"})
    assert bad.status_code == 422 and "a * may only end the type" in bad.text


async def test_the_rest_listing_pages_events_with_their_runs(app: FastAPI, engine: Engine) -> None:
    event_id, run_id = await started(engine)
    for n in range(3):
        await engine.events.emit("acme", "Deal.lost", {"n": n})
    key = (await engine.keys.create("acme", "viewer")).key
    other = (await engine.keys.create("globex", "viewer")).key
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as api:
        headers = {"Authorization": f"Bearer {key}"}
        first = (await api.get("/~acme/overview/events", headers=headers,
                               params={"type": "Deal.*", "limit": 3})).json()  # fmt: skip
        rest = (await api.get("/~acme/overview/events", headers=headers,
                              params={"type": "Deal.*", "limit": 3,
                                      "cursor": first["nextCursor"]})).json()  # fmt: skip
        theirs = (await api.get("/~globex/overview/events",
                                headers={"Authorization": f"Bearer {other}"})).json()  # fmt: skip
    assert [e["data"]["n"] for e in first["items"]] == [2, 1, 0]
    assert first["nextCursor"] is not None
    assert [(e["$id"], e["runs"], e["woke"]) for e in rest["items"]] == [(event_id, [run_id], [])]
    assert rest["nextCursor"] is None
    assert theirs["items"] == []


async def test_an_event_shows_the_run_it_woke(browser: BrowserFactory, engine: Engine) -> None:
    @engine.workflow("contracts")
    async def contracts(ctx: Context) -> Any:
        return await ctx.wait_for("Contract.signed")

    handle = await engine.start("contracts")
    await engine.start_worker()

    async def waiting() -> bool:
        return (await engine.runs.get("default", handle.id)).status == "waiting"

    await assert_eventually(waiting)
    signed = await engine.events.emit("default", "Contract.signed", {"by": "ann"})
    assert (await asyncio.wait_for(handle.result(), 30))["data"] == {"by": "ann"}
    person = await browser("default", "viewer")
    page = await person.get("/events", params={"type": "Contract.*"})
    entry = re.search(rf'<li [^>]*data-event="{signed.id}">(.*?)</li>', page.text, re.S)
    assert entry is not None, page.text
    assert re.search(rf'Woke <a href="/runs/{handle.id}">', entry.group(1))
