"""The console's Runs page: filters and search in the query string find exactly their runs,
keyset pages reach every run once, bulk retry and cancel of the selected or all matching runs
go through the run services and the page says what happened; viewers get no bulk controls and
are refused, as is a form without its CSRF token."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from plait import Engine
from plait.console.pages import runs as runs_page
from plait.testing import assert_eventually
from tests.api.test_run_filters_api import seed
from tests.console.conftest import BrowserFactory

_RUN_LINK = re.compile(r'<td class="mono"><a href="/runs/(run_[0-9A-Za-z]+)">')
_NEXT = re.compile(r'id="runs-next" href="([^"]+)"')


def listed(html: str) -> list[str]:
    """The run ids of the table, in order."""
    return _RUN_LINK.findall(html)


async def test_filters_and_search_find_exactly_their_runs(
    engine: Engine, browser: BrowserFactory
) -> None:
    s = await seed(engine)
    viewer = await browser("acme", "viewer")
    everything = await viewer.get("/runs")
    assert everything.status_code == 200
    assert listed(everything.text) == [s[n] for n in ("evented", "ship", "dee", "cy", "bob",
                                                      "ann")]  # fmt: skip
    assert 'data-live="/live/org?types=run"' in everything.text
    cases = {
        "status=failed": ["dee", "bob"],
        "outcome=succeeded&workflow=Bill+customer": ["evented", "cy", "ann"],
        "trigger=event": ["evented"],
        "workflow=Ship+order": ["ship"],
        "search=input.customer.email%3Dcy%40example.com": ["cy"],
        f"search={s['bob']}": ["bob"],
        f"search={s.event}": ["evented"],
        "from=2999-01-01T00%3A00": [],
    }
    for query, names in cases.items():
        got = await viewer.get(f"/runs?{query}")
        assert got.status_code == 200, (query, got.text)
        assert listed(got.text) == [s[n] for n in names], query
    filtered = await viewer.get("/runs?status=failed&workflow=Bill+customer")
    assert '<option value="failed" selected>' in filtered.text  # the form keeps the filters
    assert '<option value="Bill customer" selected>' in filtered.text
    none = await viewer.get("/runs?trigger=schedule")
    assert "No runs match these filters." in none.text and 'href="/runs"' in none.text


async def test_keyset_pages_reach_every_run_once(
    engine: Engine, browser: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await seed(engine)
    monkeypatch.setattr(runs_page, "PAGE", 2)
    viewer = await browser("acme", "viewer")
    seen: list[str] = []
    url: str | None = "/runs?trigger=manual"
    while url is not None:
        got = await viewer.get(url.replace("&amp;", "&"))
        seen += listed(got.text)
        found = _NEXT.search(got.text)
        url = found.group(1) if found else None
        if url is not None:
            assert "trigger=manual" in url  # the filters ride along with the cursor
            assert 'id="runs-first"' not in got.text or seen[:2] != listed(got.text)
    assert seen == [s[n] for n in ("ship", "dee", "cy", "bob", "ann")]


async def test_bad_filters_show_their_problem(engine: Engine, browser: BrowserFactory) -> None:
    viewer = await browser("acme", "viewer")
    for query in ("status=lost", "from=yesterday", "search=input.a..b%3D1"):
        got = await viewer.get(f"/runs?{query}")
        assert got.status_code == 422, query
        assert 'id="runs-problems"' in got.text and "Fix the filters above." in got.text


async def test_an_empty_organization_says_what_to_do(browser: BrowserFactory) -> None:
    viewer = await browser("acme", "viewer")
    got = await viewer.get("/runs")
    assert "No runs yet." in got.text and "plait workflows trigger" in got.text


async def test_bulk_retry_of_the_selected_failed_runs_runs_them_again(
    engine: Engine, browser: BrowserFactory
) -> None:
    s = await seed(engine)
    s.broken.clear()
    runner = await browser("acme", "runner")
    page = await runner.get("/runs?status=failed")
    assert "Retry selected" in page.text and 'data-select-all="run"' in page.text
    assert 'name="run" value="' + s["dee"] in page.text
    done = await runner.post("/runs/bulk", {"bulk": "retry:selected", "status": "failed",
                                             "run": [s["dee"], s["bob"]]})  # fmt: skip
    assert done.status_code == 200
    assert str(done.url).startswith("http://plait.test/runs?status=failed&done=retry")
    assert "2 runs retried." in done.text
    retried = [h for r in (s["dee"], s["bob"]) for h in (await engine.runs.get("acme", r)).history]
    new = [h.run_id for h in retried if h.action == "retry"]
    assert len(new) == 2 and all(h.by and h.by.startswith("key:") for h in retried)

    async def succeeded() -> bool:
        statuses = [(await engine.runs.get("acme", run_id or "")).status for run_id in new]
        return statuses == ["succeeded", "succeeded"]

    await assert_eventually(succeeded)


async def test_bulk_cancel_of_all_matching_skips_finished_runs(
    engine: Engine, browser: BrowserFactory
) -> None:
    s = await seed(engine)
    runner = await browser("acme", "runner")
    await runner.get("/runs")
    done = await runner.post("/runs/bulk", {"bulk": "cancel:matching", "workflow": "Bill customer"})
    assert "0 runs cancelled. 5 skipped: they had already ended (failed, succeeded)." in done.text
    assert "selected>Bill customer</option>" in done.text.replace('value="Bill customer" ', "")
    nothing = await runner.post("/runs/bulk", {"bulk": "cancel:selected"})
    assert "select runs first" in nothing.text
    assert (await engine.runs.get("acme", s["ann"])).status == "succeeded"


async def test_viewers_see_no_bulk_controls_and_are_refused(
    engine: Engine, browser: BrowserFactory
) -> None:
    s = await seed(engine)
    viewer = await browser("acme", "viewer")
    page = await viewer.get("/runs")
    assert "Cancel selected" not in page.text and 'name="run"' not in page.text
    assert 'action="/runs/bulk"' not in page.text
    refused = await viewer.post("/runs/bulk", {"bulk": "retry:selected", "run": [s["dee"]]})
    assert refused.status_code == 403
    assert not (await engine.runs.get("acme", s["dee"])).history


async def test_a_form_without_its_csrf_token_is_refused(
    engine: Engine, browser: BrowserFactory
) -> None:
    s = await seed(engine)
    runner = await browser("acme", "runner")
    await runner.get("/runs")
    fields = {"bulk": "retry:selected", "run": [s["dee"]], "csrf": "forged"}
    forged = await runner.client.post("/runs/bulk", data=fields)
    assert forged.status_code == 403
    assert not (await engine.runs.get("acme", s["dee"])).history
    query = urlencode({"status": "failed"})
    assert s["dee"] in listed((await runner.get(f"/runs?{query}")).text)
