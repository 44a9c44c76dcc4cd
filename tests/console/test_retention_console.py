"""The console's workflow page says how long the workflow's ended runs are kept, by status, as
the pruner resolves its policies (docs/retention.md)."""

from __future__ import annotations

import html
import re

from plait import Engine
from tests.console.conftest import BrowserFactory

GREET = {"name": "greet", "triggerEvent": "Customer.created",
         "steps": [{"id": "hello", "action": "log", "input": {"message": "hello"}}]}  # fmt: skip


async def test_the_workflow_page_shows_what_is_kept(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", GREET)
    viewer = await browser("acme", "viewer")

    async def kept() -> str:
        page = await viewer.get(f"/workflows/{created.id}")
        assert page.status_code == 200
        found = re.search(r'<dd id="retention">(.*?)</dd>', page.text, re.S)
        assert found is not None, page.text
        return " ".join(html.unescape(found.group(1)).split())

    assert kept_default(await kept())
    await engine.retention.set(
        "acme", {"maxAgeDays": 90, "statuses": {"failed": {"maxAgeDays": 0}}}
    )
    await engine.retention.set("acme", {"maxRuns": 50}, workflow="greet")
    assert await kept() == (
        "succeeded: 90 days, newest 50 · partial: 90 days, newest 50 · "
        "failed: forever, newest 50 · cancelled: 90 days, newest 50"
    )


def kept_default(text: str) -> bool:
    return text == ("succeeded: 30 days · partial: 30 days · failed: 30 days · cancelled: 30 days")
