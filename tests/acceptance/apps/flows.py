"""Small workflows for the CLI and shutdown tests."""

from __future__ import annotations

from plait import Context, Engine

from . import probe

engine = Engine()


def _hello(name: str) -> str:
    return f"hello {name}"


@engine.workflow("greet")
async def greet(ctx: Context, name: str) -> str:
    greeting: str = await ctx.step("hello", _hello, name)
    return greeting


@engine.workflow("nap")
async def nap(ctx: Context) -> str:
    await ctx.sleep("nap", hours=1)
    return "rested"


@engine.workflow("drain")
async def drain(ctx: Context) -> list[str]:
    """A step that lasts until the test opens its gate, then a quick one."""
    return [
        await ctx.step("slow", probe.record_when_open, "slow"),
        await ctx.step("after", probe.record, "after"),
    ]
