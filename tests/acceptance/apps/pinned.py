"""An app whose Engine names its database explicitly, as a deployed module might."""

from __future__ import annotations

from plait import Context, Engine

engine = Engine("sqlite:///./pinned-in-code.db")


def _hello(name: str) -> str:
    return f"hello {name}"


@engine.workflow("greet")
async def greet(ctx: Context, name: str) -> str:
    greeting: str = await ctx.step("hello", _hello, name)
    return greeting
