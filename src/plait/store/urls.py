"""Pick a store backend from a database URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from plait.errors import ConfigurationError

if TYPE_CHECKING:
    from plait.settings import Settings
    from plait.store.base import Store
    from plait.store.records import EventRouter


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
    path = url[len("sqlite:///") :]
    if not path:
        raise ConfigurationError(f"database URL {url!r} names no file")
    return path


def open_store(
    settings: Settings,
    *,
    router: EventRouter | None = None,
    on_runnable: Callable[[], None] | None = None,
) -> Store:
    """A store for ``settings.database_url`` (not yet opened).

    Args:
        router: decides, inside the transaction that stores an event, which runs the event
            starts or resumes (without one, events start and resume nothing).
        on_runnable: called after a commit that made runs runnable (wakes the local worker);
            on PostgreSQL also when another process made some.
    """
    url = settings.database_url
    if url.startswith("sqlite:///"):
        from plait.store.sqlite.store import SQLiteStore

        path = sqlite_path(url)
        return SQLiteStore(
            path, synchronous=settings.sqlite_synchronous, router=router, on_runnable=on_runnable
        )
    if url.startswith(("postgresql://", "postgres://")):
        from plait.store.postgres.store import PostgresStore

        return PostgresStore(
            url, readers=settings.database_readers, router=router, on_runnable=on_runnable
        )
    scheme = url.split(":", 1)[0]
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r} in {url!r}: use sqlite:///path/to/file.db or postgresql://…"
    )
