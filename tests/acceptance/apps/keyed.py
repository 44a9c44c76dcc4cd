"""Runs under a concurrency key, for many workers sharing one PostgreSQL database.

Each step execution appends ``KEY start|end TIME`` to ``keyed-PID.log`` in ``PLAIT_TEST_DIR``
(written and flushed before and after the step's work), so that the test can rebuild how many
runs of each key executed at once across every process.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from pathlib import Path
from typing import IO, Any

from plait import Context, Engine

engine = Engine()

LIMIT = 2
FLOW = {"key": "input.key", "limit": LIMIT}


@functools.cache
def _log() -> IO[str]:
    path = Path(os.environ["PLAIT_TEST_DIR"]) / f"keyed-{os.getpid()}.log"
    return path.open("a", encoding="utf-8")


async def work(key: str) -> str:
    """Log the start and end of this execution, around a short wait (other runs of the key
    would overlap it if the limit did not hold)."""
    log = _log()
    log.write(f"{key} start {time.time():.6f}\n")
    log.flush()
    await asyncio.sleep(0.02)
    log.write(f"{key} end {time.time():.6f}\n")
    log.flush()
    return key


@engine.workflow("keyed", concurrency=FLOW)
async def keyed(ctx: Context, job: dict[str, Any]) -> str:
    await ctx.step("one", work, job["key"])
    await ctx.sleep(0.01)  # suspends: the slot is given back and taken again
    return str(await ctx.step("two", work, job["key"]))
