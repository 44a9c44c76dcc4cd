"""The overview (``/`` and ``GET /~{org}/overview``): a known workload counted exactly over the
last hour and day on the engine's virtual clock (runs by outcome, success rates, the day's p95
duration, runs waiting now, open and overdue tasks, runs per minute and failures per hour),
numbers that link to the runs they count, the empty state, and query plans that read index
ranges of the window, never every run."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plait import Context, Engine
from plait.errors import WorkflowFailed
from plait.store.business_metrics import percentile
from plait.store.sql import load_dialect
from plait.store.sqlite.store import SQLiteStore
from plait.testing import VirtualClock, assert_eventually
from tests.backends import BACKENDS, database_url
from tests.console.conftest import BASE, BrowserFactory

LIMIT = 30.0
DAY_BATCH = [(10, False), (20, False), (30, True)]
"""(seconds the run takes, whether it fails): runs that end two hours before the overview."""
HOUR_BATCH = [(40, False), (50, True), (60, False), (70, True), (80, False)]
"""Runs that end in the overview's last hour."""


@pytest.fixture(params=BACKENDS)
async def engine(
    request: pytest.FixtureRequest, tmp_path: Path, clock: VirtualClock
) -> AsyncIterator[Engine]:
    with database_url(request.param, tmp_path, sqlite_name="overview.db") as url:
        engine = Engine(url, clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                        heartbeat_seconds=10**6)  # fmt: skip
        register(engine)
        try:
            yield engine
        finally:
            await engine.close()


def register(engine: Engine) -> None:
    @engine.workflow("billing")
    async def billing(ctx: Context, seconds: int, fail: bool) -> str:
        await ctx.sleep(seconds)
        if fail:
            raise ValueError("card declined")
        return "charged"

    @engine.workflow("approvals")
    async def approvals(ctx: Context, due: float | None) -> dict[str, Any]:
        return await ctx.human_task("Approve the refund", "ann", due=due)


async def run(engine: Engine, clock: VirtualClock, seconds: int, fail: bool) -> None:
    handle = await engine.start("billing", seconds, fail)
    try:
        await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    except WorkflowFailed:
        assert fail


async def workload(engine: Engine, clock: VirtualClock) -> None:
    """Three runs that end two hours ago, five in the last hour, two runs waiting on tasks
    (one of them past its due time), and the worker stopped so nothing moves meanwhile."""
    worker = await engine.start_worker()
    for seconds, fail in DAY_BATCH:
        await run(engine, clock, seconds, fail)
    await clock.advance(2 * 3600)
    for seconds, fail in HOUR_BATCH:
        await run(engine, clock, seconds, fail)
    await engine.start("approvals", 600.0)
    await engine.start("approvals", None)

    async def asked() -> bool:
        page = await engine.tasks.find("default", assignee="ann", status="open")
        return len(page.items) == 2

    await assert_eventually(asked)
    await worker.stop()  # the overdue task stays open: no worker expires it
    await clock.advance(1200)


def p95(batch: list[tuple[int, bool]]) -> float:
    return percentile(sorted(float(s) for s, _ in batch), 0.95)


async def test_the_overview_counts_a_known_workload_exactly(
    app: FastAPI, engine: Engine, clock: VirtualClock, browser: BrowserFactory
) -> None:
    await workload(engine, clock)
    viewer = await engine.keys.create("default", "viewer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as api:
        got = await api.get("/~default/overview",
                            headers={"Authorization": f"Bearer {viewer.key}"})  # fmt: skip
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["$type"] == "Overview"
    rows = {w["workflow"]: w for w in body["workflows"]}
    billing, approvals = rows["billing"], rows["approvals"]
    assert billing["hour"] == {"ended": 5, "succeeded": 3, "partial": 0, "failed": 2,
                               "cancelled": 0, "successRate": 0.6}  # fmt: skip
    assert billing["day"] == {"ended": 8, "succeeded": 5, "partial": 0, "failed": 3,
                              "cancelled": 0, "successRate": 0.625}  # fmt: skip
    assert billing["failing"] == 2
    assert billing["p95Seconds"] == pytest.approx(p95(DAY_BATCH + HOUR_BATCH))
    assert billing["failuresByHour"][23] == 2 and sum(billing["failuresByHour"]) == 3
    assert billing["now"] == {"pending": 0, "running": 0, "waiting": 0}
    assert approvals["now"]["waiting"] == 2 and approvals["hour"]["ended"] == 0
    assert approvals["tasks"] == {"open": 2, "overdue": 1}
    assert body["tasks"] == {"open": 2, "overdue": 1}
    assert (body["hour"]["ended"], body["day"]["ended"]) == (5, 8)
    minutes = body["minutes"]
    assert len(minutes) == 60 and len(body["failuresByHour"]) == 24
    assert sum(m["succeeded"] for m in minutes) == 3 and sum(m["failed"] for m in minutes) == 2

    person = await browser("default", "viewer")
    page = await person.get("/")
    assert page.status_code == 200
    html = page.text
    row = _row(html, "billing")
    assert re.search(r'data-figure="hour"><a [^>]*>5</a>', row)
    assert re.search(r'data-figure="day"><a [^>]*>8</a>', row)
    assert re.search(r'data-figure="failing"><a [^>]*>2</a>', row)
    assert "60%" in row and "62%" in row  # 3 of 5, 5 of 8
    failing = re.search(r'data-figure="failing"><a class="error" href="([^"]+)"', row)
    assert failing is not None
    link = failing.group(1).replace("&amp;", "&")
    assert link.startswith("/runs?workflow=billing&status=failed&from=")
    assert re.search(r'data-figure="tasks">2 · <span class="error">1</span>',
                     _row(html, "approvals"))  # fmt: skip
    assert 'role="img" aria-label="Runs ended per minute' in html
    assert "<title>Failed runs per hour, last 24 hours</title>" in html
    assert 'data-live="/live/org?types=run"' in html


def _row(html: str, workflow: str) -> str:
    found = re.search(rf'<tr data-workflow="{workflow}">(.*?)</tr>', html, re.S)
    assert found is not None, html
    return found.group(1)


async def test_an_organization_without_workflows_sees_what_to_do(
    app: FastAPI, browser: BrowserFactory, engine: Engine
) -> None:
    person = await browser("globex", "viewer")
    page = await person.get("/")
    assert page.status_code == 200
    assert "No workflows yet." in page.text and 'href="/workflows"' in page.text
    viewer = await engine.keys.create("globex", "viewer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as api:
        got = await api.get("/~globex/overview",
                            headers={"Authorization": f"Bearer {viewer.key}"})  # fmt: skip
        anonymous = await api.get("/~globex/overview")
    assert got.json()["workflows"] == [] and got.json()["day"]["ended"] == 0
    assert anonymous.status_code == 401


async def test_a_chart_escapes_its_text_and_names_itself() -> None:
    from plait.console.charts import Series, bars, spark

    drawn = str(bars("<b>runs</b>", [Series("ok & good", "bar-ok", [1, 0, 3])],
                     ["a", "b", "<c>"], every=1))  # fmt: skip
    assert "<b>" not in drawn and "&lt;b&gt;runs&lt;/b&gt;" in drawn
    assert "&lt;c&gt;: 3 ok &amp; good" in drawn and drawn.count("<rect") == 2
    tiny = str(spark("failures of <x>", [0, 2, 1]))
    assert 'aria-label="failures of &lt;x&gt;"' in tiny and tiny.count("<rect") == 2


# -- the plans: index ranges of the window, never a scan of every run ---------------------------


async def test_the_overview_reads_index_ranges_of_its_windows(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "plans.db"))
    await store.open()
    await store.close()
    queries = load_dialect("plait.store.sqlite")
    params = {"org": "acme", "now": 2e9, "day": 2e9 - 86400, "hour": 2e9 - 3600,
              "workflow": "w", "top": 5, "type": None, "low": "Deal.", "high": "Deal/",
              "after_seq": None, "limit": 50}  # fmt: skip
    db = sqlite3.connect(tmp_path / "plans.db")
    for name in ("overview_counts", "overview_failures", "overview_minutes",
                 "overview_top_durations", "overview_live", "overview_tasks",
                 "page_event_entries_prefix"):  # fmt: skip
        plan = " | ".join(str(r[3]) for r in db.execute("EXPLAIN QUERY PLAN " + queries[name],
                                                         params))  # fmt: skip
        assert not re.search(r"\bSCAN (runs|r|tasks|events)\b", plan), (name, plan)
        if name.startswith("overview_") and name != "overview_tasks":
            assert "runs_ended" in plan or "runs_live" in plan, (name, plan)
