"""``plait runs steps RUN_ID``: a run's steps a window at a time from the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from plait import Context, Engine


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


async def test_runs_steps_pages_a_runs_steps(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = Engine(db)

    @engine.workflow("count")
    async def count(ctx: Context, n: int) -> int:
        for i in range(n):
            await ctx.step("tick", lambda i=i: {"i": i})
        return n

    async with engine:
        run_id = (await engine.start("count", 5)).id
        assert await engine.handle(run_id).result(timeout=30) == 5

    first = plait("runs", "steps", run_id, "--limit", "2", "--json", "--db", db, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    window = json.loads(first.stdout)
    assert [s["output"] for s in window["items"]] == [{"i": 0}, {"i": 1}]
    assert (window["total"], window["nextStart"]) == (5, 2)
    last = plait("runs", "steps", run_id, "--start", "4", "--db", db, cwd=tmp_path)
    assert last.returncode == 0, last.stderr
    assert "tick#5" in last.stdout and "steps 5-5 of 5" in last.stdout
    missing = plait("runs", "steps", "run_nope", "--db", db, cwd=tmp_path)
    assert missing.returncode == 3 and "no run with id 'run_nope'" in missing.stderr
