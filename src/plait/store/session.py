"""What a store operation runs against: named queries of the backend's dialect, in the one
transaction the operation belongs to. The same operation code runs on SQLite and PostgreSQL;
only the SQL files and the ``Session`` differ.

An operation is a plain function of a ``Session``. What one feature's operation must do in
another feature's rows (an ended run moves its workflow's counters, a stored event starts runs)
is a plain function of the ``Session`` too, in the module of the feature that owns it, called
directly. What such a write means for the transaction beyond its rows travels on the session:
the workflow counter deltas to apply before COMMIT, whether runs became runnable, and the event
router."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from plait.errors import StoreError

if TYPE_CHECKING:
    from plait.store.counters import Counters
    from plait.store.records import EventRouter


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
    router: EventRouter | None
    """Decides what a stored event starts and resumes (``None``: nothing)."""
    counters: Counters
    """The workflow counter deltas of the write transaction, applied just before COMMIT."""
    runnable: bool
    """Set by a write that made runs runnable: once it commits, the backend wakes workers."""

    @property
    def in_transaction(self) -> bool: ...

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        """Execute the named query with ``params`` (raises ``Conflict`` on a unique violation)."""
        ...

    def execute(self, sql: str) -> Cursor:
        """Execute literal SQL without parameters (savepoints)."""
        ...
