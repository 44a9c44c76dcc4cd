"""Time, injected.

The runtime and worker never call ``time.time`` or ``asyncio.sleep`` directly: they ask a
:class:`Clock`. Production uses :class:`SystemClock`; tests use ``plait.testing.VirtualClock`` to
skip hours in microseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from contextlib import AbstractContextManager, nullcontext
from contextvars import Context
from typing import Any, Protocol


class Clock(Protocol):
    """Wall-clock time in Unix seconds and a way to wait for it."""

    def time(self) -> float:
        """Now, in seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float, *, background: bool = False) -> None:
        """Return once ``seconds`` of this clock's time have passed.

        ``background`` marks housekeeping waits (polling, heartbeats) that a virtual clock
        never skips ahead to.
        """
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float, *, background: bool = False) -> None:
        await asyncio.sleep(max(0.0, seconds))


def working(clock: Clock) -> AbstractContextManager[object]:
    """Mark user work in progress (a step attempt), so a virtual clock does not skip time
    while it runs; a no-op for other clocks."""
    work = getattr(clock, "work", None)
    return work() if work is not None else nullcontext()


async def sleep_until(clock: Clock, deadline: float, *, background: bool = False) -> None:
    """Return once ``clock`` reads ``deadline`` or later.

    The remaining time is read when the wait begins, not when it is scheduled: a timer wrapped
    in a task starts a little later, and a virtual clock may have moved on in between.
    """
    await clock.sleep(deadline - clock.time(), background=background)


async def within(clock: Clock, work: Awaitable[Any], seconds: float) -> tuple[bool, Any]:
    """Await ``work`` for at most ``seconds`` of ``clock`` time.

    Returns ``(True, result)``, or ``(False, None)`` after cancelling ``work`` when time ran out;
    an exception of ``work`` propagates. Measured on the injected clock, so tests can skip it.
    """
    task = asyncio.ensure_future(work)
    # The timer runs outside the caller's context: it is a deadline, not work in progress.
    deadline = clock.time() + seconds
    timer = asyncio.get_running_loop().create_task(sleep_until(clock, deadline), context=Context())
    try:
        done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
    return (True, task.result()) if task in done else (False, None)
