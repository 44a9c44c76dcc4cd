"""Resuming a run whose human task expired or whose child failed: the step runs again for real
(a new task, a new child), and the steps before it are reused (counted executions prove it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine, WorkflowFailed
from plait.runtime.children import child_run_id
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import wait_status

MakeEngine = Callable[..., Engine]


async def open_task(engine: Engine, person: str) -> dict[str, Any]:
    """The one open task of ``person``, once it exists."""
    found: list[dict[str, Any]] = []

    async def has_task() -> bool:
        found[:] = (await engine.tasks.find("default", assignee=person, status="open")).items
        return len(found) == 1

    await assert_eventually(has_task)
    return found[0]


async def test_resuming_after_an_expired_task_opens_a_new_task(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, runs = make_engine(clock=clock), Counter[str]()

    def counted(name: str) -> Callable[[], str]:
        def call() -> str:
            runs[name] += 1
            return name

        return call

    @engine.workflow("sign-off")
    async def sign_off(ctx: Context) -> Any:
        await ctx.step("prepare", counted("prepare"))
        answer = await ctx.human_task("Sign off", "ann", choices=["ok"], due=60)
        await ctx.step("file", counted("file"))
        return answer["decision"]

    async with engine:
        handle = await engine.start(sign_off)
        first = await open_task(engine, "ann")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(61)
        await wait_status(engine, handle.id, "failed")
        await engine.handle(handle.id).resume(by="ops@example.com", reason="ann is back")
        second = await open_task(engine, "ann")
        assert second.id != first.id and second.attempt == 2
        assert second.step_key == first.step_key and second.status == "open"
        assert second.due_at > first.due_at  # a new due time, counted from the resume
        await engine.tasks.complete("default", second.id, decision="ok", by="ann")
        assert await handle.result(timeout=10) == "ok"
        tasks = (await engine.tasks.find("default", assignee="ann")).items
    assert runs == {"prepare": 1, "file": 1}
    by_id = {t.id: (t.status, t.attempt) for t in tasks}
    assert by_id == {first.id: ("expired", 1), second.id: ("completed", 2)}


async def test_resuming_a_definition_after_an_expired_task_opens_a_new_task(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, runs = make_engine(clock=clock), Counter[str]()

    @engine.action("count")
    def count(data: dict[str, Any]) -> str:
        runs[data["name"]] += 1
        return str(data["name"])

    engine.define({"name": "sign-off", "steps": [
        {"id": "prepare", "type": "function", "function": "count", "input": {"name": "prepare"}},
        {"id": "sign", "type": "human-task", "assignTo": "input.owner", "timeout": "1h",
         "dependsOn": ["prepare"]},
        {"id": "file", "type": "function", "function": "count", "dependsOn": ["sign"],
         "input": {"name": "file"}},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("sign-off", {"owner": "oli"})
        first = await open_task(engine, "oli")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(3601)
        await wait_status(engine, handle.id, "failed")
        assert (await engine.tasks.get("default", first.id)).status == "expired"
        await engine.handle(handle.id).resume()
        second = await open_task(engine, "oli")
        assert second.id != first.id and second.attempt == 2
        await engine.tasks.complete("default", second.id, decision="approve", by="oli")
        output = await handle.result(timeout=10)
    assert output["sign"]["taskId"] == second.id and output["sign"]["approved"] is True
    assert runs == {"prepare": 1, "file": 1}
    assert (await engine.tasks.get("default", first.id)).status == "expired"


async def test_resuming_after_a_failed_child_starts_a_new_child(make_engine: MakeEngine) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"kid"}

    @engine.workflow("kid")
    async def kid(ctx: Context, value: str) -> str:
        runs["kid"] += 1
        if "kid" in broken:
            raise RuntimeError("kid is broken")
        return f"kid({value})"

    @engine.workflow("parent")
    async def parent(ctx: Context) -> str:
        prepared = await ctx.step("prepare", lambda: runs.update(["prepare"]) or "p")
        return str(await ctx.child(kid, prepared, name="kid"))

    async with engine:
        handle = await engine.start(parent)
        with pytest.raises(WorkflowFailed, match="kid is broken"):
            await handle.result(timeout=10)
        [failed] = await engine_children(engine, handle.id)
        assert failed == child_run_id(handle.id, "kid")
        broken.clear()
        await engine.handle(handle.id).resume(by="ops@example.com")
        assert await handle.result(timeout=10) == "kid(p)"
        children = await engine_children(engine, handle.id)
        statuses = [(await engine.handle(c).info()).status for c in children]
        run = await engine.handle(handle.id).info()
    assert runs == {"prepare": 1, "kid": 2}
    assert children == [failed, child_run_id(handle.id, "kid", 2)]
    assert statuses == ["failed", "succeeded"]
    [entry] = run.history
    assert entry.action == "resume" and entry.rerun == ["kid", "kid.result"]


async def test_resuming_a_definition_after_a_failed_child_starts_a_new_child(
    make_engine: MakeEngine,
) -> None:
    engine, runs, broken = make_engine(), Counter[str](), {"hold"}

    @engine.action("hold-item")
    def hold(data: dict[str, Any]) -> str:
        runs["hold"] += 1
        if "hold" in broken:
            raise ValueError("no stock")
        return f"held {data['item']}"

    @engine.action("count")
    def count(data: dict[str, Any]) -> str:
        runs[data["name"]] += 1
        return str(data["name"])

    engine.define({"name": "reserve", "steps": [
        {"id": "hold", "type": "function", "function": "hold-item",
         "input": {"item": "{{ input.item }}"}}]})  # fmt: skip
    engine.define({"name": "order", "steps": [
        {"id": "prepare", "type": "function", "function": "count", "input": {"name": "prepare"}},
        {"id": "reserve", "type": "workflow", "workflow": "reserve", "input": {"item": "A-1"},
         "dependsOn": ["prepare"]},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("order", {})
        with pytest.raises(WorkflowFailed, match="no stock"):
            await handle.result(timeout=10)
        [failed] = await engine_children(engine, handle.id)
        broken.clear()
        await engine.handle(handle.id).resume()
        output = await handle.result(timeout=10)
        children = await engine_children(engine, handle.id)
    assert output["reserve"] == {"hold": "held A-1"}
    assert runs == {"prepare": 1, "hold": 2}
    assert len(children) == 2 and children[0] == failed and children[1] != failed


async def engine_children(engine: Engine, run_id: str) -> list[str]:
    """The child runs ``run_id`` started, oldest first."""
    store = await engine.deps.store()
    found: list[str] = await store.child_runs(run_id)  # type: ignore[attr-defined]
    return found
