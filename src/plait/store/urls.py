"""Pick a store backend from a database URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import ConfigurationError

if TYPE_CHECKING:
    from plait.settings import Settings
    from plait.store.base import Store


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigurationError(f"database URL {url!r} names no file")
    return path


def open_store(settings: Settings) -> Store:
    """A store for ``settings.database_url`` (not yet opened)."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        from plait.store.sqlite.store import SQLiteStore

        return SQLiteStore(sqlite_path(url), synchronous=settings.sqlite_synchronous)
    if url.startswith(("postgresql://", "postgres://")):
        from plait.store.postgres.store import PostgresStore

        return PostgresStore(url, readers=settings.database_readers)
    scheme = url.split(":", 1)[0]
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r} in {url!r}: use sqlite:///path/to/file.db or postgresql://…"
    )
