"""Circuit breakers of code workflows and definitions on every backend (virtual time): failures
open the circuit, an open circuit fails a step at once with the non-retried ``CircuitOpen``
(the action is not called) or, under ``on_open="wait"``, leaves the run waiting until the
circuit half-opens; the probe's success closes it; a manual reset closes it; a circuit may be
shared by name (per organization: see tests/store/test_circuit_store.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

from plait import CircuitBreaker, Context, Engine, RetryPolicy, WorkflowFailed
from plait.errors import CircuitNotFound
from plait.testing import VirtualClock, assert_eventually

LIMIT = 30.0
MakeEngine = Callable[..., Engine]


class Dependency:
    """An outside service: counts its calls, fails while ``down``."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = True

    async def __call__(self, value: Any) -> Any:
        self.calls += 1
        if self.down:
            raise ConnectionError("503 from the payment provider")
        return {"charged": value}


def build(make: MakeEngine, clock: VirtualClock, dep: Dependency, **breaker: Any) -> Engine:
    engine = make(clock=clock, poll_seconds=10**6, lease_seconds=10**7, heartbeat_seconds=10**6)
    policy = CircuitBreaker(**{"failures": 2, "window": 60, "reset": 30, **breaker})
    charge = engine.action("charge", circuit_breaker=policy)(dep)

    @engine.workflow(name="pay")
    async def pay(ctx: Context, value: Any) -> Any:
        return await ctx.step(
            "charge", charge, value, retry=RetryPolicy(max_attempts=3, initial_delay=1)
        )

    return engine


async def outcome(engine: Engine, clock: VirtualClock, value: Any) -> Any:
    handle = await engine.start("pay", value)
    try:
        return await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    except WorkflowFailed as exc:
        return exc.error


async def test_failures_open_the_circuit_and_an_open_one_fails_at_once_unretried(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    dep = Dependency()
    async with build(make_engine, clock, dep) as engine:
        first = await outcome(engine, clock, 1)  # attempt 1 fails, attempt 2 opens the circuit
        assert dep.calls == 2
        assert (
            first["type"] == "plait.errors.CircuitOpen"
        )  # its third attempt was refused, not retried
        second = await outcome(engine, clock, 2)
        assert dep.calls == 2  # not called while open
        assert (
            second["type"] == "plait.errors.CircuitOpen"
            and "circuit 'charge' is open" in second["message"]
        )
        [circuit] = (await engine.circuits.list("default")).items
        assert (circuit.state, circuit.opens, circuit.failures) == ("open", 1, 2)
        assert circuit.last_error == "ConnectionError: 503 from the payment provider"


async def test_after_the_reset_time_a_probe_closes_it(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    dep = Dependency()
    async with build(make_engine, clock, dep) as engine:
        await outcome(engine, clock, 1)
        await clock.advance(31)
        assert (await engine.circuits.get("default", "charge")).state == "half-open"
        dep.down = False
        assert await outcome(engine, clock, 2) == {"charged": 2}  # the probe went through
        assert (await engine.circuits.get("default", "charge")).state == "closed"
        assert await outcome(engine, clock, 3) == {"charged": 3}
        assert dep.calls == 4


async def test_a_failed_probe_opens_it_again(make_engine: MakeEngine, clock: VirtualClock) -> None:
    dep = Dependency()
    async with build(make_engine, clock, dep) as engine:
        await outcome(engine, clock, 1)
        await clock.advance(31)
        failed = await outcome(engine, clock, 2)  # the probe fails; its retry finds it open
        assert failed["type"] == "plait.errors.CircuitOpen" and dep.calls == 3
        circuit = await engine.circuits.get("default", "charge")
        assert (circuit.state, circuit.opens) == ("open", 2)


async def test_under_wait_the_run_waits_suspended_until_the_circuit_half_opens(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    dep = Dependency()
    async with build(make_engine, clock, dep, on_open="wait") as engine:
        await outcome(engine, clock, 1)  # its retries wait, then probe, then fail for good
        opened_at = clock.time()
        dep.down = False
        handle = await engine.start("pay", 2)

        async def suspended() -> bool:  # waiting as a row with a wake time: no slot held
            run = await engine.runs.get("default", handle.id)
            return run.status == "waiting" and engine.worker is not None and not len(
                engine.worker.executing)  # fmt: skip

        await assert_eventually(suspended)
        assert dep.calls == 3  # the first run's two attempts and its failed probe
        assert await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT) == {
            "charged": 2}  # fmt: skip
        assert clock.time() >= opened_at + 1  # it waited for the circuit, durably
        assert (await engine.circuits.get("default", "charge")).state == "closed"


async def test_a_manual_reset_closes_it(make_engine: MakeEngine, clock: VirtualClock) -> None:
    dep = Dependency()
    async with build(make_engine, clock, dep) as engine:
        await outcome(engine, clock, 1)
        dep.down = False
        assert (await engine.circuits.list("globex")).items == []  # another tenant's: none
        reset = await engine.circuits.reset("default", "charge")
        assert (reset.state, reset.failures) == ("closed", 0)
        assert await outcome(engine, clock, 3) == {"charged": 3}
        with pytest.raises(CircuitNotFound, match="no circuit 'nothing'"):
            await engine.circuits.reset("default", "nothing")


async def test_a_named_circuit_is_shared_by_the_actions_that_name_it(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    calls: list[str] = []

    async def refund(value: Any) -> Any:
        calls.append("refund")
        return value

    async def charge(value: Any) -> Any:
        calls.append("charge")
        raise ConnectionError("down")

    shared = {"failures": 1, "reset": 60, "name": "stripe"}
    engine.action("charge", circuit_breaker=shared)(charge)
    engine.action("refund", circuit_breaker=shared)(refund)
    engine.define({"name": "settle", "dialect": "canonical", "on_error": "continue", "steps": [
        {"kind": "action", "id": "charge", "action": "charge"},
        {"kind": "action", "id": "refund", "action": "refund", "after": ["charge"]},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("settle", {})
        with contextlib.suppress(WorkflowFailed):  # neither step succeeded
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        run = await engine.runs.get("default", handle.id)
    assert calls == ["charge"]  # the refund found the shared circuit open
    errors = {step.name: step.error for step in run.steps}
    assert errors["refund"] is not None and errors["refund"]["type"] == "plait.errors.CircuitOpen"


async def test_errors_that_are_not_the_dependency_s_do_not_count(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    # A result that does not encode is the workflow's bug, not the dependency failing.
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    calls: list[int] = []

    async def odd(value: Any) -> Any:
        calls.append(value)
        return object()

    action = engine.action("odd", circuit_breaker=CircuitBreaker(failures=1))(odd)

    @engine.workflow(name="pay")
    async def pay(ctx: Context, value: Any) -> Any:
        return await ctx.step("odd", action, value)

    async with engine:
        for value in (1, 2):
            failed = await outcome(engine, clock, value)
            assert failed["type"] == "plait.errors.SerializationError"
        assert calls == [1, 2]  # the second was not refused: the circuit never opened
        circuit = await engine.circuits.list("default")
        assert [c.state for c in circuit.items] in ([], ["closed"])
