"""Executing one step: replay its record or run its attempts under the retry policy."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait import logfields, tracing, values
from plait.clock import within, working
from plait.errors import LeaseLost, SerializationError, StepFailed, StepTimeout
from plait.metrics import CURRENT
from plait.retry import NO_RETRY, RetryPolicy
from plait.runtime import gates, spans, step_cache
from plait.store.records import StepRecord

if TYPE_CHECKING:
    from plait.clock import Clock
    from plait.runtime.context import Context, _Call
    from plait.runtime.limits import StepLimits
    from plait.runtime.step_cache import Cache


@dataclass(frozen=True, slots=True)
class StepAttempt:
    """One attempt of a step about to run, as a step hook sees it."""

    run_id: str
    workflow: str
    name: str
    key: str
    """The step's name and occurrence: ``charge``, ``charge#2``."""
    attempt: int
    """1 for the first attempt, 2 for the first retry, ..."""
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


StepHook = Callable[[StepAttempt], Callable[..., Any]]
"""What an engine may be given to choose the callable of each step attempt (``plait.testing``
replaces mocked steps with it); it returns ``attempt.fn`` to run the step as written."""


async def run_step(
    ctx: Context,
    call: _Call,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    retry: RetryPolicy | None,
    timeout: float | None,
    cache: Cache | None = None,
    limits: StepLimits | None = None,
) -> Any:
    """Return the step's result: recorded, or produced by running attempts until one succeeds."""
    recorded = call.recorded
    attempts = 0
    if recorded is not None:
        if recorded.status == "completed":
            return values.decode(recorded.output)
        if recorded.status == "failed":
            raise StepFailed(ctx.run_id, call.key, values.decode(recorded.error))
        attempts = recorded.attempts
        await wait_until(ctx, recorded.wake_at)
    slot = None
    if cache is not None:  # a hit is the step's output: its callable is not called
        slot, hit = await step_cache.consult(ctx, call, cache, args, kwargs)
        if hit is not None:
            return values.decode(hit)
    policy = retry or NO_RETRY
    reserved = limits is not None and gates.reserved_turn(recorded)
    while True:
        attempts += 1
        await _ensure_live(ctx)
        started = ctx.clock.time()
        try:
            if limits is None:
                output = await _produce(ctx, call, fn, args, kwargs, attempts, timeout)
            else:  # its rate limit, bulkhead and circuit breaker (plait.runtime.gates)
                produce = functools.partial(_produce, ctx, call, fn, args, kwargs, attempts,
                                            timeout)  # fmt: skip
                held, reserved = reserved, False  # a retry reserves a turn of its own
                output = await gates.guarded(ctx, call, limits, held, produce, attempts - 1,
                                             timeout)  # fmt: skip
        except Exception as exc:
            final = isinstance(exc, SerializationError) or attempts >= policy.max_attempts
            if final or not policy.retries(exc):
                _count(ctx, call.name, started, "plait_step_failures_total")
                error = values.error_info(exc)
                await _record(ctx, call, "failed", attempts, None, error, started)
                raise StepFailed(ctx.run_id, call.key, error) from exc
            _count(ctx, call.name, started, "plait_step_retries_total")
            wake = ctx.clock.time() + policy.delay(attempts)
            await _record(
                ctx, call, "retrying", attempts, None, values.error_info(exc), started, wake
            )
            await wait_until(ctx, wake)
            continue
        _count(ctx, call.name, started, None)
        await _record(ctx, call, "completed", attempts, output, None, started)
        if slot is not None:
            await step_cache.remember(ctx, call, slot, output)
        return values.decode(output)


async def _produce(
    ctx: Context,
    call: _Call,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
    timeout: float | None,
) -> bytes:
    """Run attempt ``attempt`` and encode its result."""
    target = _chosen(ctx, call, fn, args, kwargs, attempt)
    return _encode_output(
        ctx, call.key, await _attempt(ctx, call, attempt, target, args, kwargs, timeout)
    )


def _count(ctx: Context, step: str, started: float, failure: str | None) -> None:
    """Count an attempt that ended (and ``failure``, the counter of how it failed)."""
    counts = CURRENT.get()
    if counts is not None:
        counts.inc("plait_step_attempts_total", ctx.workflow, step)
        counts.observe("plait_step_duration_seconds", ctx.clock.time() - started, ctx.workflow,
                       step)  # fmt: skip
        if failure is not None:
            counts.inc(failure, ctx.workflow, step)


async def run_sleep(ctx: Context, call: _Call, seconds: float) -> None:
    """Wait until the recorded wake time (recording it first if this is the first replay)."""
    record = call.recorded
    if record is not None and record.status == "completed":
        return
    if record is None:
        now = ctx.clock.time()
        record = StepRecord(call.key, call.position, call.name, "sleep", "waiting",
                            started_at=now, wake_at=now + max(0.0, seconds))  # fmt: skip
        await ctx.store.record_step(ctx.run_id, ctx.fence, record)
    await wait_until(ctx, record.wake_at)
    record.status, record.attempts, record.finished_at = "completed", 1, ctx.clock.time()
    ctx.record_later(record)


async def run_wait(
    ctx: Context,
    call: _Call,
    event_type: str,
    match: str | None,
    timeout: float | None,
    scope: dict[str, Any] | None = None,
) -> Any:
    """The awaited event (recorded when it arrived), or None after the timeout."""
    record = call.recorded
    if record is not None and record.status == "completed":
        return values.decode(record.output)
    now = ctx.clock.time()
    if record is None:
        spec = values.encode({"type": event_type, "match": match})
        wake = None if timeout is None else now + timeout
        record = StepRecord(call.key, call.position, call.name, "wait", "waiting", 0, spec,
                            started_at=now, wake_at=wake)  # fmt: skip
        bindings = None if scope is None else values.encode(scope)
        await ctx.store.record_wait(ctx.run_id, ctx.fence, record, ctx.org, event_type, match,
                                    bindings)  # fmt: skip
    if record.wake_at is not None and now >= record.wake_at:  # timed out: no event
        record.status, record.output, record.finished_at = "completed", b"null", now
        ctx.record_later(record)
        await ctx.store.remove_event_wait(ctx.run_id, call.key)
        return None
    raise ctx.suspend(record.wake_at)


async def wait_until(ctx: Context, wake_at: float | None) -> None:
    """Wait in memory for short waits; suspend the run for long ones."""
    if wake_at is None:
        return
    remaining = wake_at - ctx.clock.time()
    if remaining <= 0:
        return
    if remaining <= ctx.settings.inline_wait_seconds:
        await ctx.clock.sleep(remaining)
        return
    raise ctx.suspend(wake_at)


def _chosen(
    ctx: Context,
    call: _Call,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
) -> Callable[..., Any]:
    """The callable this attempt runs: ``fn``, unless the engine's step hook says otherwise."""
    hook = ctx.step_hook
    if hook is None:
        return fn
    return hook(StepAttempt(ctx.run_id, ctx.workflow, call.name, call.key, attempt, fn, args,
                            kwargs))  # fmt: skip


async def _ensure_live(ctx: Context) -> None:
    # One indexed read per attempt: a run cancelled (or taken over) by another process never
    # starts another step here. The read counts as work: a virtual clock does not skip time
    # while the attempt is about to start.
    with working(ctx.clock):
        state = await ctx.store.run_state(ctx.run_id)
    if state != ("running", ctx.fence):
        raise LeaseLost(ctx.run_id)


async def _attempt(
    ctx: Context,
    call: _Call,
    attempt: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    token = ctx.step_scope(call.key)
    fields = logfields.bind_step(call.name, attempt)  # what the attempt logs names the step
    try:
        with working(ctx.clock):
            if tracing.ACTIVE is None:  # tracing off: no span, nothing else to do
                return await _call(ctx, call.key, fn, args, kwargs, timeout)
            return await _traced_call(ctx, call, attempt, fn, args, kwargs, timeout)
    finally:
        logfields.unbind(fields)
        token.var.reset(token)


async def _traced_call(
    ctx: Context,
    call: _Call,
    attempt: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    """``_call`` inside the attempt's ``plait.step.attempt`` span (current while it runs, so
    what the step calls, an ``http`` request included, is its child)."""
    traced = tracing.ACTIVE
    assert traced is not None
    span = spans.open_attempt(traced, ctx.run_id, ctx.workflow, ctx.org, call.name, call.key,
                              attempt, args, kwargs)  # fmt: skip
    try:
        result = await _call(ctx, call.key, fn, args, kwargs, timeout)
    except BaseException as exc:
        spans.end_attempt(traced, span, None, exc)
        raise
    spans.end_attempt(traced, span, result, None)
    return result


async def _call(
    ctx: Context,
    key: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    thread = None
    if inspect.iscoroutinefunction(fn):
        pending: Awaitable[Any] = fn(*args, **kwargs)
    else:
        call = functools.partial(fn, *args, **kwargs)
        thread = ctx.threads.submit(contextvars.copy_context().run, call)
        pending = asyncio.wrap_future(thread)
    try:
        result = await (pending if timeout is None else _bounded(ctx.clock, pending, timeout, key))
    except StepTimeout:
        if thread is not None:  # abandoned: its bulkhead permit is held until it ends
            gates.abandon(thread)
        raise
    if inspect.isawaitable(result):
        result = await result
    return result


async def _bounded(clock: Clock, pending: Awaitable[Any], seconds: float, key: str) -> Any:
    """``pending`` within ``seconds``, else ``StepTimeout``.

    A timed-out coroutine is cancelled; a timed-out thread cannot be stopped and is abandoned.
    """
    finished, result = await within(clock, pending, seconds)
    if not finished:
        raise StepTimeout(key, seconds)
    return result


def _encode_output(ctx: Context, key: str, result: Any) -> bytes:
    try:
        return values.encode(result)
    except TypeError as exc:
        what = f"the result of step {key!r} in workflow {ctx.workflow!r}"
        raise SerializationError(what, values.offending_type(result), str(exc)) from exc


async def _record(
    ctx: Context,
    call: _Call,
    status: str,
    attempts: int,
    output: bytes | None,
    error: dict[str, Any] | None,
    started: float,
    wake_at: float | None = None,
) -> None:
    finished = None if status == "retrying" else ctx.clock.time()
    record = StepRecord(
        call.key, call.position, call.name, "step", status, attempts, output,
        None if error is None else values.encode(error), started, finished, wake_at,
    )  # fmt: skip
    with working(ctx.clock):  # a virtual clock waits for the record before skipping time
        await ctx.store.record_step(ctx.run_id, ctx.fence, record)
