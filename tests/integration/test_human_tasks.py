"""Human tasks: the brief's expense approval (manager, then VP above 1,000) as code and as a
definition, on both backends under virtual time: approve, reject, escalation, expiry, and the
answers that are refused without changing anything."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from examples.expense_approval import register

from plait import Context, Engine, Escalation, TaskExpired
from plait.definitions.load import check_definition
from plait.definitions.model import HumanTaskStep
from plait.errors import InvalidDecision, TaskForbidden, TaskNotFound, TaskNotOpen
from plait.resources.events import Event
from plait.resources.tasks import Task
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import wait_status

MakeEngine = Callable[..., Engine]
DEFINITION = Path(__file__).resolve().parents[2] / "examples/definitions/expense-approval.yaml"
HOUR = 3600.0
# The worker's idle poll and heartbeat sleep on the virtual clock: at their defaults (1s, 10s) a
# day of virtual time is ~90,000 wake-ups. Hourly is plenty for tasks due in hours.
SLOW_TIMERS = {"poll_seconds": HOUR, "heartbeat_seconds": HOUR, "lease_seconds": 2 * HOUR}


def expense(amount: float) -> dict[str, Any]:
    return {"id": "exp-1", "amount": amount, "employee": "eve", "manager": "mia", "vp": "vic"}


async def inbox(engine: Engine, person: str) -> Task:
    """The one open task of ``person``, once it exists."""
    found: list[Task] = []

    async def has_task() -> bool:
        found[:] = (await engine.tasks.find("default", assignee=person, status="open")).items
        return len(found) == 1

    await assert_eventually(has_task)
    return found[0]


def same_instant(shown: str, at: datetime | None) -> bool:
    """A step's time (ISO 8601 to the millisecond) and a resource's are the same instant."""
    return at is not None and abs(datetime.fromisoformat(shown) - at) < timedelta(milliseconds=1)


async def events_of(engine: Engine, type: str) -> list[Event]:
    return (await engine.events.find("default", type=type)).items


async def snapshot(engine: Engine, task_id: str, run_id: str) -> tuple[Any, Any]:
    return await engine.tasks.get("default", task_id), await engine.runs.get("default", run_id)


def code_engine(make_engine: MakeEngine, clock: VirtualClock) -> tuple[Engine, dict[str, int]]:
    engine = make_engine(clock=clock, **SLOW_TIMERS)
    register(engine)
    calls = {"pay": 0}
    from examples import expense_approval

    original = expense_approval.pay

    def counted(item: dict[str, Any]) -> dict[str, Any]:
        calls["pay"] += 1
        return original(item)

    expense_approval.pay = counted  # type: ignore[assignment]
    return engine, calls


@pytest.fixture(autouse=True)
def _restore_pay() -> Any:
    from examples import expense_approval

    original = expense_approval.pay
    yield
    expense_approval.pay = original


# -- code -------------------------------------------------------------------------------------


async def test_code_manager_approves_a_small_expense(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, calls = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(400))
        task = await inbox(engine, "mia")
        assert task.choices == ["approve", "reject"] and task.status == "open"
        assert task.run_id == handle.id and task.step_key == "manager-approval"
        assert task.data == {"expenseId": "exp-1", "amount": 400}
        assert task.due_at is not None and task.escalate_to == "vic"
        await wait_status(engine, handle.id, "waiting")
        done = await engine.tasks.complete("default", task.id, decision="approve", by="mia",
                                           comment="fine")  # fmt: skip
        assert done.status == "completed" and done.completed_by == "mia"
        result = await handle.result(timeout=10)
    assert result["status"] == "approved" and result["vp"] is None
    manager = result["manager"]
    assert manager["taskId"] == task.id and manager["decision"] == "approve"
    assert manager["approved"] is True and manager["comment"] == "fine"
    assert manager["completedBy"] == "mia" and same_instant(
        manager["completedAt"], done.completed_at
    )
    assert calls["pay"] == 1
    created = await events_of(engine, "HumanTask.created")
    completed = await events_of(engine, "HumanTask.completed")
    assert [e.data["taskId"] for e in created] == [task.id]
    assert completed[0].data["decision"] == "approve"


async def test_code_vp_rejects_a_large_expense(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, calls = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(1500))
        manager = await inbox(engine, "mia")
        await engine.tasks.complete("default", manager.id, decision="approve", by="mia")
        vp = await inbox(engine, "vic")
        assert vp.step_key == "vp-approval" and vp.escalate_to is None
        await engine.tasks.complete("default", vp.id, decision="reject", by="vic",
                                    comment="over budget")  # fmt: skip
        result = await handle.result(timeout=10)
    assert result["status"] == "rejected"
    assert result["vp"]["approved"] is False and result["vp"]["comment"] == "over budget"
    assert calls["pay"] == 0


async def test_code_escalation_reassigns_and_the_new_assignee_completes(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, calls = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(400))
        task = await inbox(engine, "mia")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(24 * HOUR + 1)
        escalated = await inbox(engine, "vic")
        assert escalated.id == task.id
        assert escalated.escalated_from == "mia" and escalated.escalated_at is not None
        assert (await engine.tasks.find("default", assignee="mia", status="open")).items == []
        [event] = await events_of(engine, "HumanTask.escalated")
        assert {k: event.data[k] for k in ("taskId", "runId", "from", "to", "reason")} == {
            "taskId": task.id, "runId": handle.id, "from": "mia", "to": "vic",
            "reason": "timeout",
        }  # fmt: skip
        with pytest.raises(TaskForbidden, match="assigned to 'vic'"):
            await engine.tasks.complete("default", task.id, decision="approve", by="mia")
        await wait_status(engine, handle.id, "waiting")
        await engine.tasks.complete("default", task.id, decision="approve", by="vic")
        result = await handle.result(timeout=10)
    assert result["status"] == "approved" and result["manager"]["completedBy"] == "vic"
    assert calls["pay"] == 1


async def test_code_expiry_fails_the_step_and_the_workflow_handles_it(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, calls = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(400))
        task = await inbox(engine, "mia")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(24 * HOUR + 1)  # escalated to the VP, who does not answer either
        await inbox(engine, "vic")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(24 * HOUR)
        result = await clock.run_skipping(handle.result(timeout=10))
        assert result == {"status": "rejected", "manager": None}
        expired = await engine.tasks.get("default", task.id)
        assert expired.status == "expired" and expired.assignee == "vic"
        run = await engine.handle(handle.id).info()
        step = next(s for s in run.steps if s.key == "manager-approval")
        assert step.status == "failed" and step.error is not None
        assert step.error["type"] == "plait.errors.TaskExpired"
        assert task.id in step.error["message"] and "expired at" in step.error["message"]
        before = await snapshot(engine, task.id, handle.id)
        with pytest.raises(TaskNotOpen, match="it is expired"):
            await engine.tasks.complete("default", task.id, decision="approve", by="vic")
        assert await snapshot(engine, task.id, handle.id) == before
    assert calls["pay"] == 0


async def test_an_unhandled_expiry_fails_the_run_with_task_expired(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("strict")
    async def strict(ctx: Context) -> Any:
        return await ctx.human_task("Sign off", "ann", choices=["ok"], due=60)

    async with engine:
        handle = await engine.start(strict)
        await inbox(engine, "ann")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(61)
        await wait_status(engine, handle.id, "failed")
    error = (await engine.handle(handle.id).info()).error
    assert error is not None and error["type"] == "plait.errors.TaskExpired"
    assert error["step"] == "Sign off"


async def test_refused_answers_change_nothing(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine, _ = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(400))
        task = await inbox(engine, "mia")
        await wait_status(engine, handle.id, "waiting")
        before = await snapshot(engine, task.id, handle.id)
        with pytest.raises(InvalidDecision, match="'maybe' is not offered.*'approve', 'reject'"):
            await engine.tasks.complete("default", task.id, decision="maybe", by="mia")
        with pytest.raises(InvalidDecision, match="decision is required"):
            await engine.tasks.complete("default", task.id, by="mia")
        with pytest.raises(TaskForbidden, match="assigned to 'mia'.*'bob' needs the admin role"):
            await engine.tasks.complete("default", task.id, decision="approve", by="bob")
        with pytest.raises(TaskNotFound):
            await engine.tasks.complete("default", "task_nope1234", decision="approve", by="mia")
        with pytest.raises(TaskNotFound):  # another organization's task
            await engine.tasks.complete("other", task.id, decision="approve", by="mia")
        assert await snapshot(engine, task.id, handle.id) == before
        assert await events_of(engine, "HumanTask.completed") == []
        await engine.tasks.complete("default", task.id, decision="reject", by="boss",
                                    as_admin=True)  # fmt: skip
        result = await handle.result(timeout=10)
        assert result["status"] == "rejected"
        after = await snapshot(engine, task.id, handle.id)
        with pytest.raises(TaskNotOpen, match="boss decided 'reject'"):
            await engine.tasks.complete("default", task.id, decision="approve", by="mia")
        assert await snapshot(engine, task.id, handle.id) == after
        assert len(await events_of(engine, "HumanTask.completed")) == 1


async def test_a_form_task_validates_its_data(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine = make_engine(clock=clock)
    form = {"type": "object", "required": ["score"],
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}}}  # fmt: skip

    @engine.workflow("review")
    async def review(ctx: Context) -> Any:
        return await ctx.human_task("Rate it", "rae", form=form,
                                    escalation={"to": "sam", "after": 600})  # fmt: skip

    async with engine:
        handle = await engine.start(review)
        task = await inbox(engine, "rae")
        assert task.choices is None and task.form == form
        with pytest.raises(InvalidDecision, match="score.*9 is greater than the maximum"):
            await engine.tasks.complete("default", task.id, data={"score": 9}, by="rae")
        await engine.tasks.complete("default", task.id, data={"score": 4}, by="rae")
        result = await handle.result(timeout=10)
    assert result["decision"] == "submitted" and result["data"] == {"score": 4}


async def test_bad_task_arguments_fail_before_anything_is_stored(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("bad")
    async def bad(ctx: Context) -> Any:
        return await ctx.human_task("Broken", "ann", escalation=Escalation(to="", after=5))

    async with engine:
        handle = await engine.start(bad)
        await wait_status(engine, handle.id, "failed")
        assert (await engine.tasks.find("default")).items == []
    error = (await engine.handle(handle.id).info()).error
    assert error is not None and "escalation.to must be a non-empty string" in error["message"]


async def test_task_expired_is_raised_in_code(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("catches")
    async def catches(ctx: Context) -> Any:
        try:
            return await ctx.human_task("Quick", "ann", due=30)
        except TaskExpired as exc:
            return {"expired": exc.task_id, "due": exc.due_at}

    async with engine:
        handle = await engine.start(catches)
        task = await inbox(engine, "ann")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(31)
        result = await handle.result(timeout=10)
    assert result["expired"] == task.id and same_instant(result["due"], task.due_at)


# -- definition -------------------------------------------------------------------------------


def definition_engine(make_engine: MakeEngine, clock: VirtualClock) -> Engine:
    engine = make_engine(clock=clock, **SLOW_TIMERS)
    engine.define(DEFINITION)
    return engine


async def test_definition_manager_and_vp_approve(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = definition_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(1500))
        manager = await inbox(engine, "mia")
        assert manager.title == "Approve expense exp-1 of 1500 by eve"
        assert manager.data == {"expenseId": "exp-1", "amount": 1500, "employee": "eve"}
        assert manager.escalate_to == "vic" and manager.workflow == "expense-approval"
        await engine.tasks.complete("default", manager.id, decision="approve", by="mia")
        vp = await inbox(engine, "vic")
        assert vp.data["managerApproval"]["completedBy"] == "mia"
        await engine.tasks.complete("default", vp.id, decision="approve", by="vic")
        output = await handle.result(timeout=10)
    assert output["manager-approval"]["approved"] is True
    assert output["manager-decision"]["type"] == "Expense.approved"
    [approved] = await events_of(engine, "Expense.approved")
    assert approved.data == {"expenseId": "exp-1", "amount": 1500, "recipient": "eve"}


async def test_definition_manager_rejects(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine = definition_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(1500))
        manager = await inbox(engine, "mia")
        await engine.tasks.complete("default", manager.id, decision="reject", by="mia")
        output = await handle.result(timeout=10)
    assert output["manager-decision"]["type"] == "Expense.rejected"
    [rejected] = await events_of(engine, "Expense.rejected")
    assert rejected.data == {"expenseId": "exp-1", "by": "manager"}
    assert (await engine.tasks.find("default", assignee="vic")).items == []


async def test_definition_escalates_then_expires_and_continues(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = definition_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(300))
        task = await inbox(engine, "mia")
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(24 * HOUR + 1)
        escalated = await inbox(engine, "vic")
        assert escalated.id == task.id and escalated.escalated_from == "mia"
        [event] = await events_of(engine, "HumanTask.escalated")
        assert event.data["from"] == "mia" and event.data["to"] == "vic"
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(24 * HOUR)
        output = await clock.run_skipping(handle.result(timeout=10))
        assert output["manager-approval"] is None  # onError: continue
        assert output["manager-decision"]["type"] == "Expense.rejected"
        assert (await engine.tasks.get("default", task.id)).status == "expired"
        run = await engine.handle(handle.id).info()
        step = next(s for s in run.steps if s.key == "manager-approval")
        assert step.status == "failed" and step.error is not None
        assert step.error["type"] == "plait.errors.TaskExpired"
        [expired] = await events_of(engine, "HumanTask.expired")
        assert expired.data["taskId"] == task.id


async def test_definition_expiry_without_error_handling_fails_the_run(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    engine.define({"name": "sign-off", "steps": [
        {"id": "sign", "type": "human-task", "assignTo": "input.owner", "timeout": "1h"},
        {"id": "after", "type": "function", "function": "log", "dependsOn": ["sign"],
         "input": {"message": "signed"}},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("sign-off", {"owner": "oli"})
        task = await inbox(engine, "oli")
        assert task.title == "sign" and task.choices == ["approve", "reject"]
        await wait_status(engine, handle.id, "waiting")
        await clock.advance(HOUR + 1)
        await wait_status(engine, handle.id, "failed")
    run = await engine.handle(handle.id).info()
    assert run.error is not None and run.error["type"] == "plait.errors.TaskExpired"
    assert [s.key for s in run.steps] == ["sign"]


def test_assign_to_reads_expressions_and_takes_unknown_names_literally() -> None:
    report = check_definition({"name": "x", "steps": [
        {"id": "policy-check", "type": "function", "function": "log", "input": "p"},
        {"id": "human-approval", "type": "human-task", "dependsOn": ["policy-check"],
         "assignTo": 'results["policy-check"].approver', "timeout": 86400000,
         "escalationPolicy": {"timeout": 43200000, "escalateTo": "manager"}},
    ]})  # fmt: skip
    assert report.valid, report.errors
    assert [str(w) for w in report.warnings] == [
        "$.steps[1].escalationPolicy.escalateTo: 'manager' is not an expression over known names; "
        "it is used as the literal string (a person's name)"
    ]
    step = report.definition.steps[1] if report.definition else None
    assert isinstance(step, HumanTaskStep)
    assert step.assign_to == '{{ results["policy-check"].approver }}'
    assert step.escalate_to == "manager" and step.escalate_after == 43200.0
    assert step.timeout == 86400.0


def test_human_task_problems_are_reported_at_their_paths() -> None:
    report = check_definition({"name": "x", "steps": [
        {"id": "a", "type": "human-task", "choices": [], "form": {"type": 5},
         "escalationPolicy": {"timeout": -1}},
    ]})  # fmt: skip
    paths = sorted(p.path for p in report.errors)
    assert "$.steps[0].assignTo" in paths
    assert "$.steps[0].choices" in paths
    assert "$.steps[0].escalationPolicy.timeout" in paths
    assert "$.steps[0].escalationPolicy.escalateTo" in paths
    assert any(p.startswith("$.steps[0].form") for p in paths)


async def test_cancelling_a_run_cancels_its_open_tasks(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine, _ = code_engine(make_engine, clock)
    async with engine:
        handle = await engine.start("expense-approval", expense(400))
        task = await inbox(engine, "mia")
        await wait_status(engine, handle.id, "waiting")
        await engine.handle(handle.id).cancel(reason="withdrawn", by="sam")
        assert (await engine.tasks.get("default", task.id)).status == "cancelled"
        with pytest.raises(TaskNotOpen, match="its run was cancelled"):
            await engine.tasks.complete("default", task.id, decision="approve", by="mia")
