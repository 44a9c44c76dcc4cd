"""Migration 014 stores how each run ended (``runs.outcome``): runs that ended before it take
their outcome from their status; a live run has none until it ends. Both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plait.store.postgres.store import MIGRATIONS as POSTGRES_MIGRATIONS
from plait.store.sqlite.store import MIGRATIONS as SQLITE_MIGRATIONS
from plait.store.sqlite.store import _statements
from tests.backends import BACKENDS, database_url

BEFORE = 13
RUN = (
    "INSERT INTO runs (id, workflow, status, input, created_at, updated_at)"
    " VALUES (%s, 'wf', %s, %s, 1.0, 1.0)"
)
READ = "SELECT id, outcome FROM runs ORDER BY id"
STATUSES = {"run_a": "succeeded", "run_b": "failed", "run_c": "cancelled", "run_d": "waiting"}


def _rows_before(run: Any) -> None:
    for run_id, status in STATUSES.items():
        run(RUN, (run_id, status, b"[]"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_ended_before_014_take_their_outcome_from_their_status(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        rows = _sqlite(tmp_path / "plait.db") if backend == "sqlite" else _postgres(url)
    assert dict(rows) == {"run_a": "succeeded", "run_b": "failed", "run_c": "cancelled",
                          "run_d": None}  # fmt: skip


def _sqlite(path: Path) -> list[tuple[str, str | None]]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for _, _, script in SQLITE_MIGRATIONS[:BEFORE]:
            for statement in _statements(script):
                db.execute(statement)
        _rows_before(lambda sql, args: db.execute(sql.replace("%s", "?"), args))
        for _, _, script in SQLITE_MIGRATIONS[BEFORE:]:
            for statement in _statements(script):
                db.execute(statement)
        return list(db.execute(READ).fetchall())
    finally:
        db.close()


def _postgres(url: str) -> list[tuple[str, str | None]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for _, _, script in POSTGRES_MIGRATIONS[:BEFORE]:
            db.execute(script.encode())
        _rows_before(db.execute)
        for _, _, script in POSTGRES_MIGRATIONS[BEFORE:]:
            db.execute(script.encode())
        return list(db.execute(READ).fetchall())
