"""Database backends for tests: SQLite files always; PostgreSQL when PLAIT_TEST_POSTGRES_URL is
set, each test in a fresh schema (so tests never see each other's rows)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from plait.store.base import Store

POSTGRES_URL = os.environ.get("PLAIT_TEST_POSTGRES_URL")
SKIP_POSTGRES = "PLAIT_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@contextmanager
def database_url(backend: str, tmp_path: Path, sqlite_name: str = "plait.db") -> Iterator[str]:
    """A fresh database URL of ``backend`` (SQLite: the file ``sqlite_name`` in ``tmp_path``);
    the PostgreSQL schema is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / sqlite_name}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    separator = "&" if "?" in POSTGRES_URL else "?"
    options = quote(f"-c search_path={schema}")
    try:
        yield f"{POSTGRES_URL}{separator}options={options}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


async def select(store: Store, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a literal query, run by ``store`` on its own connection (either dialect)."""
    rows: list[tuple[Any, ...]] = await store._read(  # type: ignore[attr-defined]
        lambda db: [tuple(row) for row in db.execute(sql).fetchall()]
    )
    return rows
