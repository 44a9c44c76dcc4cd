"""Execution semantics of declarative workflows (canonical model), under virtual time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine, InvalidArguments
from plait.actions.base import ActionError
from plait.resources.reports import RunReport
from plait.testing import VirtualClock

MakeEngine = Callable[..., Engine]


def action(step_id: str, name: str, input: Any = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "action", "id": step_id, "action": name, "input": input, **extra}


async def run(
    engine: Engine, clock: VirtualClock, steps: list[dict[str, Any]], value: Any = None,
    **definition: Any,
) -> dict[str, Any]:  # fmt: skip
    workflow = engine.define({"name": "wf", "dialect": "canonical", "steps": steps, **definition})
    async with engine:
        handle = await engine.start(workflow, value)

        async def finish() -> None:
            try:
                await handle.result()
            except Exception:
                return

        await clock.run_skipping(finish())
        return RunReport.of(await engine.handle(handle.id).info()).wire()


@pytest.fixture
def engine(make_engine: MakeEngine, clock: VirtualClock) -> Engine:
    return make_engine(
        clock=clock, poll_seconds=10**6, lease_seconds=10**7, heartbeat_seconds=10**6
    )


@pytest.fixture
def calls(engine: Engine) -> list[tuple[str, Any]]:
    """Register `echo`, `fail`, `flaky` and `slow` actions; record every call."""
    seen: list[tuple[str, Any]] = []
    failures: dict[str, int] = {}

    @engine.action("echo")
    async def echo(value: Any) -> Any:
        seen.append(("echo", value))
        return value

    @engine.action("fail")
    async def fail(value: Any) -> Any:
        seen.append(("fail", value))
        raise ActionError(f"failed: {value}")

    @engine.action("flaky")
    async def flaky(value: dict[str, Any]) -> Any:
        seen.append(("flaky", value))
        failures[value["key"]] = failures.get(value["key"], 0) + 1
        if failures[value["key"]] <= value["fail_times"]:
            raise ActionError(f"flaky attempt {failures[value['key']]}")
        return "recovered"

    @engine.action("slow")
    async def slow(value: dict[str, Any]) -> Any:
        seen.append(("slow", value))
        await engine.clock.sleep(value["seconds"])
        if value.get("fail"):
            raise ActionError(f"slow failure {value['name']}")
        return value["name"]

    return seen


async def test_templates_read_input_and_earlier_steps(engine: Engine, clock: VirtualClock,
                                                       calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        action("account", "echo", {"email": "{{input.email}}", "plan": "{{input.plan}}"}),
        action("mail", "echo", {"to": "{{account.email}}", "text": "Hi {{input.name}}!"},
               depends_on=["account"]),
    ], {"email": "a@b.c", "plan": "pro", "name": "Ada"})  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["output"] == {
        "account": {"email": "a@b.c", "plan": "pro"},
        "mail": {"to": "a@b.c", "text": "Hi Ada!"},
    }
    assert report["steps"]["mail"]["status"] == "succeeded"
    assert report["steps"]["mail"]["attempts"] == 1


async def test_independent_steps_run_concurrently(engine: Engine, clock: VirtualClock,
                                                  calls: list[Any]) -> None:  # fmt: skip
    started = clock.time()
    report = await run(engine, clock, [
        action("a", "slow", {"seconds": 10, "name": "a"}),
        action("b", "slow", {"seconds": 10, "name": "b"}),
        action("c", "echo", "{{[a, b]}}", depends_on=["a", "b"]),
    ])  # fmt: skip
    assert report["output"]["c"] == ["a", "b"]
    assert clock.time() - started == pytest.approx(10)  # not 20: a and b overlapped


async def test_missing_key_fails_the_step_naming_step_field_and_expression(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("mail", "echo", {"to": "{{input.customer.email}}"}),
    ], {"customer": {}})  # fmt: skip
    assert report["status"] == "failed"
    message = report["steps"]["mail"]["error"]["message"]
    assert "email" in message and "input.customer.email" in message and "to" in message
    assert calls == []  # the action never ran


async def test_false_condition_skips_and_dependents_see_null(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("manager", "echo", {"email": "m@x"}, condition='input.plan === "enterprise"'),
        action("kickoff", "echo", "{{manager}}", condition="!!manager", depends_on=["manager"]),
        action("always", "echo", "{{manager}}", depends_on=["manager"]),
    ], {"plan": "starter"})  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["steps"]["manager"]["status"] == "skipped"
    assert report["steps"]["kickoff"]["status"] == "skipped"
    assert report["output"]["always"] is None


async def test_condition_step_runs_one_branch_and_records_it(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "condition", "id": "verify", "test": 'input.type == "business"',
         "then": [action("business", "echo", "biz")], "else": [action("personal", "echo", "me")]},
    ], {"type": "business"})  # fmt: skip
    assert report["steps"]["verify"]["branch"] == "then"
    assert report["steps"]["business"]["status"] == "succeeded"
    assert "personal" not in report["steps"]
    assert report["output"]["verify"] == "biz"


async def test_stop_fails_the_run_after_the_retries(engine: Engine, clock: VirtualClock,
                                                    calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        action("pay", "fail", "card", retry={"max_attempts": 3, "initial_delay": 10}),
        action("ship", "echo", "box", depends_on=["pay"]),
    ])  # fmt: skip
    assert report["status"] == "failed"
    assert report["steps"]["pay"]["attempts"] == 3
    assert "ship" not in report["steps"]
    assert report["errors"][0]["step"] == "pay"
    assert report["errors"][0]["message"] == "failed: card"


async def test_retry_policy_resolves_step_then_workflow(engine: Engine, clock: VirtualClock,
                                                        calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        action("own", "fail", "x", retry={"max_attempts": 2}, on_error="continue"),
        action("inherited", "fail", "y", on_error="continue"),
    ], retry={"max_attempts": 4, "initial_delay": 1})  # fmt: skip
    assert (report["status"], report["outcome"]) == ("failed", "failed")  # no step succeeded
    assert report["steps"]["own"]["attempts"] == 2
    assert report["steps"]["inherited"]["attempts"] == 4
    assert [e["step"] for e in report["errors"]] == ["own", "inherited", None]  # and the run's


async def test_continue_records_the_failure_and_carries_on(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("a", "fail", "a"),
        action("b", "echo", "{{a}}", depends_on=["a"]),
        action("c", "echo", "c"),
    ], on_error="continue")  # fmt: skip
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")
    assert report["steps"]["a"]["status"] == "failed"
    # continue: the run carries on as if a had ended with null, so b runs and sees null.
    assert report["steps"]["b"]["status"] == "succeeded"
    assert report["output"] == {"a": None, "b": None, "c": "c"}
    assert report["errors"] == [{"step": "a", "type": "plait.actions.base.ActionError",
                                 "message": "failed: a"}]  # fmt: skip


async def test_optional_step_may_fail_without_failing_the_run(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("notify", "fail", "n", required=False),
        action("done", "echo", "ok"),
        action("log", "echo", "{{notify}}", depends_on=["notify"]),
    ])  # fmt: skip
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")
    assert report["output"]["done"] == "ok"
    assert [e["step"] for e in report["errors"]] == ["notify"]
    # A step that needs the optional step's result cannot run: it is skipped, naming it.
    assert report["steps"]["log"]["status"] == "skipped"
    assert report["steps"]["log"]["output"] == {"reason": "dependency", "failed": ["notify"]}


async def test_fallback_runs_and_its_output_replaces_the_step(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("kickoff", "fail", "call", on_error="fallback",
               fallback=[action("kickoff.fallback", "echo", "link sent")]),
        action("after", "echo", "{{kickoff}}", depends_on=["kickoff"]),
    ])  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["steps"]["kickoff"]["status"] == "failed"
    assert report["steps"]["kickoff.fallback"]["status"] == "succeeded"
    assert report["output"]["after"] == "link sent"


async def test_compensations_run_in_reverse_order_and_are_recorded(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    def undo(step_id: str, *, fails: bool = False) -> dict[str, Any]:
        return action(f"{step_id}.compensate", "fail" if fails else "echo",
                      f"undo {step_id} {{{{output}}}}")  # fmt: skip

    report = await run(engine, clock, [
        action("reserve", "echo", "r1", compensation=undo("reserve")),
        action("invoice", "echo", "i1", compensation=undo("invoice", fails=True),
               depends_on=["reserve"]),
        action("charge", "echo", "c1", compensation=undo("charge"), depends_on=["invoice"]),
        action("ship", "fail", "box", depends_on=["charge"]),
    ])  # fmt: skip
    assert report["status"] == "failed"
    undone = [value for name, value in calls if str(value).startswith("undo")]
    assert undone == ["undo charge c1", "undo invoice i1", "undo reserve r1"]
    assert report["steps"]["charge.compensate"]["status"] == "succeeded"
    assert report["steps"]["invoice.compensate"]["status"] == "failed"
    assert report["steps"]["reserve.compensate"]["status"] == "succeeded"
    assert report["errors"][0]["step"] == "ship" or report["errors"][-1]["step"] == "ship"


async def test_parallel_all_reports_each_child(engine: Engine, clock: VirtualClock,
                                               calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "group", "strategy": "all", "steps": [
            action("ok", "echo", 1), action("bad1", "fail", 2), action("bad2", "fail", 3)]},
    ])  # fmt: skip
    assert report["status"] == "failed"
    assert report["steps"]["ok"]["status"] == "succeeded"
    assert report["steps"]["bad1"]["status"] == "failed"
    assert report["steps"]["bad2"]["status"] == "failed"
    assert report["steps"]["group"]["status"] == "failed"
    assert "2 of 3" in report["steps"]["group"]["error"]["message"]
    assert report["steps"]["group"]["output"] is None


async def test_parallel_all_succeeds_with_every_output(engine: Engine, clock: VirtualClock,
                                                       calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "group",
         "steps": [action("x", "echo", 1), action("y", "echo", 2)]},
    ])  # fmt: skip
    assert report["output"]["group"] == {"x": 1, "y": 2}


async def test_parallel_any_takes_the_first_success(engine: Engine, clock: VirtualClock,
                                                    calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "quote", "strategy": "any", "steps": [
            action("fast-fail", "slow", {"seconds": 1, "name": "ff", "fail": True}),
            action("medium", "slow", {"seconds": 5, "name": "medium"}),
            action("late", "slow", {"seconds": 50, "name": "late"})]},
    ])  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["output"]["quote"] == "medium"
    assert "late" not in report["steps"] or report["steps"]["late"]["status"] != "succeeded"


async def test_parallel_first_takes_the_first_to_finish_even_a_failure(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        {"kind": "parallel", "id": "quote", "strategy": "first", "steps": [
            action("fast-fail", "slow", {"seconds": 1, "name": "ff", "fail": True}),
            action("medium", "slow", {"seconds": 5, "name": "medium"})]},
    ])  # fmt: skip
    assert report["status"] == "failed"
    assert report["errors"][0]["step"] == "fast-fail"


async def test_foreach_honours_its_concurrency_limit(engine: Engine, clock: VirtualClock,
                                                     calls: list[Any]) -> None:  # fmt: skip
    started = clock.time()
    report = await run(engine, clock, [
        {"kind": "foreach", "id": "each", "items": "input.names", "as": "name", "concurrency": 2,
         "steps": [action("greet", "slow", {"seconds": 10, "name": "{{name}}-{{index}}"})]},
    ], {"names": ["a", "b", "c", "d"]})  # fmt: skip
    assert report["output"]["each"] == ["a-0", "b-1", "c-2", "d-3"]
    assert clock.time() - started == pytest.approx(20)  # 4 items, 2 at a time, 10 s each
    assert report["steps"]["greet[3]"]["status"] == "succeeded"


async def test_step_timeout_resolves_step_then_workflow(engine: Engine, clock: VirtualClock,
                                                        calls: list[Any]) -> None:  # fmt: skip
    report = await run(engine, clock, [
        action("own", "slow", {"seconds": 100, "name": "own"}, timeout=5, on_error="continue"),
        action("inherited", "slow", {"seconds": 100, "name": "i"}, on_error="continue"),
        action("quick", "slow", {"seconds": 1, "name": "quick"}),
    ], step_timeout=30)  # fmt: skip
    assert report["steps"]["own"]["error"]["message"] == "step 'own' timed out after 5s"
    assert (
        report["steps"]["inherited"]["error"]["message"] == "step 'inherited' timed out after 30s"
    )
    assert report["output"]["quick"] == "quick"


async def test_sleep_step_takes_virtual_time_only(engine: Engine, clock: VirtualClock,
                                                  calls: list[Any]) -> None:  # fmt: skip
    started = clock.time()
    report = await run(engine, clock, [
        {"kind": "sleep", "id": "wait", "seconds": 7200},
        action("after", "echo", "done", depends_on=["wait"]),
    ])  # fmt: skip
    assert report["status"] == "succeeded"
    assert clock.time() - started == pytest.approx(7200)


async def test_input_schema_is_enforced_at_start(engine: Engine, calls: list[Any]) -> None:
    workflow = engine.define({
        "name": "typed", "dialect": "canonical", "steps": [action("a", "echo", "{{input.n}}")],
        "input_schema": {"type": "object", "required": ["n"],
                         "properties": {"n": {"type": "integer"}}},
    })  # fmt: skip
    async with engine:
        with pytest.raises(InvalidArguments, match=r"\$\['n'\]: 'x' is not of type 'integer'"):
            await engine.start(workflow, {"n": "x"})
        assert (await engine.list_runs()).items == []


async def test_concurrent_dag_replays_by_key_after_suspension(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("a", "slow", {"seconds": 3, "name": "a"}),
        action("b", "slow", {"seconds": 1, "name": "b"}),
        {"kind": "sleep", "id": "pause", "seconds": 3600, "depends_on": ["a"]},
        action("c", "echo", "{{[a, b]}}", depends_on=["pause", "b"]),
    ])  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["output"]["c"] == ["a", "b"]
    assert sum(1 for name, _ in calls if name == "slow") == 2, (calls, report)
