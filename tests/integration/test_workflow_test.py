"""``plait.testing.WorkflowTest``: a code workflow run for real on an in-memory database and a
virtual clock, with steps mocked by name or by function, and assertions on the calls (issue 12).
Used here as a user would, in pytest."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from plait import Context, Engine, RetryPolicy
from plait.testing import WorkflowTest

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
engine = Engine("sqlite:///never-written.db")
real_charges: list[dict[str, Any]] = []


async def charge(order: dict[str, Any]) -> dict[str, Any]:
    real_charges.append(order)
    return {"id": "ch_real", "amount": order["amount"]}


def send_email(to: str, subject: str) -> str:
    return f"sent {subject!r} to {to}"


@engine.workflow("order")
async def order_workflow(ctx: Context, order: dict[str, Any]) -> dict[str, Any]:
    paid = await ctx.step("charge", charge, order, timeout=30,
                          retry=RetryPolicy(max_attempts=3, initial_delay=120))  # fmt: skip
    await ctx.sleep("cool-off", days=1)
    mail = await ctx.step("email", send_email, order["email"], subject="receipt",
                          retry=RetryPolicy(max_attempts=2, initial_delay=1))  # fmt: skip
    return {"charge": paid, "mail": mail, "at": ctx.now().isoformat()}


@engine.workflow("approval")
async def approval_workflow(ctx: Context, amount: int) -> dict[str, Any]:
    answer = await ctx.human_task(f"Approve {amount}?", "finance")
    note = await ctx.receive("note")
    return {"decision": answer["decision"], "note": note}


ORDER = {"id": 1, "amount": 40, "email": "ada@example.com"}


@pytest.fixture(autouse=True)
def _no_real_charges() -> None:
    real_charges.clear()


async def test_a_mocked_failure_then_success_is_retried_after_its_backoff_on_virtual_time() -> None:
    async with WorkflowTest(engine, start=START) as t:
        t.mock("charge", sequence=[TimeoutError("gateway"), {"id": "ch_1"}])
        run = await t.run(order_workflow, ORDER)
    run.assert_outcome("succeeded")
    assert run.output["charge"] == {"id": "ch_1"}
    assert run.step("charge").attempts == 2
    first, second = t.calls("charge")
    assert (first.attempt, repr(first.error)) == (1, "TimeoutError('gateway')")
    assert (second.attempt, second.result) == (2, {"id": "ch_1"})
    assert second.at - first.at == timedelta(seconds=120)  # the policy's backoff, skipped
    # the day of sleep passed on the virtual clock, not the real one
    assert datetime.fromisoformat(run.output["at"]) == START + timedelta(days=1, seconds=120)
    assert real_charges == []


async def test_steps_mocked_by_function_fail_once_then_run_for_real() -> None:
    async with WorkflowTest(engine) as t:
        t.mock(charge, returns={"id": "ch_2"})
        t.mock(send_email, raises=ConnectionError("smtp down"), times=1)
        run = await t.run(order_workflow, ORDER)
    assert run.output["mail"] == "sent 'receipt' to ada@example.com"
    t.assert_called(send_email, times=2)
    first, second = t.calls(send_email)
    assert first.mocked and not second.mocked
    assert second.kwargs == {"subject": "receipt"}
    t.assert_called_with("email", "ada@example.com", subject="receipt")
    t.assert_any_call("charge", ORDER)
    t.assert_mocks_used()


async def test_unmocked_steps_run_for_real_and_are_recorded() -> None:
    async with WorkflowTest(engine) as t:
        run = await t.run(order_workflow, ORDER)
    assert run.output["charge"] == {"id": "ch_real", "amount": 40}
    assert real_charges == [ORDER]
    assert [(c.key, c.mocked) for c in t.calls()] == [("charge", False), ("email", False)]


async def test_a_step_that_fails_every_attempt_fails_the_run_naming_it() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("charge", raises=ValueError("card declined"))
        run = await t.run(order_workflow, ORDER)
    assert (run.status, run.outcome) == ("failed", "failed")
    assert run.error is not None and run.error["step"] == "charge"
    t.assert_called("charge", times=3)
    t.assert_not_called("email")
    with pytest.raises(AssertionError) as failed:
        run.assert_outcome("succeeded")
    assert str(failed.value) == (
        f"run {run.id} of 'order' is failed (outcome failed), expected outcome succeeded: "
        "ValueError: card declined (step 'charge')"
    )


async def test_a_mock_slower_than_the_step_timeout_times_the_attempt_out() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("charge", returns={"id": "late"}, delay=timedelta(minutes=1), times=1)
        t.mock("charge", returns={"id": "on-time"})
        run = await t.run(order_workflow, ORDER)
    assert run.output["charge"] == {"id": "on-time"}
    late, on_time = t.calls("charge")
    assert "cancelled (its timeout" in str(late)
    assert on_time.at - late.at == timedelta(seconds=30 + 120)  # the timeout, then the backoff


async def test_call_assertions_fail_with_messages_that_show_the_calls() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("charge", returns={"id": "ch_3"})
        run = await t.run(order_workflow, ORDER)
    with pytest.raises(AssertionError) as never:
        t.assert_called("chrage")
    assert str(never.value) == (
        "step 'chrage' was never called; steps called: 'charge' (1), 'email' (1)"
    )
    with pytest.raises(AssertionError) as count:
        t.assert_called("charge", times=2)
    assert str(count.value) == (
        "step 'charge' was called once, expected 2 times:\n"
        f"  1. charge({ORDER!r}) attempt 1 -> returned {{'id': 'ch_3'}} [mocked, run {run.id}]"
    )
    with pytest.raises(AssertionError) as args:
        t.assert_called_with(send_email, "bob@example.com", subject=ANY)
    assert str(args.value).startswith(
        "step function send_email was last called with ('ada@example.com', subject='receipt'), "
        "expected ('bob@example.com', subject=<ANY>):\n  1. email("
    )
    with pytest.raises(AssertionError, match=r"step 'email' was called once, expected never"):
        t.assert_not_called("email")


async def test_an_unused_mock_is_reported() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("chrage", returns={"id": "typo"})
        await t.run(order_workflow, ORDER)
    with pytest.raises(AssertionError) as unused:
        t.assert_mocks_used()
    assert str(unused.value) == (
        "mocks not used up:\n  mock of step 'chrage': answered 0 times\n"
        "steps called: 'charge' (1), 'email' (1)"
    )


async def test_a_sequence_repeats_its_last_item_and_must_be_used_up() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("charge", sequence=[ConnectionError("reset"), {"id": "ch_7"}])
        first = await t.run(order_workflow, ORDER)
        second = await t.run(order_workflow, ORDER)
        t.assert_mocks_used()
        t.mock("email", sequence=["a", "b", "c"])
        await t.run(order_workflow, ORDER)
    assert first.output["charge"] == second.output["charge"] == {"id": "ch_7"}
    assert [c.attempt for c in t.calls("charge")] == [1, 2, 1, 1]
    with pytest.raises(AssertionError) as unused:
        t.assert_mocks_used()
    assert str(unused.value).startswith(
        "mocks not used up:\n  mock of step 'email': answered once, expected one call per "
        "item of its sequence of 3\n"
    )


async def test_a_run_waits_for_its_task_and_signal_then_ends() -> None:
    async with WorkflowTest(engine) as t:
        run = await t.run(approval_workflow, 120)
        assert (run.status, run.outcome) == ("waiting", None)
        [task] = await t.tasks(run)
        assert (task.title, task.assignee) == ("Approve 120?", "finance")
        run = await t.complete_task(run, "approved")
        assert run.status == "waiting"  # now for the signal
        run = await t.signal(run, "note", "paid in March")
    assert run.output == {"decision": "approve", "note": "paid in March"}


async def test_advance_moves_virtual_time_exactly_and_wakes_what_falls_due() -> None:
    async with WorkflowTest(engine, start=START) as t:
        t.mock("charge", returns={"id": "ch_4"})
        handle = await t.start(order_workflow, ORDER)
        await t.advance(hours=23)
        assert (await t.result(handle)).status == "waiting"
        t.assert_not_called("email")
        await t.advance(timedelta(hours=1))
        run = await t.result(handle)
    assert t.now == START + timedelta(days=1)
    assert run.status == "succeeded"
    t.assert_called("email", times=1)


async def test_a_replacement_callable_gets_the_steps_arguments() -> None:
    seen: list[Any] = []

    def fake_email(to: str, subject: str) -> str:
        seen.append((to, subject))
        return "queued"

    async with WorkflowTest(engine) as t:
        t.mock("charge", returns={"id": "ch_5"})
        t.mock("email", replace_with=fake_email)
        run = await t.run(order_workflow, ORDER)
    assert run.output["mail"] == "queued"
    assert seen == [("ada@example.com", "receipt")]


def test_the_sync_form_runs_the_same_test_in_a_plain_function() -> None:
    with WorkflowTest(engine).sync() as t:
        t.mock(charge, sequence=[ConnectionError("reset"), {"id": "ch_6"}])
        run = t.run(order_workflow, ORDER)
        t.assert_called(charge, times=2)
    assert run.output["charge"] == {"id": "ch_6"}


async def test_no_database_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    async with WorkflowTest(engine) as t:
        assert t.engine.settings.database_url == "sqlite:///:memory:"
        run = await t.run(order_workflow, ORDER)
    assert run.status == "succeeded"
    assert os.listdir(tmp_path) == []
    assert time.monotonic() - started < 10  # a day of sleep and a retry delay took no real time


async def test_mock_arguments_are_checked() -> None:
    async with WorkflowTest(engine) as t:
        with pytest.raises(TypeError, match=r"give exactly one of returns=, raises=, sequence="):
            t.mock("charge", returns=1, raises=ValueError)
        with pytest.raises(ValueError, match=r"a sequence needs at least one item"):
            t.mock("charge", sequence=[])
        with pytest.raises(ValueError, match=r"times must be 1 or more, got 0"):
            t.mock("charge", returns=1, times=0)
