"""A run that waits for a signal between two steps, for the live stream tests across processes:
only ``plait worker`` processes that load this module run it (``plait serve`` without it never
claims it)."""

from __future__ import annotations

from plait import Context, Engine

engine = Engine()


def _plus(a: int, b: int) -> int:
    return a + b


@engine.workflow("relay")
async def relay(ctx: Context, n: int) -> int:
    first: int = await ctx.step("first", _plus, n, 1)
    go: int = await ctx.receive("go")
    second: int = await ctx.step("second", _plus, first, go)
    return second
