"""``plait overview``: how every workflow of an organization is doing, from the shell (as
``GET /~{org}/overview``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from plait import Context, Engine
from plait.errors import WorkflowFailed


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


async def test_overview_counts_the_runs_that_ended(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    empty = plait("overview", "--db", db, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "No workflows in default yet" in empty.stdout
    engine = Engine(db)

    @engine.workflow("charge")
    async def charge(ctx: Context, fail: bool) -> str:
        if fail:
            raise ValueError("declined")
        return "ok"

    async with engine:
        for fail in (False, False, True):
            handle = await engine.start("charge", fail)
            try:
                await handle.result(timeout=30)
            except WorkflowFailed:
                assert fail

    shown = plait("overview", "--db", db, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "charge" in shown.stdout and "67%" in shown.stdout
    found = json.loads(plait("overview", "--json", "--db", db, cwd=tmp_path).stdout)
    row = next(w for w in found["workflows"] if w["workflow"] == "charge")
    assert (row["hour"]["ended"], row["hour"]["failed"], row["failing"]) == (3, 1, 1)
