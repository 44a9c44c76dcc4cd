"""Tests of order_workflow.py with plait.testing.WorkflowTest: ``pytest examples/testing``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from order_workflow import engine, process_order, send_receipt

from plait.testing import WorkflowTest

ORDER = {"id": 7, "amount": 40, "email": "ada@example.com"}
MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.asyncio
async def test_a_gateway_timeout_is_retried_and_the_receipt_sent_a_day_later() -> None:
    async with WorkflowTest(engine, start=MONDAY) as t:
        t.mock("charge", sequence=[TimeoutError("gateway"), {"id": "ch_1"}])
        t.mock(send_receipt, returns="sent")
        run = await t.run(process_order, ORDER)

    run.assert_outcome("succeeded")
    assert run.output == {"charge": {"id": "ch_1"}, "shipped": True, "receipt": "sent"}
    assert run.step("charge").attempts == 2
    t.assert_called("charge", times=2)
    t.assert_called_with(send_receipt, "ada@example.com", {"id": "ch_1"})
    assert t.calls(send_receipt)[0].at == MONDAY + timedelta(days=1, minutes=1)


@pytest.mark.asyncio
async def test_a_large_order_waits_for_the_warehouse() -> None:
    async with WorkflowTest(engine) as t:
        t.mock("charge", returns={"id": "ch_2"})
        run = await t.run(process_order, {**ORDER, "amount": 5000})
        assert run.status == "waiting"
        t.assert_not_called("receipt")
        run = await t.complete_task(run, "reject")
    assert run.output == {"charge": {"id": "ch_2"}, "shipped": False}


def test_a_declined_card_fails_the_order_without_a_receipt() -> None:
    with WorkflowTest(engine).sync() as t:
        t.mock("charge", raises=ValueError("card declined"))
        run = t.run(process_order, ORDER)
        t.assert_called("charge", times=3)
        t.assert_not_called(send_receipt)
    assert (run.outcome, run.error["step"]) == ("failed", "charge")
