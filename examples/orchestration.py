"""Orchestration: a parent workflow packs each item of an order in a child workflow (all in
parallel), publishes its progress, and waits for a payment signal from outside.

    python examples/orchestration.py

One order packs and ships; the other has an item that cannot be packed: that child fails, the
parent sees ``ChildWorkflowFailed`` and unpacks what the other children packed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from plait import Context, Engine
from plait.errors import ChildWorkflowFailed

engine = Engine()  # sqlite:///./plait.db unless PLAIT_DATABASE_URL is set


async def pack(sku: str) -> dict[str, str]:
    if sku == "GHOST":
        raise ValueError(f"no stock of {sku}")
    return {"sku": sku, "box": f"box-{sku.lower()}"}


async def unpack(sku: str) -> None:
    print(f"  unpacked {sku}")


@engine.workflow("pack-item")
async def pack_item(ctx: Context, sku: str) -> dict[str, str]:
    box: dict[str, str] = await ctx.step("pack", pack, sku)
    return box


async def pack_one(ctx: Context, sku: str) -> Any:
    # A failed child comes back as a value, so one failure does not cancel the other children.
    # (Not gather(return_exceptions=True): it would also swallow the parent's suspension.)
    try:
        return await ctx.child(pack_item, sku)
    except ChildWorkflowFailed as exc:
        return exc


@engine.workflow("fulfil-order")
async def fulfil_order(ctx: Context, order: dict[str, Any]) -> dict[str, Any]:
    await ctx.set_state("phase", "packing")
    results = await asyncio.gather(*[pack_one(ctx, sku) for sku in order["items"]])
    failed = [r for r in results if isinstance(r, ChildWorkflowFailed)]
    if failed:  # compensate: unpack what the other children packed
        for sku, result in zip(order["items"], results, strict=True):
            if not isinstance(result, ChildWorkflowFailed):
                await ctx.step(f"unpack-{sku}", unpack, sku)
        await ctx.set_state("phase", "unfulfilled")
        return {"order": order["id"], "status": "unfulfilled", "child": failed[0].child_run_id}
    await ctx.set_state("phase", "awaiting payment")
    payment = await ctx.receive("payment", timeout=3600)
    if payment is None:
        return {"order": order["id"], "status": "payment timed out"}
    await ctx.set_state("phase", "shipped")
    boxes = [r["box"] for r in results]
    return {"order": order["id"], "status": "shipped", "boxes": boxes, "paid": payment["amount"]}


async def main() -> None:
    async with engine:
        good = await engine.start(fulfil_order, {"id": "A-1", "items": ["MUG", "TEE", "CAP"]})
        # Sent at once: a signal waits in the run's queue until its ctx.receive takes it.
        await engine.handle(good.id).signal("payment", {"amount": 42.5})
        print(f"order A-1: {await good.result(timeout=30)}")
        info = await good.info()
        print(f"order A-1: {len(info.children)} child runs, phase {info.state['phase']}")

        bad = await engine.start(fulfil_order, {"id": "B-2", "items": ["MUG", "GHOST"]})
        print("order B-2:")
        result = await bad.result(timeout=30)
        print(f"order B-2: {result['status']} (child {result['child']} failed)")
        print(f"order B-2 phase: {await engine.handle(bad.id).state('phase')}")


if __name__ == "__main__":
    asyncio.run(main())
