"""Helpers for integration tests: wait for a run's status, pump a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from plait import Context, Engine
from plait.testing import VirtualClock, assert_eventually


async def wait_status(engine: Engine, run_id: str, status: str, timeout: float = 10.0) -> None:
    async def reached() -> bool:
        return (await engine.handle(run_id).info()).status == status

    await assert_eventually(reached, timeout=timeout)


async def pump(clock: VirtualClock, until: Awaitable[Any], step: float = 1.0) -> Any:
    """Await ``until`` while moving ``clock`` to each next deadline once the program is idle.

    (``step`` is kept for the callers' readability; time jumps exactly to the next wait.)
    """
    return await clock.run_skipping(until)


def counter() -> tuple[dict[str, int], Callable[[str], Callable[..., Any]]]:
    """Count executions per step name; ``make(name)`` returns an async step that counts."""
    counts: dict[str, int] = {}

    def make(name: str) -> Callable[..., Any]:
        async def step(*args: Any) -> str:
            counts[name] = counts.get(name, 0) + 1
            return f"{name}:{','.join(map(str, args))}"

        return step

    return counts, make


class Gate:
    """A step function that signals ``entered`` and blocks until ``open()`` is called."""

    def __init__(self, result: str = "done") -> None:
        self.entered = asyncio.Event()
        self._opened = asyncio.Event()
        self.result = result
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        self.entered.set()
        await self._opened.wait()
        return self.result

    def open(self) -> None:
        self._opened.set()

    async def reached(self) -> None:
        await asyncio.wait_for(self.entered.wait(), 5)


class Held:
    """A workflow ``held`` whose one step waits for ``release``, counting the steps in flight
    and their peak: what a concurrency limit must bound."""

    def __init__(self, engine: Engine) -> None:
        self.in_flight = self.peak = 0
        self.release = asyncio.Event()

        @engine.workflow("held")
        async def held(ctx: Context, i: int) -> int:
            await ctx.step("hold", self._hold)
            return i

        self.workflow = held

    async def _hold(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1


def clock_of(engine: Engine) -> VirtualClock:
    """The virtual clock ``engine`` was made with."""
    assert isinstance(engine.clock, VirtualClock)
    return engine.clock


async def stored_run_ids(engine: Engine) -> set[str]:
    """The ids of every run in ``engine``'s database."""
    from tests.backends import select

    return {row[0] for row in await select(await engine.deps.store(), "SELECT id FROM runs")}
