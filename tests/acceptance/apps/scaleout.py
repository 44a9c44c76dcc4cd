"""Five light steps per run, each execution logged, for many workers sharing one database.

Every process appends to its own log, ``steps-PID.log`` in ``PLAIT_TEST_DIR``, one line per step
execution: ``RUN_ID/STEP_KEY STARTED_AT``. A line is written (not buffered in the process) before
the step returns, so a SIGKILL loses no execution that could have been recorded.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import IO

from plait import Context, Engine

engine = Engine()

STEPS = ("s1", "s2", "s3", "s4", "s5")


@functools.cache
def _step_log() -> IO[str]:
    path = Path(os.environ["PLAIT_TEST_DIR"]) / f"steps-{os.getpid()}.log"
    return path.open("a", encoding="utf-8")


async def record(run_id: str, key: str) -> str:
    """Log this execution of step ``key`` of ``run_id`` with its start time."""
    log = _step_log()
    log.write(f"{run_id}/{key} {time.time():.6f}\n")
    log.flush()
    return key


@engine.workflow("five_light_steps")
async def five_light_steps(ctx: Context, n: int) -> int:
    for key in STEPS:
        await ctx.step(key, record, ctx.run_id, key)
    return n
