"""Deadlines over parts of an interpreted run: the run's ``timeout`` and a group's ``timeout``.

A deadline is recorded once (``ctx.recorded``), so a replay after a suspension measures from
the same instant. While the part runs, a timer on the injected clock cancels it at the
deadline. A part replayed after its deadline has passed runs only as far as its history goes:
the first step that has no final record from before the deadline raises ``Expired`` instead
of starting, so what had completed in time is known (and can be compensated) and nothing new
runs; a step that ended after the deadline (a human task or an event wait left open, a child
run) counts as not ended. A run that suspends inside a deadline wakes at the deadline at the
latest; one that would suspend again after it has expired.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from plait.clock import within
from plait.runtime.unwind import Suspend

if TYPE_CHECKING:
    from plait.runtime.context import Context

FINAL = frozenset({"completed", "failed", "skipped"})
"""Statuses of a step record that replays without running anything."""


class Deadline:
    """The instant (clock seconds) by which a part of the run must end."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Expired(Exception):
    """A deadline passed: raised where a step would start after it, and by ``bounded``."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        super().__init__("deadline passed")


_NEAREST: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "plait_interpreter_deadline", default=None
)


async def bounded(ctx: Context, work: Coroutine[Any, Any, Any], deadline: Deadline) -> Any:
    """``work``'s result; raises ``Expired(deadline)`` when it has not ended by ``deadline``
    (``work`` is then cancelled and has unwound). An ``Expired`` of an earlier, enclosing
    deadline passes through: callers compare ``exc.deadline`` with theirs."""
    outer = _NEAREST.get()
    token = _NEAREST.set(deadline if outer is None or deadline.at < outer.at else outer)
    try:
        task = asyncio.ensure_future(work)  # copies the context: its steps see the deadline
    finally:
        _NEAREST.reset(token)
    try:
        remaining = deadline.at - ctx.clock.time()
        if remaining <= 0:  # replaying after the deadline: only recorded steps replay
            return await task
        finished, result = await within(ctx.clock, asyncio.shield(task), remaining)
        if not finished:
            raise Expired(deadline)
        return result
    except Suspend:
        if ctx.clock.time() >= deadline.at:  # waiting on past the deadline: it has expired
            raise Expired(deadline) from None
        ctx.suspend(deadline.at)  # wake at the deadline at the latest
        raise
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def expired(ctx: Context, key: str, result_key: str | None = None) -> Deadline | None:
    """The deadline that forbids starting step ``key`` now, if any: it has passed and the step
    has no final record from before it to replay. ``result_key`` names the record of the step's
    end when that is not ``key`` (a child run's ``<key>.result``; a failed start ends it too)."""
    deadline = _NEAREST.get()
    if deadline is None or ctx.clock.time() < deadline.at:
        return None
    record = ctx.replay.peek(key)
    if result_key is not None and (record is None or record.status != "failed"):
        record = ctx.replay.peek(result_key)
    if record is None or record.status not in FINAL:
        return deadline
    if record.finished_at is not None and record.finished_at > deadline.at:
        return deadline  # it ended too late: when the deadline passed, it had not
    return None
