"""Applying a step's flow limits around one attempt (``plait.runtime.limits`` declares them).

In order: the circuit breaker admits the call (closed: a read; open: ``CircuitOpen`` or a
durable wait; half-open: one probe); the bulkhead gives it a permit (none free: the run
suspends and tries again after :data:`BULKHEAD_POLL` seconds); the rate limit gives it its turn
(later than :data:`TURN_LEAD` seconds: the reservation is recorded on the step, which waits
suspended, and a replay does not reserve again). The attempt's outcome goes back to the
circuit, and the permit back to the bulkhead. A run waiting on any of them holds no worker slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from plait import values
from plait.clock import working
from plait.errors import (
    CircuitOpen,
    InvalidArguments,
    SchemaViolation,
    SerializationError,
    StoreError,
)
from plait.expressions import EvaluationError
from plait.metrics import CURRENT
from plait.runtime.limits import CircuitBreaker, RateLimit, StepLimits
from plait.store.limits import CircuitPolicy
from plait.store.records import StepRecord

if TYPE_CHECKING:
    from plait.runtime.context import Context, _Call

TURN_LEAD = 0.1
"""A rate limit's turn this close (seconds) is awaited in place; for a later one the run is
suspended until this long before it (waking, claiming and replaying the run takes a moment),
then waits in place for the exact moment: calls keep to the rate without bunching up, and a
throttled step holds a worker slot this long at most."""
BULKHEAD_POLL = 0.5
"""How long a step whose bulkhead is full waits (suspended) before it tries again."""
PROBE_MARGIN = 1.0
"""How much longer than its step's timeout a half-open circuit's probe holds its turn (a
probe that outlives it anyway does not keep the circuit half-open: any failure while it is
half-open opens it again)."""
PROBE_POLL = 1.0
"""How long a step waiting on a half-open circuit's probe waits before it looks again."""
NOT_THE_CALLS = (
    CircuitOpen,
    SerializationError,
    StoreError,
    InvalidArguments,
    SchemaViolation,
    EvaluationError,
)
"""Errors that are not the dependency's (a refusal, a result that does not encode, the store's,
an input or a template that is wrong): they do not count against a circuit."""
THROTTLED = "RateLimited"
"""The error type of the record of a step waiting for its rate limit's turn."""
ABANDONED: ContextVar[list[Future[Any]] | None] = ContextVar(
    "plait_abandoned_threads", default=None
)
"""The threads of the current attempt that timed out and run on (:func:`abandon`)."""
_RELEASING: set[asyncio.Task[None]] = set()
log = logging.getLogger(__name__)


async def guarded(
    ctx: Context,
    call: _Call,
    limits: StepLimits,
    reserved: bool,
    attempt: Callable[[], Awaitable[bytes]],
    done: int,
    timeout: float | None = None,
) -> bytes:
    """``attempt()`` under ``limits`` (``reserved``: its rate limit's turn is recorded
    already; ``done``: the attempts made before this one; ``timeout``: the attempt's, which
    the lease of a half-open circuit's probe outlasts). Only what ``attempt()`` raises counts
    against the circuit, and only when it is the dependency's (see :data:`NOT_THE_CALLS`)."""
    holder = f"{ctx.run_id}/{call.key}"
    circuit = limits.circuit_breaker
    probe = False if circuit is None else await _admit(ctx, circuit, holder, timeout)
    held, token = False, None
    try:
        held = await _permit(ctx, call, limits)
        if limits.rate_limit is not None:
            await _turn(ctx, call, limits, done, reserved)
        token = ABANDONED.set([])
        try:
            with working(ctx.clock):
                output = await attempt()
        except BaseException as exc:
            if circuit is not None:
                await _report_failure(ctx, circuit, holder, probe, exc)
                probe = False
            raise
    except BaseException:  # refused, suspended or failed before the call: not the probe
        if probe and circuit is not None:
            await ctx.store.drop_probe(ctx.org, _name(circuit), holder, ctx.clock.time())
        raise
    finally:
        if held:
            await _release(ctx, call, limits, token.var.get() if token is not None else None)
        if token is not None:
            ABANDONED.reset(token)
    if probe:
        assert circuit is not None
        await ctx.store.probe_succeeded(ctx.org, _name(circuit), holder, ctx.clock.time())
    return output


def abandon(thread: Future[Any]) -> None:
    """Note that ``thread`` (a synchronous action's) timed out and runs on: the attempt's
    bulkhead permit is given back when it ends, not when the attempt does."""
    threads = ABANDONED.get()
    if threads is not None:
        threads.append(thread)


async def _release(
    ctx: Context, call: _Call, limits: StepLimits, threads: list[Future[Any]] | None
) -> None:
    """Give back the bulkhead permit the attempt holds (under its fence: a worker that lost
    its lease never frees the new owner's), now or when its abandoned thread ends."""
    name = _name(limits.bulkhead)
    release = functools.partial(ctx.store.release_permit, ctx.org, name, ctx.run_id, call.key,
                                ctx.fence)  # fmt: skip
    running = [thread for thread in threads or () if not thread.done()]
    if not running:
        await release()
        return

    loop = asyncio.get_running_loop()

    def start() -> None:
        task = loop.create_task(release())
        _RELEASING.add(task)
        task.add_done_callback(_released)

    def ended(_: object) -> None:  # in the thread
        with contextlib.suppress(RuntimeError):  # the loop closed: freed when the run stops
            loop.call_soon_threadsafe(start)

    running[0].add_done_callback(ended)


def _released(task: asyncio.Task[None]) -> None:
    _RELEASING.discard(task)
    if not task.cancelled() and task.exception() is not None:  # freed once the run stops
        log.warning("bulkhead permit not released", exc_info=task.exception())


def reserved_turn(recorded: StepRecord | None) -> bool:
    """Whether ``recorded`` is a step waiting for the turn its rate limit gave it."""
    return recorded is not None and recorded.kind == "step" and recorded.status == "waiting"


def _name(limit: object) -> str:
    name = getattr(limit, "name", None)
    assert isinstance(name, str)
    return name


async def _admit(ctx: Context, circuit: CircuitBreaker, holder: str, timeout: float | None) -> bool:
    """Whether the call is the circuit's probe; raises ``CircuitOpen`` or suspends the run when
    the circuit refuses it. The probe's lease outlasts the call's ``timeout``; the probe's own
    step (its run re-claimed after its worker died) takes it again."""
    name, now = _name(circuit), ctx.clock.time()
    with working(ctx.clock):
        found = await ctx.store.get_circuit(ctx.org, name)
    if found is None or found.state == "closed":
        return False
    lease = max(circuit.reset, (timeout or 0.0) + PROBE_MARGIN)
    due = found.half_open_at if found.state == "open" else found.probe_expires
    free = due is None or due <= now or found.probe == holder
    if free and await ctx.store.take_probe(ctx.org, name, holder, now, lease):
        return True
    _count("plait_circuit_rejections_total", name)
    if circuit.on_open == "wait":
        wake = due if due is not None and due > now else now + PROBE_POLL
        raise ctx.suspend(min(wake, now + max(PROBE_POLL, circuit.reset)))
    raise CircuitOpen(name, found.half_open_at if found.state == "open" else None)


async def _permit(ctx: Context, call: _Call, limits: StepLimits) -> bool:
    """Take the bulkhead's permit (True), or suspend the run until it may try again."""
    bulkhead = limits.bulkhead
    if bulkhead is None:
        return False
    now = ctx.clock.time()
    with working(ctx.clock):
        taken = await ctx.store.acquire_permit(ctx.org, _name(bulkhead), bulkhead.limit,
                                               ctx.run_id, call.key, ctx.fence, now)  # fmt: skip
    if not taken:
        _count("plait_bulkhead_waits_total", _name(bulkhead))
        raise ctx.suspend(now + BULKHEAD_POLL)
    return True


async def _turn(ctx: Context, call: _Call, limits: StepLimits, done: int, reserved: bool) -> None:
    """Take the rate limit's turn: reserve the next one (unless ``reserved``: the step's record
    holds it), wait for it suspended when it is not near, then be let through (a turn that came
    late waits for the next free moment, so calls never bunch up)."""
    rate = limits.rate_limit
    assert rate is not None
    name, now = _name(rate), ctx.clock.time()
    args = {"now": now, "interval": rate.interval, "tolerance": rate.tolerance}
    if not reserved:  # the turn, and the step's record when it waits for it: one transaction
        waiting = _waiting(call, rate, done, now, None)
        with working(ctx.clock):
            turn, admitted, recorded = await ctx.store.reserve_rate_waiting(
                ctx.org, name, **args, lead=TURN_LEAD, run_id=ctx.run_id, fence=ctx.fence,
                waiting=waiting)  # fmt: skip
        if admitted:
            return
        if recorded:
            _count("plait_rate_limit_waits_total", name)
            raise ctx.suspend(turn - TURN_LEAD)
        await _wait(ctx, call, rate, done, turn)
    while True:
        args["now"] = now = ctx.clock.time()
        with working(ctx.clock):
            retry = await ctx.store.admit_rate(ctx.org, "action", name, **args)
        if retry is None:
            return
        await _wait(ctx, call, rate, done, retry)


async def _wait(ctx: Context, call: _Call, rate: RateLimit, done: int, until: float) -> None:
    """Wait in place until ``until`` when it is near; else record the step as waiting for its
    turn (its reservation, which a replay does not make again) and suspend the run."""
    wait = until - ctx.clock.time()
    if wait <= TURN_LEAD:
        if wait > 0:
            await ctx.clock.sleep(wait)
        return
    _count("plait_rate_limit_waits_total", _name(rate))
    record = _waiting(call, rate, done, ctx.clock.time(), until)
    with working(ctx.clock):  # a replay finds the turn taken: it does not reserve again
        await ctx.store.record_step(ctx.run_id, ctx.fence, record)
    raise ctx.suspend(until - TURN_LEAD)


def _waiting(
    call: _Call, rate: RateLimit, done: int, now: float, until: float | None
) -> StepRecord:
    """The record of a step waiting until ``until`` for its turn under ``rate``."""
    error = {"type": THROTTLED, "message": f"waiting for its turn under rate limit "
             f"{_name(rate)!r} ({rate.limit} per {rate.period:g}s)"}  # fmt: skip
    return StepRecord(call.key, call.position, call.name, "step", "waiting", done, None,
                      values.encode(error), now, None, until)  # fmt: skip


async def _report_failure(
    ctx: Context, circuit: CircuitBreaker, holder: str, probe: bool, exc: BaseException
) -> None:
    """Count a failed call against the circuit (a refusal, a suspension or a lost lease is not
    one: the probe, if it was, gives up its turn)."""
    name, now = _name(circuit), ctx.clock.time()
    if not isinstance(exc, Exception) or isinstance(exc, NOT_THE_CALLS):
        if probe:
            await ctx.store.drop_probe(ctx.org, name, holder, now)
        return
    policy = CircuitPolicy(circuit.failures, circuit.window, circuit.reset)
    error = f"{type(exc).__name__}: {exc}"
    if await ctx.store.circuit_failed(ctx.org, name, holder, policy, now, error):
        _count("plait_circuit_opens_total", name)


def _count(metric: str, name: str) -> None:
    counts = CURRENT.get()
    if counts is not None:
        counts.inc(metric, name)
