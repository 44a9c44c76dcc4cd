"""An order workflow to test: charge the card (retried), wait a day, ask a person when the
order is large, then send the receipt. Its tests are in test_order_workflow.py."""

from __future__ import annotations

from plait import Context, Engine, RetryPolicy

engine = Engine()  # the tests never open it: WorkflowTest copies its workflows


async def charge_card(order: dict) -> dict:
    raise RuntimeError("the real payment provider is not reachable from the tests")


def send_receipt(email: str, charge: dict) -> str:
    return f"receipt for {charge['id']} sent to {email}"


@engine.workflow("process-order")
async def process_order(ctx: Context, order: dict) -> dict:
    charge = await ctx.step("charge", charge_card, order, timeout=30,
                            retry=RetryPolicy(max_attempts=3, initial_delay=60))  # fmt: skip
    await ctx.sleep("cool-off", days=1)
    if order["amount"] > 1000:
        review = await ctx.human_task(f"Ship order {order['id']}?", "warehouse")
        if review["decision"] != "approve":
            return {"charge": charge, "shipped": False}
    receipt = await ctx.step("receipt", send_receipt, order["email"], charge)
    return {"charge": charge, "shipped": True, "receipt": receipt}
