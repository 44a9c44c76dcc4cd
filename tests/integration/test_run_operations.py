"""Run operations: cancel with a reason, resume from the failed step, fork from a step, retry
from scratch. Counted executions prove which steps ran again and which were reused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from plait import Context, Engine, WorkflowCancelled, WorkflowFailed
from plait.errors import RunNotFound, RunNotResumable, StepNotFound
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]


def checkout(engine: Engine, runs: Counter[str], broken: set[str]) -> None:
    """A four-step code workflow; a step in ``broken`` fails until it is fixed."""

    def step(name: str) -> Callable[[Any], Any]:
        def call(value: Any) -> Any:
            runs[name] += 1
            if name in broken:
                raise RuntimeError(f"{name} is broken")
            return f"{name}({value})"

        return call

    @engine.workflow("checkout")
    async def flow(ctx: Context, order: str) -> str:
        reserved = await ctx.step("reserve", step("reserve"), order)
        charged = await ctx.step("charge", step("charge"), reserved)
        shipped = await ctx.step("ship", step("ship"), charged)
        return str(await ctx.step("notify", step("notify"), shipped))


async def failed_checkout(engine: Engine, runs: Counter[str], broken: set[str]) -> str:
    handle = await engine.start("checkout", "o-1")
    with pytest.raises(WorkflowFailed, match="ship is broken"):
        await handle.result(timeout=10)
    assert runs == {"reserve": 1, "charge": 1, "ship": 1}
    return handle.id


async def test_resume_reruns_the_failed_step_and_reuses_the_ones_before(
    make_engine: MakeEngine,
) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"ship"}
    checkout(engine, runs, broken)
    async with engine:
        run_id = await failed_checkout(engine, runs, broken)
        broken.clear()  # the operator fixed what made "ship" fail
        handle = await engine.handle(run_id).resume(by="ops@example.com", reason="carrier is back")
        assert handle.id == run_id
        assert await handle.result(timeout=10) == "notify(ship(charge(reserve(o-1))))"
        run = await engine.handle(run_id).info()
        registry = await engine.workflows.get("default", "checkout")
    assert runs == {"reserve": 1, "charge": 1, "ship": 2, "notify": 1}
    assert [s.key for s in run.steps] == ["reserve", "charge", "ship", "notify"]
    assert run.status == "succeeded" and run.error is None
    [entry] = run.history
    assert entry.action == "resume" and entry.by == "ops@example.com"
    assert entry.reason == "carrier is back" and entry.rerun == ["ship"]
    # one run that failed and then succeeded counts once, as a success
    assert (registry.run_count, registry.success_count, registry.failure_count) == (1, 1, 0)


async def test_only_a_failed_run_resumes_and_a_refusal_changes_nothing(
    make_engine: MakeEngine,
) -> None:
    engine, runs = make_engine(), Counter[str]()
    checkout(engine, runs, set())
    async with engine:
        handle = await engine.start("checkout", "o-2")
        await handle.result(timeout=10)
        before = await engine.handle(handle.id).info()
        with pytest.raises(RunNotResumable, match=r"it is succeeded; only a failed run"):
            await engine.handle(handle.id).resume()
        with pytest.raises(RunNotFound):
            await engine.handle("run_missing").resume()
        after = await engine.handle(handle.id).info()
    assert after == before and after.history == []
    assert runs == {"reserve": 1, "charge": 1, "ship": 1, "notify": 1}


async def test_fork_reuses_the_steps_before_the_chosen_one(make_engine: MakeEngine) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"ship"}
    checkout(engine, runs, broken)
    async with engine:
        source = await failed_checkout(engine, runs, broken)
        broken.clear()
        by_key = await engine.handle(source).fork("charge", by="ada")
        assert await by_key.result(timeout=10) == "notify(ship(charge(reserve(o-1))))"
        by_number = await engine.handle(source).fork(3, by="ada")  # 3 = "ship"
        await by_number.result(timeout=10)
        forked = await engine.handle(by_key.id).info()
        original = await engine.handle(source).info()
    # "reserve" ran once in all: both forks reused it; "charge" reran in the first fork only
    assert runs == {"reserve": 1, "charge": 2, "ship": 3, "notify": 2}
    assert forked.trigger == "fork" and forked.input == ["o-1"] and forked.status == "succeeded"
    assert original.status == "failed"  # the source run is left as it was
    assert [(e.action, e.run_id) for e in original.history] == [
        ("fork", by_key.id), ("fork", by_number.id),
    ]  # fmt: skip
    assert forked.history[0].action == "forked-from"
    assert forked.history[0].run_id == source and forked.history[0].step == "charge"


async def test_fork_from_a_step_that_does_not_exist_starts_nothing(
    make_engine: MakeEngine,
) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"ship"}
    checkout(engine, runs, broken)
    async with engine:
        source = await failed_checkout(engine, runs, broken)
        with pytest.raises(StepNotFound, match=r"has no step 'pack' \(its steps: reserve, charge"):
            await engine.handle(source).fork("pack")
        with pytest.raises(StepNotFound, match="has no step '9'"):
            await engine.handle(source).fork(9)
        listed = (await engine.list_runs(workflow="checkout")).items
        original = await engine.handle(source).info()
    assert [r.id for r in listed] == [source] and original.history == []


async def test_retry_starts_a_new_run_from_scratch_with_the_same_input(
    make_engine: MakeEngine,
) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"ship"}
    checkout(engine, runs, broken)
    async with engine:
        source = await failed_checkout(engine, runs, broken)
        broken.clear()
        handle = await engine.handle(source).retry(by="bob")
        assert handle.id != source
        assert await handle.result(timeout=10) == "notify(ship(charge(reserve(o-1))))"
        retried = await engine.handle(handle.id).info()
    assert runs == {"reserve": 2, "charge": 2, "ship": 2, "notify": 1}
    assert retried.trigger == "retry" and retried.input == ["o-1"]
    assert retried.history[0].action == "retried-from"
    assert retried.history[0].run_id == source


async def test_cancel_records_who_and_why(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("slow")
    async def slow(ctx: Context) -> str:
        await ctx.sleep("cool-off", hours=1)
        return "done"

    async with engine:
        handle = await engine.start(slow)
        await clock.advance(1)
        cancelled = await engine.handle(handle.id).cancel(reason="duplicate order", by="ops")
        assert cancelled.status == "cancelled"
        with pytest.raises(WorkflowCancelled, match="cancelled by ops: duplicate order"):
            await handle.result(timeout=5)
        run = await engine.handle(handle.id).info()
    assert run.error is not None and run.error["reason"] == "duplicate order"
    assert [(e.action, e.by, e.reason) for e in run.history] == [
        ("cancel", "ops", "duplicate order")
    ]


DEFINITION = {
    "name": "invoice",
    "triggerEvent": "Invoice.due",
    "steps": [
        {"id": "load", "action": "count", "mapping": {"value": "'load'"}},
        {"id": "bill", "action": "fail-bill", "mapping": {"value": "'bill'"}},
        {"id": "mail", "action": "count", "mapping": {"value": "'mail'"}},
    ],
}


async def test_resume_a_definition_on_its_newest_version(make_engine: MakeEngine) -> None:
    engine, runs = make_engine(), Counter[str]()

    @engine.action("count")
    async def count(data: dict[str, str]) -> str:
        runs[data["value"]] += 1
        return data["value"]

    @engine.action("fail-bill")
    async def fail_bill(data: dict[str, str]) -> str:
        runs["fail-bill"] += 1
        raise RuntimeError("the billing action is wrong")

    async def status_of(run_id: str) -> str:
        return str((await engine.runs.get("acme", run_id)).status)

    async with engine:
        created = await engine.workflows.create("acme", DEFINITION)
        await engine.workflows.activate("acme", created.id)
        run = await engine.workflows.trigger("acme", created.id, {})
        await assert_eventually(lambda: _is(status_of(run.id), "failed"))
        assert runs == {"load": 1, "fail-bill": 1}
        fixed = [dict(s) for s in DEFINITION["steps"]]  # type: ignore[call-overload]
        fixed[1]["action"] = "count"
        await engine.workflows.update("acme", created.id, {"steps": fixed})
        resumed = await engine.runs.resume("acme", run.id, newest=True, by="ops")
        assert resumed.workflow_version == 2
        await engine.handle(run.id, org=run.organization).result(timeout=10)
        done = await engine.runs.get("acme", run.id)
    assert runs == {"load": 1, "fail-bill": 1, "bill": 1, "mail": 1}
    assert done.status == "succeeded" and done.history[0].version == 2


async def _is(status: Awaitable[str], expected: str) -> bool:
    return await status == expected
