"""A process refuses a database whose schema a newer plait migrated: it would fail later, on
columns it does not know; it says which versions and to upgrade (either backend)."""

from __future__ import annotations

import sqlite3

import pytest

from plait.errors import ConfigurationError
from plait.settings import Settings
from plait.store.urls import open_store


def _newest(url: str) -> int:
    if url.startswith("sqlite"):
        from plait.store.sqlite.store import MIGRATIONS
    else:
        from plait.store.postgres.store import MIGRATIONS
    return len(MIGRATIONS)


def _record_version(url: str, version: int) -> None:
    """Write a schema version row as a newer plait's migration would."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))


async def test_a_schema_newer_than_this_plait_knows_is_refused(store_url: str) -> None:
    first = open_store(Settings.load(database_url=store_url))
    await first.open()  # migrates to the newest version this plait has
    await first.close()
    newest = _newest(store_url)
    _record_version(store_url, newest + 3)

    later = open_store(Settings.load(database_url=store_url))
    with pytest.raises(ConfigurationError) as refused:
        await later.open()
    message = str(refused.value)
    assert f"version {newest + 3}" in message and f"({newest})" in message
    assert "upgrade plait" in message
    with pytest.raises(ConfigurationError):  # refused again: nothing was opened or migrated
        await later.open()


async def test_the_schema_this_plait_knows_opens(store_url: str) -> None:
    first = open_store(Settings.load(database_url=store_url))
    await first.open()
    await first.close()
    again = open_store(Settings.load(database_url=store_url))
    await again.open()  # the same version: opens, migrates nothing
    try:
        assert await again.schema_version() == _newest(store_url)
    finally:
        await again.close()
