"""``plait runs purge``, ``plait runs archive read`` and ``plait retention`` through the real
command line, on each backend: a dry run counts, a purge deletes and archives, the archive reads
back, a bad duration exits 2 naming the forms, and policies are set and shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait import Context, Engine
from plait.testing import VirtualClock
from tests.backends import BACKENDS, database_url

DAY = 86_400.0


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def plait(*args: str, db: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    command = [sys.executable, "-m", "plait", *args, *(("--db", db) if db else ())]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


async def ended_runs(db: str, count: int) -> list[str]:
    """``count`` runs of ``quick`` that ended 40 days ago (the command line's clock is real)."""
    engine = Engine(db, clock=VirtualClock(start=time.time() - 40 * DAY), run_retention_days=0)

    @engine.workflow("quick")
    async def quick(ctx: Context, n: int) -> int:
        return n

    made = []
    async with engine:
        for n in range(count):
            handle = await engine.start(quick, n)
            assert await handle.result() == n
            made.append(handle.id)
    return made


async def test_purge_dry_run_archive_and_read_back(db: str, tmp_path: Path) -> None:
    made = await ended_runs(db, 2)
    dry = plait("runs", "purge", "--older-than", "30d", "--dry-run", db=db, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would delete 2 runs of default that ended before ")
    bad = plait("runs", "purge", "--older-than", "30 days", db=db, cwd=tmp_path)
    assert bad.returncode == 2 and "is not a duration" in bad.stderr and "30d" in bad.stderr
    done = plait("runs", "purge", "--older-than", "30d", "--workflow", "quick", "--archive",
                 str(tmp_path / "archive"), "--json", db=db, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["runs"] == 2 and shown["dryRun"] is False and len(shown["archives"]) == 1
    read = plait("runs", "archive", "read", shown["archives"][0], db=None, cwd=tmp_path)
    assert read.returncode == 0, read.stderr
    lines = [json.loads(line) for line in read.stdout.splitlines()]
    assert sorted(run["$id"] for run in lines) == sorted(made)
    assert {run["status"] for run in lines} == {"succeeded"}
    again = plait("runs", "purge", "--older-than", "30d", db=db, cwd=tmp_path)
    assert again.stdout.startswith("deleted 0 runs")


def test_policies_are_set_merged_and_shown(db: str, tmp_path: Path) -> None:
    org = plait("retention", "set", "--max-age", "60d", db=db, cwd=tmp_path)
    assert org.returncode == 0, org.stderr
    failed = plait("retention", "set", "--status", "failed", "--max-age", "forever", db=db,
                   cwd=tmp_path)  # fmt: skip
    assert failed.returncode == 0, failed.stderr
    flow = plait("retention", "set", "--workflow", "quick", "--max-runs", "5", db=db, cwd=tmp_path)
    assert flow.returncode == 0, flow.stderr
    shown = json.loads(plait("retention", "show", "--json", db=db, cwd=tmp_path).stdout)
    assert shown["policy"] == {
        "maxAgeDays": 60.0,
        "maxRuns": None,
        "statuses": {"failed": {"maxAgeDays": 0.0, "maxRuns": None}},
    }
    assert [(w["workflow"], w["policy"]["maxRuns"]) for w in shown["workflows"]] == [("quick", 5)]
    text = plait("retention", "show", db=db, cwd=tmp_path).stdout
    assert "policy: max age 60 days, failed: max age forever" in text
    assert "workflow quick: max runs 5" in text
    nothing = plait("retention", "set", db=db, cwd=tmp_path)
    assert nothing.returncode == 2 and "--max-age" in nothing.stderr
    cleared = plait("retention", "clear", "--workflow", "quick", db=db, cwd=tmp_path)
    assert cleared.stdout.strip() == "removed the policy of workflow quick"


async def test_an_archive_that_cannot_be_written_exits_cleanly_and_deletes_nothing(
    db: str, tmp_path: Path
) -> None:
    await ended_runs(db, 2)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    done = plait("runs", "purge", "--older-than", "30d", "--archive", str(blocked / "archive"),
                 db=db, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "cannot write the archive" in done.stderr and "nothing was deleted" in done.stderr
    assert "Traceback" not in done.stderr
    dry = plait("runs", "purge", "--older-than", "30d", "--dry-run", db=db, cwd=tmp_path)
    assert dry.stdout.startswith("would delete 2 runs")
