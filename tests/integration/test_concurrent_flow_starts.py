"""Concurrent starts under flow control (docs/flow-control.md), on both backends: starts that
displace older runs (``cancel-in-progress``, a singleton's ``cancel``) never cancel a newer
run, so a burst of them leaves exactly the newest live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine

MakeEngine = Callable[..., Engine]

DISPLACING = {
    "cancel-in-progress": {
        "concurrency": {"key": "input.k", "limit": 1, "strategy": "cancel-in-progress"}
    },
    "singleton-cancel": {"singleton": {"key": "input.k", "mode": "cancel"}},
}


@pytest.mark.parametrize("control", sorted(DISPLACING))
async def test_concurrent_starts_leave_the_newest_live(
    make_engine: MakeEngine, control: str
) -> None:
    engine = make_engine()
    release = asyncio.Event()

    @engine.workflow("wf", **DISPLACING[control])
    async def wf(ctx: Context, inp: dict[str, Any]) -> int:
        async def hold() -> int:
            await release.wait()
            return int(inp["n"])

        return await ctx.step("hold", hold)

    await engine.start_worker()
    first = await engine.start("wf", {"k": "a", "n": 0})
    burst = await asyncio.gather(*(engine.start("wf", {"k": "a", "n": n}) for n in range(1, 4)))
    runs = [await engine.runs.get("default", h.id) for h in (first, *burst)]
    live = [r for r in runs if r.status in ("pending", "running", "waiting")]
    newest = max(runs, key=lambda r: (r.created_at, r.id))
    assert [r.id for r in live] == [newest.id]
    assert all("a newer run took its place" in str(r.error) for r in runs if r is not newest)
    release.set()
    n = {h.id: i for i, h in enumerate((first, *burst))}[newest.id]
    assert await engine.handle(newest.id).result(timeout=10) == n


async def test_a_cancel_in_another_process_starts_the_next_run_of_the_key_at_once(
    make_engine: MakeEngine,
) -> None:
    release = asyncio.Event()
    engines = [make_engine(poll_seconds=3600) for _ in range(2)]  # only a wake-up is in time
    for engine in engines:

        @engine.workflow("wf", concurrency={"key": "input.k", "limit": 1})
        async def wf(ctx: Context, inp: dict[str, Any]) -> int:
            async def hold() -> int:
                if inp["n"] == 0:
                    await release.wait()
                return int(inp["n"])

            return await ctx.step("hold", hold)

        await engine.start_worker()
    here, there = engines
    first = await here.start("wf", {"k": "a", "n": 0})  # executes here
    second = await here.start("wf", {"k": "a", "n": 1})
    assert (await here.runs.get("default", second.id)).status == "pending"
    await there.runs.cancel("default", first.id, reason="test")  # frees the slot there
    assert await there.handle(second.id).result(timeout=5) == 1
    release.set()
