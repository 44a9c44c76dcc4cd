"""Retries, sleeps, suspension and timeouts, driven by the injected virtual clock."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections.abc import Callable

import pytest

from plait import Context, Engine, RetryPolicy, WorkflowFailed
from plait.runtime.context import Context as ContextImpl
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import pump, wait_status

MakeEngine = Callable[..., Engine]


class Flaky(Exception):
    pass


async def test_retries_follow_the_policy_delays_then_succeed(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    attempt_times: list[float] = []

    async def flaky() -> str:
        attempt_times.append(clock.time())
        if len(attempt_times) < 5:
            raise Flaky(f"attempt {len(attempt_times)}")
        return "ok"

    policy = RetryPolicy(max_attempts=5, initial_delay=2, multiplier=3, max_delay=30)

    @engine.workflow("retrying")
    async def retrying(ctx: Context) -> str:
        return str(await ctx.step("call", flaky, retry=policy))

    async with engine:
        handle = await engine.start(retrying)
        assert await pump(clock, handle.result(timeout=10), step=0.5) == "ok"
        run = await engine.handle(handle.id).info()
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(attempt_times)]
    # 2, 2*3, 2*9, min(54, 30): the 2 s delay waits in memory; 6, 18 and 30 are longer than
    # inline_wait_seconds (5 s), so the run suspends for them.
    assert gaps == [2, 6, 18, 30]
    assert [(s.key, s.status, s.attempts) for s in run.steps] == [("call", "completed", 5)]


async def test_retries_stop_at_max_attempts_and_the_run_fails_with_the_error(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    calls = 0

    async def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(f"bad gateway #{calls}")

    @engine.workflow("doomed")
    async def doomed(ctx: Context) -> None:
        await ctx.step("call", always_fails, retry=RetryPolicy(max_attempts=3, initial_delay=10))

    async with engine:
        handle = await engine.start(doomed)
        with pytest.raises(WorkflowFailed) as caught:
            await pump(clock, handle.result(timeout=10), step=5)
        run = await engine.handle(handle.id).info()
    assert calls == 3
    error = caught.value.error
    assert error["type"] == f"{__name__}.Flaky"
    assert error["message"] == "bad gateway #3"
    assert "raise Flaky" in error["traceback"] and error["step"] == "call"
    assert run.status == "failed" and run.error == error
    [step] = run.steps
    assert (step.status, step.attempts, step.error["message"]) == ("failed", 3, "bad gateway #3")  # type: ignore[index]


async def test_non_retryable_errors_are_never_retried(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    calls = 0

    async def declined() -> None:
        nonlocal calls
        calls += 1
        raise PermissionError("card declined")

    policy = RetryPolicy(max_attempts=10, initial_delay=1, non_retryable=(PermissionError,))

    @engine.workflow("declined")
    async def run_declined(ctx: Context) -> None:
        await ctx.step("charge", declined, retry=policy)

    async with engine:
        handle = await engine.start(run_declined)
        with pytest.raises(WorkflowFailed, match="PermissionError: card declined"):
            await pump(clock, handle.result(timeout=10))
    assert calls == 1


async def test_one_hour_sleep_completes_without_real_waiting(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    after: list[float] = []

    @engine.workflow("nap")
    async def nap(ctx: Context) -> str:
        start = ctx.now()
        await ctx.sleep("nap", hours=1)
        after.append(clock.time())
        return str(ctx.now() - start)

    async with engine:
        start = clock.time()
        handle = await engine.start(nap)
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(3599)
        await asyncio.sleep(0.05)
        assert (await engine.handle(handle.id).info()).status == "waiting"
        await clock.advance(1)
        assert await handle.result(timeout=5) == "1:00:00"
        run = await engine.handle(handle.id).info()
    assert after == [start + 3600]
    assert [(s.key, s.kind, s.status) for s in run.steps] == [
        ("now", "now", "completed"),
        ("nap", "sleep", "completed"),
        ("now#2", "now", "completed"),
    ]
    assert run.replays == 2


# 10,000 runs: not beside the other heavy tests, and a deadline for a loaded machine (on two
# cores, 28 s beside one other test process, over 60 s beside three)
@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(300)
async def test_ten_thousand_sleeping_runs_hold_no_coroutines(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("sleeper")
    async def sleeper(ctx: Context, i: int) -> int:
        await ctx.sleep(timedelta_hours(1))
        return i

    async with engine:
        handles = await asyncio.gather(*[engine.start(sleeper, i) for i in range(10_000)])

        async def all_waiting() -> bool:
            store = await engine.deps.store()
            return len(await store.list_runs(None, "waiting", 20_000)) == 10_000

        await assert_eventually(all_waiting, timeout=180)
        worker = engine.worker
        assert worker is not None

        async def worker_idle() -> bool:
            return not worker._active

        await assert_eventually(worker_idle, timeout=5)
        live_runs = [t for t in asyncio.all_tasks() if t.get_name().startswith("plait-run-")]
        assert live_runs == []
        gc.collect()
        assert not [o for o in gc.get_objects() if isinstance(o, ContextImpl)]
        await clock.advance(3600)
        results = await asyncio.gather(*[h.result(timeout=60) for h in handles[:50]])
    assert results == list(range(50))


def timedelta_hours(hours: float) -> float:
    return hours * 3600


async def test_step_timeout_is_a_failed_attempt(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    attempts = 0

    async def hangs() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.Event().wait()

    @engine.workflow("hanging")
    async def hanging(ctx: Context) -> None:
        await ctx.step(
            "hang", hangs, timeout=30, retry=RetryPolicy(max_attempts=2, initial_delay=1)
        )

    async with engine:
        handle = await engine.start(hanging)
        with pytest.raises(WorkflowFailed) as caught:
            # (a hanging attempt counts as work: the virtual clock waits a real second before
            # skipping past it, so a loaded machine needs more than a few real seconds: over 30
            # beside three other test processes)
            await pump(clock, handle.result(timeout=90), step=5)
    assert attempts == 2
    assert caught.value.error["type"] == "plait.errors.StepTimeout"
    assert caught.value.error["message"] == "step 'hang' timed out after 30s"


async def test_run_timeout_fails_a_run_that_waits_too_long(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    ran_after_sleep = False

    @engine.workflow("slow", timeout=60)
    async def slow(ctx: Context) -> None:
        nonlocal ran_after_sleep
        await ctx.sleep(3600)
        ran_after_sleep = True

    async with engine:
        handle = await engine.start(slow)
        await wait_status(engine, handle.id, "waiting")
        assert (await engine.handle(handle.id).info()).wake_at is not None
        with pytest.raises(WorkflowFailed, match="timed out"):
            await pump(clock, handle.result(timeout=10), step=10)
        run = await engine.handle(handle.id).info()
    assert run.error is not None and run.error["type"] == "plait.errors.WorkflowTimeout"
    assert not ran_after_sleep
    assert run.finished_at is not None
    assert (run.finished_at - run.created_at).total_seconds() == pytest.approx(60, abs=1)


async def test_run_timeout_interrupts_a_running_step(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("stuck")
    async def stuck(ctx: Context) -> None:
        await ctx.step("forever", asyncio.Event().wait)

    async with engine:
        handle = await engine.start(stuck, timeout=20)
        with pytest.raises(WorkflowFailed, match="WorkflowTimeout"):
            await pump(clock, handle.result(timeout=10), step=5)


async def test_a_run_between_long_retry_attempts_is_a_waiting_row_without_a_task(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    attempt_times: list[float] = []

    async def flaky() -> str:
        attempt_times.append(clock.time())
        if len(attempt_times) == 1:
            raise Flaky("upstream down")
        return "ok"

    # 600 s is far over inline_wait_seconds (5 s): the run suspends between the attempts.
    policy = RetryPolicy(max_attempts=2, initial_delay=600, max_delay=600)

    @engine.workflow("patient_retry")
    async def patient_retry(ctx: Context) -> str:
        return str(await ctx.step("call", flaky, retry=policy))

    async with engine:
        handle = await engine.start(patient_retry)
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(300)  # inside the gap
        run = await engine.handle(handle.id).info()
        worker = engine.worker
        assert worker is not None and handle.id not in worker.executing
        assert run.status == "waiting"
        [step] = run.steps
        assert (step.key, step.status, step.attempts) == ("call", "retrying", 1)
        assert step.error is not None and step.error["message"] == "upstream down"
        assert step.wake_at is not None
        assert step.wake_at.timestamp() == attempt_times[0] + 600
        assert await pump(clock, handle.result(timeout=10)) == "ok"
        run = await engine.handle(handle.id).info()
    assert [round(t - attempt_times[0], 6) for t in attempt_times] == [0, 600]
    assert [(s.status, s.attempts) for s in run.steps] == [("completed", 2)]
