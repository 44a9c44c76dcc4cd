"""`plait runs cancel` on the root of a deep run tree: the whole tree ends cancelled (it failed
with a RecursionError inside the store write before tree cancels were iterative)."""

from __future__ import annotations

from pathlib import Path

from plait import Engine
from plait.store.records import NewRun
from tests.backends import select
from tests.integration.test_service_cli import data, plait

TREE, CHAIN = 5_000, 2_000


async def test_plait_runs_cancel_cancels_a_deep_tree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    async with Engine(url) as engine:
        store = await engine.deps.store()
        await store.create_run(NewRun("run_t0", "wf", b"[]", 1.0))
        sql = f"""
            INSERT INTO runs (id, org, workflow, status, input, trigger, created_at, updated_at,
                              parent_run_id, parent_step, root_run_id, depth)
            WITH RECURSIVE seq (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq
                                       WHERE i < {TREE - 1})
            SELECT 'run_t' || i, 'default', 'wf', 'waiting', '[]', 'child', 1, 1,
                   'run_t' || CASE WHEN i <= {CHAIN} THEN i - 1 ELSE (i - {CHAIN}) / 2 END,
                   'child:wf', 'run_t0', 1
            FROM seq
        """
        await store._submit(lambda db: db.execute(sql))  # type: ignore[attr-defined]

    done = plait("runs", "cancel", "run_t0", "--reason", "runaway", "--db", url, "--json",
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert data(done)["status"] == "cancelled"
    async with Engine(url) as engine:
        rows = await select(await engine.deps.store(), "SELECT status, COUNT(*) FROM runs "
                            "GROUP BY status")  # fmt: skip
    assert rows == [("cancelled", TREE)]
