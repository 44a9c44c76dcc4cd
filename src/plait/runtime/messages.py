"""Signals to one run (``ctx.receive``) and the state a run publishes (``ctx.set_state``).

A receive step takes the oldest queued signal of its name in one fenced transaction, or records
itself ``waiting``; a signal sent while it waits completes it in the transaction that stores the
signal and wakes the run. Either way each signal is consumed by exactly one receive, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import SerializationError
from plait.store.records import StepRecord

if TYPE_CHECKING:
    from plait.runtime.context import Context, _Call


async def receive(ctx: Context, call: _Call, name: str, timeout: float | None) -> Any:
    """The payload of the next signal ``name`` (recorded), or ``None`` after ``timeout``."""
    recorded = call.recorded
    if recorded is not None and recorded.status == "completed":
        return values.decode(recorded.output)
    now = ctx.clock.time()
    if recorded is None:
        wake = None if timeout is None else now + max(0.0, timeout)
        recorded = StepRecord(call.key, call.position, name, "receive", "waiting",
                              started_at=now, wake_at=wake)  # fmt: skip
        payload = await ctx.store.take_signal(ctx.run_id, ctx.fence, recorded)
        if payload is not None:
            return values.decode(payload)
    if recorded.wake_at is not None and now >= recorded.wake_at:
        return values.decode(await ctx.store.expire_receive(ctx.run_id, ctx.fence, call.key, now))
    raise ctx.suspend(recorded.wake_at)


async def set_state(ctx: Context, call: _Call, key: str, value: Any) -> None:
    """Publish ``value`` under ``key`` once; a replay finds the step recorded and skips it."""
    if call.recorded is not None:
        return
    try:
        data = values.encode(value)
    except TypeError as exc:
        what = f"the state {key!r} of run {ctx.run_id}"
        raise SerializationError(what, values.offending_type(value), str(exc)) from exc
    now = ctx.clock.time()
    record = StepRecord(call.key, call.position, key, "state", "completed", 1, data,
                        started_at=now, finished_at=now)  # fmt: skip
    await ctx.store.set_run_value(ctx.run_id, ctx.fence, record, key, data)
