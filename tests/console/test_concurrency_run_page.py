"""The console's run page shows a run's priority and concurrency key (docs/flow-control.md)."""

from __future__ import annotations

import html
import re

from plait import Context, Engine
from tests.console.conftest import BrowserFactory


async def test_the_run_page_shows_priority_and_concurrency_key(
    engine: Engine, browser: BrowserFactory
) -> None:
    @engine.workflow("sync", concurrency={"key": "input.account", "limit": 2}, priority=4)
    async def sync(ctx: Context, job: dict[str, str]) -> str:
        return job["account"]

    @engine.workflow("plain")
    async def plain(ctx: Context) -> str:
        return "ok"

    await engine.start_worker()
    keyed, unkeyed = await engine.start(sync, {"account": "acme-7"}), await engine.start(plain)
    await keyed.result(timeout=30)
    await unkeyed.result(timeout=30)
    person = await browser("default", "viewer")
    shown = (await person.get(f"/runs/{keyed.id}")).text
    text = html.unescape(re.sub(r"<[^>]+>", " ", shown))
    assert re.search(r"Flow control\s+priority 4 · concurrency key\s+acme-7", text), text
    assert 'id="run-flow"' not in (await person.get(f"/runs/{unkeyed.id}")).text
