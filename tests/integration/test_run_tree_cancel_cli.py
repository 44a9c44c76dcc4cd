"""`plait runs cancel` on a run that already succeeded: like the API, it shows the run with its
status unchanged and cancels the live runs below it (they kept running before)."""

from __future__ import annotations

from pathlib import Path

from plait import Engine
from plait.store.records import NewRun
from tests.backends import select
from tests.integration.test_service_cli import data, plait


async def test_plait_runs_cancel_on_a_succeeded_root_cancels_its_live_child(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    async with Engine(url) as engine:
        store = await engine.deps.store()
        await store.create_run(NewRun("run_root", "wf", b"[]", 1.0))
        await store.create_run(NewRun("run_kid", "wf", b"[]", 1.0))
        sql = [
            "UPDATE runs SET status = 'succeeded', finished_at = 2 WHERE id = 'run_root'",
            "UPDATE runs SET status = 'waiting', trigger = 'child', parent_run_id = 'run_root', "
            "root_run_id = 'run_root', depth = 1 WHERE id = 'run_kid'",
        ]
        for statement in sql:
            await store._submit(lambda db, s=statement: db.execute(s))  # type: ignore[attr-defined]

    done = plait("runs", "cancel", "run_root", "--reason", "runaway", "--db", url, "--json",
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = data(done)
    assert shown["status"] == "succeeded"
    assert [(h["action"], h["reason"], h["descendants"]) for h in shown["history"]] == [
        ("cancel", "runaway", 1)
    ]
    async with Engine(url) as engine:
        rows = await select(await engine.deps.store(), "SELECT id, status FROM runs ORDER BY id")
    assert rows == [("run_kid", "cancelled"), ("run_root", "succeeded")]
