"""Side effects that tests observe from outside the worker process.

Every file lives in the directory named by ``PLAIT_TEST_DIR``, which each test sets for its
workers: ``steps.log`` gets one line per step execution, and marker files announce progress
(``reached-NAME``, ``started-NAME``) or gate it (``block``, ``open-NAME``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

STEP_LOG = "steps.log"
BLOCK = "block"


def path(name: str) -> Path:
    return Path(os.environ["PLAIT_TEST_DIR"]) / name


def record(name: str) -> str:
    """Append ``name`` to the step log, durably (a SIGKILL right after must not lose it)."""
    with path(STEP_LOG).open("a", encoding="utf-8") as log:
        log.write(name + "\n")
        log.flush()
        os.fsync(log.fileno())
    return name


def record_or_hang(name: str) -> str:
    """Record ``name``; then, if the ``block`` file exists, announce it and hang for a minute like
    a stuck step, so that a test can kill the worker at a known point."""
    record(name)
    if path(BLOCK).exists():
        path(f"reached-{name}").touch()
        time.sleep(60)
    return name


def record_when_open(name: str) -> str:
    """Announce the start, wait until the test creates ``open-NAME``, then record ``name``."""
    path(f"started-{name}").touch()
    deadline = time.monotonic() + 30
    while not path(f"open-{name}").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"open-{name} never appeared")
        time.sleep(0.02)
    return record(name)
