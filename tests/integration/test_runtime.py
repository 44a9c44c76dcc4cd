"""Runtime semantics on a real SQLite file: results, idempotency, recording, replay."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from plait import (
    Context,
    Engine,
    InvalidArguments,
    SerializationError,
    StepFailed,
    UnknownWorkflow,
    WorkflowFailed,
)
from plait.testing import VirtualClock
from tests.integration.helpers import counter, pump, wait_status

MakeEngine = Callable[..., Engine]


async def test_result_and_every_step_are_recorded(make_engine: MakeEngine) -> None:
    engine = make_engine()
    _, step = counter()

    @engine.workflow("onboard")
    async def onboard(ctx: Context, name: str) -> dict[str, Any]:
        account = await ctx.step("create-account", step("create"), name)
        mail = await ctx.step("send-email", step("send"), account)
        return {"account": account, "mail": mail}

    async with engine:
        handle = await engine.start(onboard, "ada")
        assert await handle.result(timeout=5) == {
            "account": "create:ada",
            "mail": "send:create:ada",
        }
        run = await engine.handle(handle.id).info()
    assert run.status == "succeeded" and run.input == ["ada"] and run.error is None
    assert [(s.key, s.status, s.attempts, s.output) for s in run.steps] == [
        ("create-account", "completed", 1, "create:ada"),
        ("send-email", "completed", 1, "send:create:ada"),
    ]
    assert all(s.started_at and s.finished_at for s in run.steps)
    assert run.created_at <= run.started_at <= run.finished_at  # type: ignore[operator]


async def test_same_run_id_twice_is_one_run_and_one_execution(make_engine: MakeEngine) -> None:
    engine = make_engine()
    counts, step = counter()

    @engine.workflow("charge")
    async def charge(ctx: Context, amount: int) -> str:
        return str(await ctx.step("charge", step("charge"), amount))

    async with engine:
        first = await engine.start(charge, 10, run_id="order-42")
        second = await engine.start(charge, 10, run_id="order-42")
        assert await first.result(timeout=5) == await second.result(timeout=5) == "charge:10"
        third = await engine.start(charge, 10, run_id="order-42")
        assert await third.result(timeout=5) == "charge:10"
        runs = (await engine.list_runs()).items
    assert counts == {"charge": 1}
    assert [r.id for r in runs] == ["order-42"]


async def test_sync_steps_run_in_threads_and_see_their_step_id(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("ids")
    async def ids(ctx: Context) -> list[str | None]:
        def blocking() -> str:
            return f"{threading.current_thread().name}|{ctx.step_id}"

        async def nonblocking() -> str | None:
            return ctx.step_id

        return [await ctx.step("sync", blocking), await ctx.step("async", nonblocking), ctx.step_id]

    async with engine:
        handle = await engine.start(ids)
        thread_and_id, async_id, outside = await handle.result(timeout=5)
    thread, step_id = thread_and_id.split("|")
    assert thread.startswith("plait-step")
    assert step_id == f"{handle.id}/sync"
    assert async_id == f"{handle.id}/async"
    assert outside is None


async def test_gathered_steps_get_keys_in_call_order(make_engine: MakeEngine) -> None:
    engine = make_engine()

    async def fetch(i: int) -> int:
        await asyncio.sleep(0.001 * (3 - i))  # finish in reverse order
        return i * 10

    @engine.workflow("fan-out")
    async def fan_out(ctx: Context) -> list[int]:
        return list(await asyncio.gather(*[ctx.step("fetch", fetch, i) for i in range(3)]))

    async with engine:
        handle = await engine.start(fan_out)
        assert await handle.result(timeout=5) == [0, 10, 20]
        run = await engine.handle(handle.id).info()
    assert [(s.key, s.output) for s in run.steps] == [
        ("fetch", 0),
        ("fetch#2", 10),
        ("fetch#3", 20),
    ]


async def test_a_caught_step_failure_lets_the_workflow_go_on(make_engine: MakeEngine) -> None:
    engine = make_engine()

    def declined() -> None:
        raise ValueError("card declined")

    @engine.workflow("pay")
    async def pay(ctx: Context) -> str:
        try:
            await ctx.step("charge", declined)
        except StepFailed as exc:
            return f"fallback after {exc.error_type}: {exc.message}"
        return "charged"

    async with engine:
        handle = await engine.start(pay)
        assert await handle.result(timeout=5) == "fallback after ValueError: card declined"


async def test_unserialisable_step_result_fails_the_step_naming_it(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    calls = []

    class Opaque:
        pass

    async def make_opaque() -> Opaque:
        calls.append(1)
        return Opaque()

    @engine.workflow("opaque")
    async def opaque(ctx: Context) -> None:
        from plait import RetryPolicy

        await ctx.step("build", make_opaque, retry=RetryPolicy(max_attempts=5, initial_delay=0))

    async with engine:
        handle = await engine.start(opaque)
        with pytest.raises(WorkflowFailed) as caught:
            await handle.result(timeout=5)
        run = await engine.handle(handle.id).info()
    error = caught.value.error
    assert error["type"] == "plait.errors.SerializationError"
    assert "step 'build'" in error["message"] and "workflow 'opaque'" in error["message"]
    assert "Opaque" in error["message"] and error["step"] == "build"
    assert len(calls) == 1  # not retried: the same value would fail again
    assert run.status == "failed"
    assert [(s.key, s.status, s.attempts) for s in run.steps] == [("build", "failed", 1)]


async def test_unserialisable_workflow_result_fails_the_run(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("bad-output")
    async def bad_output(ctx: Context) -> object:
        return {"when": object()}

    async with engine:
        handle = await engine.start(bad_output)
        with pytest.raises(WorkflowFailed, match="result of workflow 'bad-output'.*object"):
            await handle.result(timeout=5)


async def test_bad_start_input_is_rejected_and_stores_nothing(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("greet")
    async def greet(ctx: Context, name: str) -> str:
        return name

    async with engine:
        with pytest.raises(UnknownWorkflow, match="unknown workflow 'gret'.*greet"):
            await engine.start("gret", "ada")
        with pytest.raises(InvalidArguments, match="workflow 'greet'.*expected \\(name\\), got 2"):
            await engine.start(greet, "ada", "lovelace")
        with pytest.raises(InvalidArguments, match="workflow 'greet'.*got 0"):
            await engine.start("greet")
        with pytest.raises(SerializationError, match="input of workflow 'greet'.*object"):
            await engine.start(greet, object())
        assert (await engine.list_runs()).items == []
        handle = await engine.start("greet", "ada")
        assert await handle.result(timeout=5) == "ada"


async def test_a_workflow_that_raises_fails_with_type_message_and_traceback(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()

    @engine.workflow("explode")
    async def explode(ctx: Context) -> None:
        raise RuntimeError("no luck")

    async with engine:
        handle = await engine.start(explode)
        with pytest.raises(WorkflowFailed) as caught:
            await handle.result(timeout=5)
        run = await engine.handle(handle.id).info()
    assert caught.value.run_id == handle.id
    assert run.error is not None
    assert run.error["type"] == "RuntimeError" and run.error["message"] == "no luck"
    assert 'raise RuntimeError("no luck")' in run.error["traceback"]


async def test_recorded_values_replay_identically(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    seen: list[tuple[str, str, float]] = []

    @engine.workflow("values")
    async def recorded(ctx: Context) -> list[Any]:
        sample = (ctx.now().isoformat(), str(ctx.uuid()), ctx.random())
        seen.append(sample)
        await ctx.sleep(3600)
        return list(sample)

    async with engine:
        handle = await engine.start(recorded)
        await wait_status(engine, handle.id, "waiting")
        result = await pump(clock, handle.result(timeout=10), step=600)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert result == list(seen[0])
