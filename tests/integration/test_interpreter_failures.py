"""Failure semantics of declarative workflows, under virtual time: when compensations run and
in what order, rollback, group timeouts, run timeouts, and `any` winners."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from plait import Engine
from plait.definitions.load import check_definition
from plait.errors import WorkflowCancelled
from plait.resources.reports import RunReport
from plait.testing import VirtualClock
from tests.integration.test_interpreter import action, calls, engine, run

__all__ = ["calls", "engine"]  # fixtures used below


def undo(step_id: str, *, fails: bool = False) -> dict[str, Any]:
    return action(f"{step_id}.compensate", "fail" if fails else "echo",
                  f"undo {step_id} {{{{output}}}}")  # fmt: skip


def undone(calls: list[tuple[str, Any]]) -> list[str]:
    return [value for _, value in calls if str(value).startswith("undo")]


async def test_a_failed_output_schema_compensates_completed_steps(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        action("charge", "echo", "c1", compensation=undo("charge"), depends_on=["reserve"]),
    ], output="{{charge}}", output_schema={"type": "integer"})  # fmt: skip
    assert report["status"] == "failed"
    assert report["errors"][-1]["type"] == "plait.errors.SchemaViolation"
    assert "does not match its schema" in report["errors"][-1]["message"]
    assert undone(calls) == ["undo charge c1", "undo reserve r1"]
    assert report["steps"]["charge.compensate"]["status"] == "succeeded"


async def test_a_run_timeout_cancels_running_steps_and_compensates(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    started = clock.time()
    report = await run(engine, clock, [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        action("ship", "slow", {"seconds": 100, "name": "ship"}, compensation=undo("ship"),
               depends_on=["reserve"]),
    ], timeout=30)  # fmt: skip
    assert report["status"] == "failed"
    assert report["errors"][-1]["type"] == "plait.errors.WorkflowTimeout"
    assert report["errors"][-1]["message"].endswith("timed out after 30s")
    assert clock.time() - started == pytest.approx(30)
    assert undone(calls) == ["undo reserve r1"]  # ship never completed: nothing to undo
    assert report["steps"]["reserve.compensate"]["status"] == "succeeded"
    assert report["steps"].get("ship", {}).get("status") != "succeeded"


async def test_a_run_timeout_reached_while_suspended_compensates_on_waking(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    started = clock.time()
    report = await run(engine, clock, [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        {"kind": "sleep", "id": "pause", "seconds": 86400, "depends_on": ["reserve"]},
        action("ship", "echo", "box", depends_on=["pause"]),
    ], timeout=3600)  # fmt: skip
    assert report["status"] == "failed"
    assert report["errors"][-1]["message"].endswith("timed out after 3600s")
    assert clock.time() - started == pytest.approx(3600)  # woke at the deadline, not after a day
    assert undone(calls) == ["undo reserve r1"]
    assert "ship" not in report["steps"]
    assert sum(1 for name, _ in calls if name == "echo") == 2  # reserve ran once, undo once


async def test_a_cancelled_run_is_not_compensated(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    workflow = engine.define({"name": "saga", "dialect": "canonical", "steps": [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        {"kind": "sleep", "id": "pause", "seconds": 86400, "depends_on": ["reserve"]},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        for _ in range(200):
            if [name for name, _ in calls]:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await engine.handle(handle.id).cancel(reason="changed our mind")
        with pytest.raises(WorkflowCancelled, match="changed our mind"):
            await clock.run_skipping(handle.result())
        info = await engine.handle(handle.id).info()
    assert info.status == "cancelled"
    assert undone(calls) == []


async def test_compensations_follow_completion_order_not_definition_order(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("a", "slow", {"seconds": 10, "name": "a"}, compensation=undo("a")),
        action("b", "slow", {"seconds": 1, "name": "b"}, compensation=undo("b")),
        action("c", "fail", "c", depends_on=["a", "b"]),
    ])  # fmt: skip
    assert report["status"] == "failed"
    # b ended at 1 s and a at 10 s: a, the last to complete, is undone first.
    assert undone(calls) == ["undo a a", "undo b b"]
    steps = report["steps"]
    assert steps["a.compensate"]["finishedAt"] <= steps["b.compensate"]["startedAt"]


async def test_rollback_runs_the_failed_steps_compensation_first(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("approve", "echo", {"id": "apr-1"}, compensation=undo("approve")),
        action("pay", "fail", "card", on_error="rollback", depends_on=["approve"], compensation=[
            action("pay.undo-1", "echo", "undo approval {{output.id}}", undoes="approve"),
            action("pay.undo-2", "echo", "undo notify {{output}}"),
        ]),
    ])  # fmt: skip
    assert report["status"] == "failed"
    assert undone(calls) == [
        "undo approval apr-1",  # stepId: approve -> output is approve's
        "undo notify ",  # pay's own output: null
        'undo approve {"id":"apr-1"}',
    ]
    assert report["steps"]["pay.undo-1"]["status"] == "succeeded"


async def test_a_failing_compensation_step_ends_its_sequence_only(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        action("charge", "echo", "c1", depends_on=["reserve"], compensation=[
            action("charge.undo-1", "fail", "undo charge 1"),
            action("charge.undo-2", "echo", "undo charge 2"),
        ]),
        action("ship", "fail", "box", depends_on=["charge"]),
    ])  # fmt: skip
    assert undone(calls) == ["undo charge 1", "undo reserve r1"]
    assert report["steps"]["charge.undo-1"]["status"] == "failed"
    assert "charge.undo-2" not in report["steps"]


async def test_any_never_picks_a_child_that_failed_without_raising(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "quote", "strategy": "any", "steps": [
            action("optional", "slow", {"seconds": 1, "name": "o", "fail": True},
                   required=False),
            action("lenient", "slow", {"seconds": 2, "name": "l", "fail": True},
                   on_error="continue"),
            action("good", "slow", {"seconds": 5, "name": "good"})]},
    ])  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["output"]["quote"] == "good"
    assert report["steps"]["optional"]["status"] == "failed"


async def test_any_fails_when_every_child_failed_even_quietly(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "quote", "strategy": "any", "steps": [
            action("optional", "fail", "o", required=False),
            action("lenient", "fail", "l", on_error="continue")]},
    ])  # fmt: skip
    assert report["status"] == "failed"
    assert report["steps"]["quote"]["status"] == "failed"
    assert "no parallel step succeeded" in report["steps"]["quote"]["error"]["message"]


@pytest.mark.parametrize("kind", ["parallel", "foreach", "condition"])
async def test_a_group_timeout_bounds_the_whole_group(
    engine: Engine, clock: VirtualClock, calls: list[Any], kind: str
) -> None:
    slow = [action("work", "slow", {"seconds": 100, "name": "w"})]
    group: dict[str, Any] = {"kind": kind, "id": "group", "timeout": 5, "on_error": "continue"}
    if kind == "parallel":
        group["steps"] = slow
    elif kind == "foreach":
        group.update(items="[1, 2]", steps=slow)
    else:
        group.update(test="true", then=slow)
    started = clock.time()
    report = await run(engine, clock, [group, action("after", "echo", "{{group}}",
                                                     depends_on=["group"]),
                                       action("other", "echo", "o")])  # fmt: skip
    assert clock.time() - started == pytest.approx(5)
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")  # continue
    assert report["steps"]["after"]["status"] == "succeeded"  # continue: it sees null
    assert report["output"]["after"] is None
    error = next(e for e in report["errors"] if e["type"] == "plait.errors.StepTimeout")
    assert error["message"] == "step 'group' timed out after 5s"
    assert not any(
        s["status"] == "succeeded" for k, s in report["steps"].items() if k.startswith("work")
    )


async def test_a_group_that_ends_in_time_is_not_affected(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "group", "timeout": 50,
         "steps": [action("x", "slow", {"seconds": 10, "name": "x"}), action("y", "echo", 2)]},
    ])  # fmt: skip
    assert report["output"]["group"] == {"x": "x", "y": 2}


def test_a_retry_policy_on_a_group_is_refused_with_its_path() -> None:
    result = check_definition({
        "name": "groups",
        "steps": [
            {"id": "both", "type": "parallel", "retryPolicy": {"maxAttempts": 3},
             "steps": [{"id": "a"}, {"id": "b"}]},
        ],
    })  # fmt: skip
    assert [str(p) for p in result.errors] == [
        "$.steps[0].retryPolicy: a parallel step cannot be retried: give the retry policy to "
        "the steps inside it (a timeout on the group does apply)"
    ]


async def test_build_report_hides_deadline_records(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "group", "timeout": 50, "steps": [action("x", "echo", 1)]},
    ])  # fmt: skip
    assert set(report["steps"]) == {"group", "x"}
    info = await engine.handle(report["runId"]).info()
    assert RunReport.of(info).wire()["steps"].keys() == report["steps"].keys()
