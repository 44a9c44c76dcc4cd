"""The MCP tool ``clear_step_cache``: an editor clears a workflow's cached step outputs, so
the step runs again; naming neither a workflow nor a namespace is a tool error."""

from __future__ import annotations

import pytest

from plait import Cache, Context
from tests.mcp.conftest import Served, data, problem

pytestmark = pytest.mark.xdist_group("heavy")


async def test_an_editor_clears_a_workflows_cache(served: Served) -> None:
    engine = served.engine
    calls: list[str] = []

    def lookup(value: str) -> str:
        calls.append(value)
        return value.upper()

    @engine.workflow("cached")
    async def cached(ctx: Context, value: str) -> str:
        result: str = await ctx.step("lookup", lookup, value, cache=Cache(ttl="1h"))
        return result

    async def run() -> None:
        handle = await engine.start(cached, "a")
        assert await handle.result(timeout=30) == "A"

    await run()
    await run()
    async with served.session(served.keys["editor"]) as elsewhere:  # another organization's
        untouched = data(await elsewhere.call_tool("clear_step_cache", {"workflow": "cached"}))
    editor = (await engine.keys.create("default", "editor")).key
    async with served.session(editor) as session:
        cleared = data(await session.call_tool("clear_step_cache", {"workflow": "cached"}))
        unnamed = problem(await session.call_tool("clear_step_cache", {}), 400)
    await run()
    assert (untouched, cleared) == ({"deleted": 0}, {"deleted": 1})
    assert "name the workflow or the namespace" in unnamed["detail"]
    assert calls == ["a", "a"]
    trail = await engine.audit.list("default", verb="clear")
    assert [(e.resource.type, e.actor.interface) for e in trail.items] == [("cache", "mcp")]
