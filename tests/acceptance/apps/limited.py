"""Actions under flow limits, for worker processes sharing one PostgreSQL database.

Each process appends to its own log, ``calls-PID.log`` in ``PLAIT_TEST_DIR``, one line per
call of an action: ``ACTION RUN_ID STARTED_AT`` (written and flushed before the call returns,
so a SIGKILL loses none that began).

- ``ping`` (10 calls a second across every worker, no burst) and the workflow ``pings``;
- ``flaky`` (always fails; its circuit opens after 3 failures for an hour) and ``call_flaky``;
- ``hold`` (a bulkhead of 2), which blocks while the file ``block`` exists in
  ``PLAIT_TEST_DIR`` and returns once it is gone (logging ``hold-end``), and the workflow
  ``held``.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import IO

from plait import Bulkhead, CircuitBreaker, Context, Engine, RateLimit

engine = Engine()
PROBES = Path(os.environ.get("PLAIT_TEST_DIR", "."))


@functools.cache
def _log() -> IO[str]:
    return (PROBES / f"calls-{os.getpid()}.log").open("a", encoding="utf-8")


def note(action: str, run_id: str) -> None:
    log = _log()
    log.write(f"{action} {run_id} {time.time():.6f}\n")
    log.flush()


@engine.action("ping", rate_limit=RateLimit(10, period=1))
async def ping(run_id: str) -> str:
    note("ping", run_id)
    return run_id


@engine.action("flaky", circuit_breaker=CircuitBreaker(failures=3, window=600, reset=3600))
async def flaky(run_id: str) -> str:
    note("flaky", run_id)
    raise ConnectionError("the dependency is down")


@engine.action("hold", bulkhead=Bulkhead(2))
def hold(run_id: str) -> str:
    """Runs in the step thread pool: it may wait as long as the test wants (its end is logged
    as ``hold-end``)."""
    note("hold", run_id)
    while (PROBES / "block").exists():  # held until the test removes the file
        time.sleep(0.05)  # the poll of that condition
    note("hold-end", run_id)
    return run_id


@engine.workflow("pings")
async def pings(ctx: Context) -> str:
    result: str = await ctx.step("ping", ping, ctx.run_id)
    return result


@engine.workflow("call_flaky")
async def call_flaky(ctx: Context) -> str:
    result: str = await ctx.step("flaky", flaky, ctx.run_id)
    return result


@engine.workflow("held")
async def held(ctx: Context) -> str:
    result: str = await ctx.step("hold", hold, ctx.run_id)
    return result
