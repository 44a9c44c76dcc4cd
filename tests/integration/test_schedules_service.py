"""Schedules through the service: each tick fires exactly once with several workers, and
pausing a workflow pauses its schedules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine
from plait.testing import VirtualClock, assert_eventually
from tests.backends import select

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


async def test_a_schedule_that_cannot_fire_is_skipped_and_the_others_fire(
    make_engine: MakeEngine, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(clock=clock, poll_seconds=1.0)
    async with engine:
        healthy = await engine.workflows.create("acme", HEARTBEAT)
        odd = await engine.workflows.create("acme", {**HEARTBEAT, "name": "odd"})
        for workflow in (odd, healthy):
            await engine.workflows.activate("acme", workflow.id)
        [broken] = (await engine.schedules.find("acme", "odd")).items
        store = await engine.deps.store()
        calls: list[float] = []
        real_due = store.due_schedules

        async def due_schedules(now: float, limit: int) -> Any:
            calls.append(now)
            return await real_due(now, limit)

        store.due_schedules = due_schedules  # type: ignore[method-assign]
        # A row no expression parser reads (written by hand, or by another version of plait).
        odd_row = f"UPDATE schedules SET cron = 'not a cron' WHERE id = '{broken.id}' RETURNING id"
        assert await select(store, odd_row) == [(broken.id,)]

        async def fired() -> bool:
            await clock.advance(1)
            return len(await scheduled_runs(engine)) >= 2

        await assert_eventually(fired, timeout=20)  # the healthy schedule fires, tick after tick
        worker = engine.worker
        assert worker is not None and worker.running  # the odd one did not stop the worker
        skipped = [r for r in caplog.records if f"schedule {broken.id}" in r.getMessage()]
        assert skipped and skipped[0].exc_info is not None
        assert not (await engine.list_runs(workflow="odd", org="acme")).items
        # The odd schedule stays due, but the loop waits for the poll interval between tries
        # rather than spinning on a wake time in the past: it parks on a poll-long sleep of the
        # clock (a spinning loop never does), and while the clock stands short of it, no try.
        poll_ends = clock.time() + 1.0

        async def parked() -> bool:
            return any(abs(due - poll_ends) < 1e-6 for due in clock.deadlines())

        await assert_eventually(parked)
        turns = len(calls)
        await clock.advance(0.5)
        # A spinning loop would try again and again; a wake-up of the loop by other work (the
        # healthy schedule's run ending as the clock moves) may make one more try, no more.
        assert len(calls) - turns <= 1
