"""What every area of store verbs may use: the backend's group-commit writer and its reader.

An operation is a function of a :class:`~plait.store.session.Session`. ``_submit`` runs it
inside the next group-committed write transaction and resolves when that commits; ``_read``
runs it outside any write transaction. Each backend (SQLite, PostgreSQL) provides both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plait.store.records import EventRecord, MachineDelivery, RunToStart
from plait.store.session import Session

Op = Callable[[Session], Any]


class Area:
    """Base of the verb mixins: declares what a backend provides."""

    _runnable = False
    """Set inside a write transaction that made runs runnable; the backend then wakes workers."""

    def _submit(self, op: Op) -> asyncio.Future[Any]:  # provided by the backend
        raise TypeError("Area is a mixin of a store backend")

    async def _read(self, op: Op) -> Any:  # provided by the backend
        raise TypeError("Area is a mixin of a store backend")

    # Hooks of the workflows area that the core verbs call inside their transactions.
    def _store_event(self, db: Session, event: EventRecord) -> bool:
        raise TypeError("provided by WorkflowsArea")

    def _workflow_started(self, db: Session, org: str, workflow_id: str | None) -> None:
        raise TypeError("provided by WorkflowsArea")

    def _run_ended(self, db: Session, run_id: str, status: str, now: float) -> None:
        raise TypeError("provided by WorkflowsArea")

    def _run_reopened(self, db: Session, run_id: str) -> None:
        raise TypeError("provided by WorkflowsArea")

    def _insert_run(
        self, db: Session, event: EventRecord, start: RunToStart, status: str,
        wake_at: float | None, trigger: str = "event",
    ) -> None:  # fmt: skip
        raise TypeError("provided by WorkflowsArea")

    def _cancel_tasks(self, db: Session, run_id: str, now: float) -> None:
        raise TypeError("provided by TasksArea")

    def _deliver_machine_event(
        self, db: Session, event: EventRecord, delivery: MachineDelivery
    ) -> tuple[str, str | None]:
        raise TypeError("provided by MachinesArea")

    def _child_ended(self, db: Session, run_id: str, now: float) -> None:
        raise TypeError("provided by ChildrenArea")

    def _cancel_orphans(self, db: Session, run_ids: Sequence[str], now: float) -> set[str]:
        raise TypeError("provided by TreesArea")

    async def _one(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """The first row of a named read query, or None."""
        return await self._read(lambda db: db.run(name, params).fetchone())

    async def _all(self, name: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row of a named read query."""
        rows: list[Any] = await self._read(lambda db: list(db.run(name, params).fetchall()))
        return rows
