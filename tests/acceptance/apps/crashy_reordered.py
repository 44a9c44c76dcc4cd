"""``five_steps`` as deployed after a change: steps ``s1`` and ``s2`` swapped (same names, new
order), so in-flight runs cannot replay their history."""

from __future__ import annotations

from typing import Any

from plait import Context, Engine

from . import probe

engine = Engine()


@engine.workflow("five_steps")
async def five_steps(ctx: Context, label: str) -> dict[str, Any]:
    done = [
        await ctx.step("s2", probe.record, "s2"),
        await ctx.step("s1", probe.record, "s1"),
        await ctx.step("s3", probe.record_or_hang, "s3"),
        await ctx.step("s4", probe.record, "s4"),
        await ctx.step("s5", probe.record, "s5"),
    ]
    return {"label": label, "steps": done}
