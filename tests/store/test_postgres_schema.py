"""PostgreSQL specifics: the migration chain equals the schema file (against the real server;
skipped, saying so, when PLAIT_TEST_POSTGRES_URL is unset)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg
import pytest

from plait.store.postgres.schema import schema_sql
from plait.store.postgres.store import MIGRATIONS, PostgresStore
from tests.backends import database_url

pytestmark = pytest.mark.postgres

SCHEMA = resources.files("plait.store.postgres").joinpath("schema.sql").read_text()


async def test_migration_chain_equals_the_schema_file(tmp_path: Path) -> None:
    with database_url("postgres", tmp_path) as url:
        store = PostgresStore(url)
        await store.open()
        try:
            assert await store.schema_version() == len(MIGRATIONS)
        finally:
            await store.close()
        with psycopg.connect(url) as conn:
            migrated = schema_sql(conn)
    assert migrated == SCHEMA, "run scripts/schema-sql with PLAIT_TEST_POSTGRES_URL set"


def test_the_schema_file_alone_builds_the_same_schema(tmp_path: Path) -> None:
    with database_url("postgres", tmp_path) as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA.encode())
        assert schema_sql(conn) == SCHEMA
