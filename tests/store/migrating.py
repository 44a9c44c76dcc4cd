"""Run a migration over rows written before it: apply the chain up to ``before``, write the
rows (statements with ``%s`` placeholders), apply the rest, and read the result. Both backends."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plait.store.postgres.store import MIGRATIONS as POSTGRES_MIGRATIONS
from plait.store.sqlite.store import MIGRATIONS as SQLITE_MIGRATIONS
from plait.store.sqlite.store import _statements

Write = Callable[[str, tuple[Any, ...]], Any]


def migrated(
    backend: str, url: str, path: Path, before: int, rows: Callable[[Write], None], read: str
) -> list[tuple[Any, ...]]:
    """The rows ``read`` finds once migrations ``before + 1`` onwards ran over ``rows``."""
    if backend == "sqlite":
        return _sqlite(path, before, rows, read)
    return _postgres(url, before, rows, read)


def _sqlite(path: Path, before: int, rows: Callable[[Write], None], read: str) -> list[Any]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for _, _, script in SQLITE_MIGRATIONS[:before]:
            for statement in _statements(script):
                db.execute(statement)
        rows(lambda sql, args: db.execute(sql.replace("%s", "?"), args))
        for _, _, script in SQLITE_MIGRATIONS[before:]:
            for statement in _statements(script):
                db.execute(statement)
        return list(db.execute(read).fetchall())
    finally:
        db.close()


def _postgres(url: str, before: int, rows: Callable[[Write], None], read: str) -> list[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for _, _, script in POSTGRES_MIGRATIONS[:before]:
            db.execute(script.encode())
        rows(db.execute)
        for _, _, script in POSTGRES_MIGRATIONS[before:]:
            db.execute(script.encode())
        return list(db.execute(read).fetchall())
