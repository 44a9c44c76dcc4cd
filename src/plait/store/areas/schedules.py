"""SQLite verbs of the schedules area (mixed into ``SQLiteStore``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from plait.errors import PlaitError, StoreError
from plait.schedules import Schedule, next_tick
from plait.store.areas.base import Area
from plait.store.session import Session

T = TypeVar("T")

StartRun = Callable[[Session, float], str | None]
"""Starts the run of one tick inside the firing transaction; returns its id, or ``None``."""


class SchedulesArea(Area):
    """Verbs for schedules; queries in ``queries_schedules.sql``.

    Every verb but the poller's (``due_schedules``, ``fire_schedule``) is scoped to one
    organization. Schedules are built and checked by ``plait.schedules.new_schedule``.
    """

    async def create_schedule(self, s: Schedule) -> Schedule:
        """Store ``s`` and return it."""
        params = {
            "org": s.org, "id": s.id, "workflow_id": s.workflow_id, "cron": s.cron,
            "timezone": s.timezone, "catchup": s.catchup, "max_catchup": s.max_catchup,
            "input": orjson.dumps(s.input).decode(), "enabled": s.enabled,
            "next_fire_at": s.next_fire_at, "created_at": s.created_at,
        }  # fmt: skip
        await self._submit(lambda db: db.run("insert_schedule", params))
        return s

    async def get_schedule(self, org: str, id: str) -> Schedule | None:
        """The schedule of ``org`` with that id, or ``None``."""
        row = await self._one("get_schedule", {"org": org, "id": id})
        return None if row is None else _schedule(row)

    async def list_schedules(self, org: str, workflow_id: str | None = None) -> list[Schedule]:
        """The schedules of ``org`` (of one workflow if given), oldest first."""
        params = {"org": org, "workflow_id": workflow_id}
        return [_schedule(row) for row in await self._all("list_schedules", params)]

    async def page_schedules(
        self, org: str, workflow_id: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Schedule]:
        """Up to ``limit`` schedules of ``org`` (of one workflow if given), oldest first, after
        the keyset ``(created_at, id)`` of the previous page's last."""
        params = {"org": org, "workflow_id": workflow_id, "limit": limit,
                  "after_at": after[0] if after else None,
                  "after_id": after[1] if after else None}  # fmt: skip
        return [_schedule(row) for row in await self._all("page_schedules", params)]

    async def delete_schedule(self, org: str, id: str) -> bool:
        """Delete a schedule and its fired ticks; ``False`` if ``org`` had no such schedule."""
        params = {"org": org, "id": id}

        def op(db: Session) -> bool:
            db.run("delete_ticks_of_schedule", params)
            return bool(db.run("delete_schedule", params).rowcount)

        deleted: bool = await self._submit(op)
        return deleted

    async def delete_schedules_of(self, org: str, workflow_id: str) -> int:
        """Delete every schedule of a workflow and their fired ticks; return how many."""
        params = {"org": org, "workflow_id": workflow_id}

        def op(db: Session) -> int:
            db.run("delete_ticks_of_workflow", params)
            return int(db.run("delete_schedules_of_workflow", params).rowcount)

        deleted: int = await self._submit(op)
        return deleted

    async def set_schedules_enabled(
        self, org: str, workflow_id: str, enabled: bool, *, now: float | None = None
    ) -> int:
        """Pause or resume every schedule of a workflow; return how many changed.

        Pausing a workflow pauses its schedules. A schedule resumed with ``now`` given next
        fires at its first tick after ``now``, so the ticks that passed while it was paused are
        not caught up; without ``now`` it keeps its ``next_fire_at`` and its catch-up policy
        decides. Atomic.
        """
        params = {"org": org, "workflow_id": workflow_id, "enabled": enabled}
        if not enabled or now is None:
            changed: int = await self._submit(
                lambda db: db.run("set_schedules_enabled", params).rowcount
            )
            return changed
        resume_at = now

        def op(db: Session) -> int:
            paused = [_schedule(r) for r in db.run("paused_schedules_of_workflow", params)]
            nexts = [next_tick(s, resume_at) for s in paused]  # may raise: before any write
            for s, next_fire_at in zip(paused, nexts, strict=True):
                keys = {"org": org, "id": s.id, "next_fire_at": next_fire_at}
                db.run("resume_schedule", keys)
            return len(paused)

        resumed: int = await self._submit(op)
        return resumed

    async def due_schedules(self, now: float, limit: int) -> list[Schedule]:
        """Enabled schedules of every organization with ``next_fire_at <= now``, earliest
        first."""
        params = {"now": now, "limit": limit}
        return [_schedule(row) for row in await self._all("due_schedules", params)]

    async def fire_schedule(
        self,
        schedule_id: str,
        expected_next: float,
        ticks: Sequence[float],
        new_next: float,
        start: StartRun,
        now: float,
    ) -> list[tuple[float, str]]:
        """Fire ``ticks`` of a due schedule and move its ``next_fire_at`` to ``new_next``.

        Atomic, in one transaction: ``next_fire_at`` is compared and set from ``expected_next``
        (what the caller read) to ``new_next``; if another worker already moved it, or the
        schedule was paused or deleted, nothing happens and ``[]`` is returned. Otherwise each
        tick not fired before is recorded (the key ``(schedule_id, tick_at)`` is unique) and
        ``start(db, tick)`` is called for it, once: it creates the tick's run and returns its id,
        or ``None`` to start nothing (the tick is consumed all the same).

        ``start`` runs inside the write transaction: it must use only the connection it is
        given, must not commit or roll back, and should be quick (it holds the write lock). If it
        raises, this schedule's writes are rolled back and the error is raised here (an error
        other than a ``PlaitError`` as ``StoreError``); other writes of the batch commit.

        Returns:
            ``(tick, run_id)`` for each tick that started a run, oldest first.
        """
        cas = {"id": schedule_id, "expected_next": expected_next, "new_next": new_next}

        def fire(db: Session) -> list[tuple[float, str]]:
            if db.run("advance_schedule", cas).rowcount == 0:
                return []
            fired: list[tuple[float, str]] = []
            for tick in sorted(ticks):
                key = {"schedule_id": schedule_id, "tick_at": tick}
                if db.run("insert_tick", {**key, "now": now}).rowcount == 0:
                    continue
                run_id = start(db, tick)
                if run_id is not None:
                    db.run("set_tick_run", {**key, "run_id": run_id})
                    fired.append((tick, run_id))
            return fired

        def op(db: Session) -> list[tuple[float, str]]:
            return _atomically(db, fire, f"firing schedule {schedule_id!r}")

        result: list[tuple[float, str]] = await self._submit(op)
        return result


def _atomically(db: Session, work: Callable[[Session], T], what: str) -> T:
    """Run ``work`` in a savepoint: if it raises, its writes are undone and the rest of the
    group-commit batch is kept. A database error is re-raised as is, so that the store replays
    the batch one write at a time; any other ``Exception`` that is not a ``PlaitError`` becomes
    a ``StoreError``, which the batch reports to its caller alone."""
    db.execute("SAVEPOINT area_op")
    try:
        result = work(db)
    except BaseException as exc:  # LeaseLost too: the store commits the batch despite it
        if db.in_transaction:  # some database errors end the transaction themselves
            db.execute("ROLLBACK TO area_op")
            db.execute("RELEASE area_op")
        if isinstance(exc, Exception) and not isinstance(exc, (PlaitError, *db.driver_errors)):
            raise StoreError(f"{what} failed: {exc!r}") from exc
        raise
    db.execute("RELEASE area_op")
    return result


def _schedule(row: Sequence[Any]) -> Schedule:
    return Schedule(
        id=row[0], org=row[1], workflow_id=row[2], cron=row[3], timezone=row[4],
        catchup=row[5], max_catchup=row[6], input=orjson.loads(row[7]), enabled=bool(row[8]),
        next_fire_at=row[9], created_at=row[10],
    )  # fmt: skip
