"""SQLite specifics: WAL, the migration chain, and group commit."""

from __future__ import annotations

import asyncio
import sqlite3
from importlib import resources
from pathlib import Path

from plait.store.records import NewRun, StepRecord
from plait.store.sqlite.store import MIGRATIONS, SQLiteStore

T0 = 1_800_000_000.0


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name"
    )
    return [(name, " ".join(sql.split())) for name, sql in rows]


async def test_migration_chain_equals_the_schema_file(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    migrated = sqlite3.connect(tmp_path / "m.db")
    expected = sqlite3.connect(":memory:")
    schema = resources.files("plait.store.sqlite").joinpath("schema.sql").read_text()
    expected.executescript(schema)
    assert _schema(migrated) == _schema(expected)


async def test_reopening_migrates_nothing_twice_and_uses_wal(tmp_path: Path) -> None:
    path = str(tmp_path / "w.db")
    for _ in range(2):
        store = SQLiteStore(path)
        await store.open()
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "g.db"))
    await store.open()
    await asyncio.gather(
        *[store.create_run(NewRun(f"run_{i}", "wf", b"[]", T0)) for i in range(200)]
    )
    claims = await store.claim_runs("w", ["wf"], 200, T0, T0 + 30)
    before = store.commits
    step = StepRecord("a", 0, "a", "step", "completed", 1, b"1", None, T0, T0)
    await asyncio.gather(*[store.record_step(c.id, c.fence, step) for c in claims])
    assert store.commits - before <= 2  # 200 steps of 200 runs: one group commit, not 200
    record = await store.get_run("run_199")
    assert record is not None and [s.key for s in record.steps] == ["a"]
    await store.close()


async def test_an_operation_that_raises_leaves_none_of_its_writes(tmp_path: Path) -> None:
    from plait.errors import PlaitError
    from plait.store.session import Session

    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()

    def half_done(db: Session) -> None:
        db.run("insert_history", {"run_id": "run_a", "at": T0, "action": "x", "actor": None,
                                  "reason": None, "detail": "{}"})  # fmt: skip
        raise PlaitError("refused after a write")

    def whole(db: Session) -> None:
        db.run("insert_history", {"run_id": "run_b", "at": T0, "action": "y", "actor": None,
                                  "reason": None, "detail": "{}"})  # fmt: skip

    failed, done = store._submit(half_done), store._submit(whole)  # one batch, one commit
    await asyncio.gather(done, asyncio.wait([failed]))
    assert isinstance(failed.exception(), PlaitError)
    assert await store.run_history("run_a") == []
    assert [e.action for e in await store.run_history("run_b")] == ["y"]
    await store.close()
