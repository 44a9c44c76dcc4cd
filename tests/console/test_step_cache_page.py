"""The console's run page marks a step whose output came from the step-result cache."""

from __future__ import annotations

import html
import re

from plait import Cache, Context, Engine
from tests.console.conftest import BrowserFactory


async def test_a_cached_step_is_marked_on_the_run_page(
    engine: Engine, browser: BrowserFactory
) -> None:
    calls: list[int] = []

    def price() -> int:
        calls.append(1)
        return 42

    @engine.workflow("quote")
    async def quote(ctx: Context) -> int:
        value: int = await ctx.step("price", price, cache=Cache(ttl=60, key="fixed"))
        return value

    await engine.start_worker()
    ids = []
    for _ in range(2):
        handle = await engine.start(quote)
        await handle.result(timeout=30)
        ids.append(handle.id)
    person = await browser("default", "viewer")
    pages = [(await person.get(f"/runs/{run_id}")).text for run_id in ids]
    rows = [html.unescape(re.sub(r"<[^>]+>", " ", p[p.index('id="steps"') :])) for p in pages]
    assert calls == [1]
    assert "cached" not in rows[0]
    assert re.search(r"completed\s+cached\s+0\b", rows[1])
