"""The app that ``bench/scaleout.py`` runs in ``plait worker scaleout_app:engine`` processes.

``engine`` reads ``PLAIT_DATABASE_URL`` (``plait worker --db URL`` sets it). The benchmark process
imports the same module to start runs and emit events, on an engine without a worker.
"""

from __future__ import annotations

from plait import Context, Engine

engine = Engine()


async def noop(i: int) -> int:
    return i


async def noop3(ctx: Context, i: int) -> int:
    """Three no-op steps: the same workload as ``bench/throughput.py``."""
    a = await ctx.step("one", noop, i)
    b = await ctx.step("two", noop, a)
    return int(await ctx.step("three", noop, b))


# ``noop3`` and copies under other names (``scaleout.py --workflows N`` spreads runs over N of
# them: each workflow has a row of run counters that every start and end of its runs updates).
WORKFLOWS = ["noop3", *(f"noop3-{n}" for n in range(1, 8))]
for _name in WORKFLOWS:
    engine.workflow(_name)(noop3)


@engine.workflow("waiter")
async def waiter(ctx: Context, n: int) -> int:
    """Suspend until the event ``Pong.sent`` with ``data.n == n`` arrives; return ``n``."""
    event = await ctx.wait_for("Pong.sent", match="event.data.n == n", scope={"n": n})
    if event is None:
        raise RuntimeError("the wait ended without its event")
    return n
