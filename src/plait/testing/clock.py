"""A virtual clock that skips time instead of waiting, and polling assertions."""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")

_in_work: contextvars.ContextVar[bool] = contextvars.ContextVar("plait_in_work", default=False)

__all__ = ["VirtualClock", "assert_eventually"]


class VirtualClock:
    """A clock that only moves when told to: ``await clock.advance(3600)``.

    Sleepers wake in time order as the clock passes their deadlines, with the event loop given a
    chance to run between them, so a one-hour sleep completes without waiting.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._background: set[asyncio.Future[None]] = set()
        self._order = itertools.count()
        self._working = 0
        self._reads = 0  # calls of time(): a sign that the program is making progress

    def time(self) -> float:
        self._reads += 1
        return self._now

    async def sleep(self, seconds: float, *, background: bool = False) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        if background:
            self._background.add(future)
        paused = _in_work.get()
        if paused:  # work that waits on this clock is not busy
            self._working -= 1
        try:
            await future
        finally:
            self._background.discard(future)
            if paused:
                self._working += 1

    @contextmanager
    def work(self) -> Iterator[None]:
        """While inside, time is not skipped unless the work itself sleeps on this clock."""
        self._working += 1
        token = _in_work.set(True)
        try:
            yield
        finally:
            _in_work.reset(token)
            self._working -= 1

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward, waking every sleeper whose deadline is passed, in order."""
        delta = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        target = self._now + delta
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, due)
            if not future.done():
                future.set_result(None)
                await _settle()
        self._now = target
        await _settle()

    def next_deadline(self) -> float | None:
        """When the earliest pending sleep that is not a background wait ends."""
        live = [d for d, _, f in self._sleepers if not f.done() and f not in self._background]
        return min(live) if live else None

    async def run_skipping(
        self, work: Awaitable[T], idle: float = 0.002, patience: float = 1.0
    ) -> T:
        """Await ``work``, jumping the clock to the next sleep whenever the program is idle.

        Idle means: for three polls of ``idle`` real seconds in a row, the event loop answered
        on time (it was not busy), nothing read the clock, and no step attempt was at work
        (attempts waiting on this clock do not count). After ``patience`` real seconds of
        waiting on a busy attempt, time is skipped anyway. So sleeps, retry delays and
        timeouts take no real time, while real work keeps its time.
        """
        task = asyncio.ensure_future(work)
        quiet_polls, busy_since = 0, time.monotonic()
        while not task.done():
            reads, started = self._reads, time.monotonic()
            await asyncio.wait({task}, timeout=idle)
            on_time = time.monotonic() - started < idle * 3
            quiet_polls = quiet_polls + 1 if on_time and reads == self._reads else 0
            if self._working == 0 or quiet_polls == 0:
                busy_since = time.monotonic()
            due = self.next_deadline()
            if task.done() or due is None or quiet_polls < 3:
                continue
            if self._working > 0 and time.monotonic() - busy_since < patience:
                continue
            quiet_polls, busy_since = 0, time.monotonic()
            await self.advance(max(0.0, due - self._now))
        return task.result()

    async def until_idle(self, idle: float = 0.002, patience: float = 1.0) -> None:
        """Return once the program is idle, as :meth:`run_skipping` judges it before it skips
        time: three quiet polls of ``idle`` real seconds in a row, and no step attempt at work
        (or one at work for ``patience`` real seconds)."""
        quiet_polls, busy_since = 0, time.monotonic()
        while True:
            reads, started = self._reads, time.monotonic()
            await asyncio.sleep(idle)
            on_time = time.monotonic() - started < idle * 3
            quiet_polls = quiet_polls + 1 if on_time and reads == self._reads else 0
            if self._working == 0 or quiet_polls == 0:
                busy_since = time.monotonic()
            if quiet_polls >= 3 and (
                self._working == 0 or time.monotonic() - busy_since >= patience
            ):
                return

    def deadlines(self) -> list[float]:
        """When each pending sleep ends (background waits included), earliest first."""
        return sorted(d for d, _, f in self._sleepers if not f.done())

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending."""
        return sum(1 for _, _, f in self._sleepers if not f.done())


async def _settle(turns: int = 20) -> None:
    # Let woken tasks run (and write through the store's group commit) before time moves on.
    for _ in range(turns):
        await asyncio.sleep(0)


async def assert_eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.01
) -> None:
    """Poll ``check`` until it returns true; fail after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
