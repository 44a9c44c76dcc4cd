"""plait quickstart: a durable order workflow on the embedded SQLite database (./plait.db).

Run it twice: the second run with the same order id returns the recorded result without
charging again. Inspect what was stored with ``plait runs list`` and ``plait runs get ID``.
"""

from __future__ import annotations

import asyncio

from plait import Context, Engine, RetryPolicy

engine = Engine()  # sqlite:///./plait.db unless PLAIT_DATABASE_URL is set


def reserve_stock(order: dict) -> dict:
    # Synchronous functions run in a thread pool, so they may block.
    return {"sku": order["sku"], "reserved": order["quantity"]}


_calls = {"charge": 0}


async def charge_card(order: dict, idempotency_key: str) -> dict:
    _calls["charge"] += 1
    if _calls["charge"] == 1:  # a flaky payment provider: the first call times out
        raise ConnectionError("payment provider timed out")
    return {"charged": order["amount"], "key": idempotency_key}


async def send_receipt(email: str, charge: dict) -> str:
    return f"receipt for {charge['charged']} sent to {email}"


@engine.workflow("process-order")
async def process_order(ctx: Context, order: dict) -> dict:
    reservation = await ctx.step("reserve-stock", reserve_stock, order)
    charge = await ctx.step(
        "charge-card",
        charge_card,
        order,
        f"{ctx.run_id}/charge-card",  # the same key on every retry and replay
        retry=RetryPolicy(max_attempts=5, initial_delay=0.1, non_retryable=(ValueError,)),
        timeout=10,
    )
    await ctx.sleep("settle", seconds=0.2)  # durable: a restart does not restart the wait
    receipt = await ctx.step("send-receipt", send_receipt, order["email"], charge)
    return {"reservation": reservation, "charge": charge, "receipt": receipt}


async def main() -> None:
    order = {"sku": "mug-1", "quantity": 2, "amount": 24.0, "email": "ada@example.com"}
    async with engine:  # opens ./plait.db and runs a worker until the block ends
        handle = await engine.start(process_order, order, run_id="order-1001")
        result = await handle.result(timeout=30)
        run = await engine.handle(handle.id).info()
    print(f"run {run.id}: {run.status}")
    for step in run.steps:
        print(f"  {step.key:<14} {step.status:<10} attempts={step.attempts}")
    print(result["receipt"])


if __name__ == "__main__":
    asyncio.run(main())
