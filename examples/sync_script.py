"""Using plait from plain synchronous code (a script, a notebook, a Django view)."""

from __future__ import annotations

from plait import Context, Engine

engine = Engine()


def fetch_report(day: str) -> dict:
    return {"day": day, "orders": 42}


@engine.workflow("daily-report")
async def daily_report(ctx: Context, day: str) -> str:
    report = await ctx.step("fetch", fetch_report, day)
    return f"{report['day']}: {report['orders']} orders"


if __name__ == "__main__":
    with engine.sync() as plait:  # an event loop and a worker in a background thread
        handle = plait.start(daily_report, "2026-11-20")
        print(handle.result(timeout=10))
        print(plait.handle(handle.id).info().status)
