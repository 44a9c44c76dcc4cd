"""What a store operation runs against: named queries of the backend's dialect, in the one
transaction the operation belongs to. The same operation code runs on SQLite and PostgreSQL;
only the SQL files and the ``Session`` differ."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from plait.errors import StoreError


class Conflict(StoreError):
    """A write broke a unique constraint."""


class Cursor(Protocol):
    """The result of a query (DB-API shaped)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Session(Protocol):
    """A connection inside a transaction."""

    dialect: str
    driver_errors: tuple[type[Exception], ...]
    """The database driver's exception types."""

    @property
    def in_transaction(self) -> bool: ...

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        """Execute the named query with ``params`` (raises ``Conflict`` on a unique violation)."""
        ...

    def execute(self, sql: str) -> Cursor:
        """Execute literal SQL without parameters (savepoints)."""
        ...
