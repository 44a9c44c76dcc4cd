"""The examples under examples/ run as documented, on the embedded default database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_quickstart_runs_once_per_order_id_on_plait_db(tmp_path: Path) -> None:
    first = _run([sys.executable, str(EXAMPLES / "quickstart.py")], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "run order-1001: succeeded" in first.stdout
    assert "receipt for 24.0 sent to ada@example.com" in first.stdout
    assert (tmp_path / "plait.db").exists()
    second = _run([sys.executable, str(EXAMPLES / "quickstart.py")], tmp_path)
    assert second.returncode == 0, second.stderr
    listed = _run([sys.executable, "-m", "plait", "runs", "get", "order-1001", "--json"], tmp_path)
    run = json.loads(listed.stdout)
    assert run["status"] == "succeeded"
    assert [s["key"] for s in run["steps"]] == [
        "reserve-stock", "charge-card", "settle", "send-receipt",
    ]  # fmt: skip
    assert run["replays"] == 1  # the second start found the finished run


def test_sync_script_prints_the_result(tmp_path: Path) -> None:
    done = _run([sys.executable, str(EXAMPLES / "sync_script.py")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["2026-11-20: 42 orders", "succeeded"]


def test_the_workflow_test_example_passes_without_a_database_file(tmp_path: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(EXAMPLES / "testing"),
    ]
    done = _run(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert list(tmp_path.glob("*.db*")) == []  # in memory: no plait.db, no journal
