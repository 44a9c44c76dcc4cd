"""`plait runs cancel | resume | fork | retry` through the real command line, on a run that a
Python engine left failed; the engine then finishes what the operator reopened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from plait import Engine, WorkflowFailed
from tests.integration.test_run_operations import checkout
from tests.integration.test_service_cli import data, plait


async def test_operations_from_the_shell(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    runs, broken = Counter[str](), {"ship"}
    engine = Engine(url)
    checkout(engine, runs, broken)
    async with engine:
        handle = await engine.start("checkout", "o-9")
        with pytest.raises(WorkflowFailed):
            await handle.result(timeout=10)
    db = ["--db", url, "--json"]

    resumed = data(plait("runs", "resume", handle.id, "--by", "ops", "--reason", "fixed", *db,
                         cwd=tmp_path))  # fmt: skip
    assert resumed["status"] == "pending" and resumed["history"][0]["by"] == "ops"
    forked = data(plait("runs", "fork", handle.id, "--step", "charge", *db, cwd=tmp_path))
    assert forked["status"] == "pending" and [s["key"] for s in forked["steps"]] == ["reserve"]
    missing = plait("runs", "fork", handle.id, "--step", "pack", "--db", url, cwd=tmp_path)
    assert missing.returncode == 3 and "has no step 'pack'" in missing.stderr
    refused = plait("runs", "resume", forked["$id"], "--db", url, cwd=tmp_path)
    assert refused.returncode == 4 and "it is pending" in refused.stderr
    cancelled = data(plait("runs", "cancel", forked["$id"], "--reason", "duplicate", *db,
                           cwd=tmp_path))  # fmt: skip
    assert cancelled["status"] == "cancelled" and cancelled["error"]["reason"] == "duplicate"

    broken.clear()
    engine = Engine(url)
    checkout(engine, runs, broken)
    async with engine:
        assert await engine.handle(handle.id).result(timeout=10) == (
            "notify(ship(charge(reserve(o-9))))"
        )
    assert runs == {"reserve": 1, "charge": 1, "ship": 2, "notify": 1}
