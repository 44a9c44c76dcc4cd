"""What the verbs of every feature run on: the backend's group-commit writer and its reader.

An operation is a function of a :class:`~plait.store.session.Session`. ``_submit`` runs it
inside the next group-committed write transaction and resolves when that commits; ``_read``
runs it outside any write transaction. Each backend (SQLite, PostgreSQL) implements both.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from plait.store.session import Session

Op = Callable[[Session], Any]


class Backend(abc.ABC):
    """Base of the feature verbs: the two primitives a backend implements, and two reads."""

    on_commit: Callable[[float, int], None] | None = None
    """Told the duration (seconds) and write count of each group commit (the engine's metrics);
    called from the writer."""

    @abc.abstractmethod
    def _submit(self, op: Op) -> asyncio.Future[Any]:
        """Queue ``op`` for the next write transaction; the future resolves once it commits
        (with what ``op`` returned, or the error it raised: its writes are then undone)."""

    @abc.abstractmethod
    async def _read(self, op: Op) -> Any:
        """Run ``op`` outside any write transaction and return what it returns."""

    async def _one(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first row of a named read query, or None."""
        return await self._read(lambda db: db.run(name, params).fetchone())

    async def _all(self, name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row of a named read query."""
        rows: list[Any] = await self._read(lambda db: list(db.run(name, params).fetchall()))
        return rows
