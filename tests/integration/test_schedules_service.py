"""Schedules through the service: each tick fires exactly once with several workers, and
pausing a workflow pauses its schedules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from plait import Engine
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]

HEARTBEAT = {
    "name": "heartbeat", "schedule": {"cron": "* * * * *"},
    "steps": [{"action": "log", "mapping": {"message": "'tick'"}}],
}  # fmt: skip


async def scheduled_runs(engine: Engine) -> list[Any]:
    return (await engine.list_runs(workflow="heartbeat", org="acme", limit=1000)).items


async def test_one_minute_cron_fires_once_per_tick_with_two_workers(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    settings = {"clock": clock, "poll_seconds": 1.0}
    first, second = make_engine(**settings), make_engine(**settings)
    async with first, second:
        created = await first.workflows.create("acme", HEARTBEAT)
        await first.workflows.activate("acme", created.id)
        [schedule] = (await first.schedules.find("acme")).items
        assert schedule.cron == "* * * * *" and schedule.enabled is True
        for minute in range(1, 4):
            for _ in range(60):
                await clock.advance(1)
                await asyncio.sleep(0.002)  # real time for the store's round trips

            async def fired(expected: int = minute) -> bool:
                return len(await scheduled_runs(first)) >= expected

            await assert_eventually(fired, timeout=20)
        await asyncio.sleep(0.2)
        runs = await scheduled_runs(first)
        assert len(runs) == 3  # one per tick, not one per worker
        assert {r.trigger for r in runs} == {"schedule"}

        await first.workflows.pause("acme", created.id)
        assert (await first.schedules.find("acme")).items[0].enabled is False
        for _ in range(120):
            await clock.advance(1)
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.1)
        assert len(await scheduled_runs(first)) == 3
