"""A workflow whose step logs, logs an exception and fails twice: the structured logs tests."""

from __future__ import annotations

import logging

from plait import Context, Engine, RetryPolicy

engine = Engine()
log = logging.getLogger("apps.logged")


def charge(amount: int) -> None:
    """A synchronous step (it runs in a thread) that logs, then fails."""
    log.warning("charging %s", amount)
    try:
        raise ValueError(f"card declined for {amount}")
    except ValueError:
        log.exception("the card was declined")
        raise


@engine.workflow("pay")
async def pay(ctx: Context, amount: int) -> None:
    log.warning("paying %s", amount)
    await ctx.step("charge", charge, amount, retry=RetryPolicy(max_attempts=2, initial_delay=0))
