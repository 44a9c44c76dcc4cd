"""The console's run page shows what a priced run cost (docs/costs.md)."""

from __future__ import annotations

import html
import re

from plait import Context, Engine
from tests.console.conftest import BrowserFactory


async def test_the_run_page_shows_the_cost_of_a_priced_run(
    engine: Engine, browser: BrowserFactory
) -> None:
    @engine.workflow(
        "invoice",
        pricing={
            "model": "per-execution",
            "baseRate": 0.5,
            "stepRates": {"extract": 0.25},
            "currency": "EUR",
        },
    )
    async def invoice(ctx: Context) -> str:
        return str(await ctx.step("extract", lambda: "ok"))

    @engine.workflow("free")
    async def free(ctx: Context) -> str:
        return "ok"

    await engine.start_worker()
    priced, unpriced = await engine.start(invoice), await engine.start(free)
    await priced.result(timeout=30)
    await unpriced.result(timeout=30)
    person = await browser("default", "viewer")
    shown = (await person.get(f"/runs/{priced.id}")).text
    text = html.unescape(re.sub(r"<[^>]+>", " ", shown))
    assert re.search(r"Cost\s+0\.75 EUR\s+\(baseRate 0\.5 · extract 0\.25\)", text), text
    assert 'id="run-cost"' not in (await person.get(f"/runs/{unpriced.id}")).text
