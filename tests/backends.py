"""Database backends for tests: SQLite files always; PostgreSQL when PLAIT_TEST_POSTGRES_URL is
set, each test in a fresh schema (so tests never see each other's rows).

Under pytest-xdist each worker process uses a database of its own, the URL's database name with
the worker's id appended (``test_gw0``), made on first use: PostgreSQL delivers notifications
(LISTEN/NOTIFY, which wake idle workers and streams) to every session of a database whatever
its schema, so tests running at the same time in one database would wake each other."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from plait.store.base import Store

SHARED_POSTGRES_URL = os.environ.get("PLAIT_TEST_POSTGRES_URL")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1...: set in pytest-xdist workers


def _worker_database(url: str, worker: str) -> str:
    """``url`` with the database ``<its database>_<worker>``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/') or 'postgres'}_{worker}"))


POSTGRES_URL = (
    _worker_database(SHARED_POSTGRES_URL, XDIST_WORKER)
    if SHARED_POSTGRES_URL and XDIST_WORKER
    else SHARED_POSTGRES_URL
)
_database_ready = False


def _ensure_database() -> None:
    """Create this worker's database unless it exists (once per process)."""
    global _database_ready
    if _database_ready or POSTGRES_URL == SHARED_POSTGRES_URL:
        return
    import psycopg
    from psycopg import sql

    assert SHARED_POSTGRES_URL and POSTGRES_URL
    name = urlsplit(POSTGRES_URL).path.lstrip("/")
    exists = (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation)  # made before
    with psycopg.connect(SHARED_POSTGRES_URL, autocommit=True) as admin, suppress(*exists):
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _database_ready = True


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

    _ensure_database()
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
