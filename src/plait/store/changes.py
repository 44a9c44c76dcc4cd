"""The change feed of live streams: every run status transition, step change and stored event,
numbered as written (migration 020's triggers write it in the transaction of the change, so no
verb here writes on the hot path), and read after a cursor.

On SQLite the numbers are in commit order. On PostgreSQL they are drawn before commit, so a
reader may see a number before a smaller one that is still in flight: ``changes_after`` returns
the horizon of its snapshot, with which the reader (:mod:`plait.service.feed`) holds such a gap
until every transaction that could fill it has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plait.store.backend import Backend
from plait.store.session import Session

PAGE = 500
"""Most changes one read returns."""


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change of the feed.

    ``kind`` ``run``: ``subject`` is the workflow, ``status`` the run's new status, ``detail``
    its outcome. ``step``: ``subject`` is the step key, ``status`` its status, ``detail`` its
    kind, ``attempts`` its attempts (``value``: the report of a ``progress`` record). ``event``:
    ``subject`` is the event id, ``detail`` its type, ``value`` its data, ``source`` who
    emitted it.
    """

    seq: int
    org: str | None
    run_id: str | None
    kind: str
    subject: str | None
    status: str | None
    detail: str | None
    attempts: int | None
    at: float | None
    value: bytes | str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Horizon:
    """A PostgreSQL snapshot's transaction bounds (``xmin``, ``xmax``); None on SQLite."""

    xmin: int
    xmax: int


def _record(row: Any) -> ChangeRecord:
    seq, org, run_id, kind, subject, status, detail, attempts, at, data, source, output = row[:12]
    value = data if kind == "event" else output
    if isinstance(value, memoryview):
        value = bytes(value)
    return ChangeRecord(int(seq), org, run_id, str(kind), subject, status, detail,
                        None if attempts is None else int(attempts),
                        None if at is None else float(at), value, source)  # fmt: skip


def _horizon(row: Any) -> Horizon | None:
    xmin, xmax = row[-2], row[-1]
    return None if xmin is None or xmax is None else Horizon(int(xmin), int(xmax))


class ChangeVerbs(Backend):
    """Reading (and pruning) the change feed."""

    async def changes_after(
        self, after: int, limit: int = PAGE
    ) -> tuple[list[ChangeRecord], Horizon | None]:
        """Every change numbered after ``after``, in order (at most ``limit``), and the horizon
        of the snapshot that read them (None on SQLite, or when there were none)."""

        def op(db: Session) -> tuple[list[ChangeRecord], Horizon | None]:
            rows = list(db.run("changes_after", {"after": after, "limit": limit}))
            return [_record(r) for r in rows], (_horizon(rows[0]) if rows else None)

        found: tuple[list[ChangeRecord], Horizon | None] = await self._read(op)
        return found

    async def changes_horizon(self) -> Horizon | None:
        """The bounds of a fresh snapshot (None on SQLite)."""
        row = await self._one("changes_horizon")
        return _horizon(row)

    async def changes_head(self) -> int:
        """The highest change number written so far (0 for none)."""
        row = await self._one("changes_head")
        return int(row[0] or 0)

    async def oldest_change(self) -> int | None:
        """The lowest change number still kept (None when the feed is empty)."""
        row = await self._one("oldest_change")
        return None if row[0] is None else int(row[0])

    async def run_last_change(self, run_id: str) -> int:
        """The number of run ``run_id``'s latest change (0 for none kept)."""
        row = await self._one("run_last_change", {"run_id": run_id})
        return int(row[0] or 0)

    async def run_ended_steps(self, run_id: str) -> list[str]:
        """The keys of run ``run_id``'s steps whose ending (completed, failed, skipped) the feed
        still keeps."""
        return [str(row[0]) for row in await self._all("run_ended_steps", {"run_id": run_id})]

    async def run_changes(
        self, run_id: str, after: int, upto: int, limit: int = PAGE
    ) -> list[ChangeRecord]:
        """The changes of run ``run_id`` numbered after ``after`` and up to ``upto``."""
        params = {"run_id": run_id, "after": after, "upto": upto, "limit": limit}
        return [_record(r) for r in await self._all("run_changes", params)]

    async def org_changes(
        self, org: str, after: int, upto: int, limit: int = PAGE
    ) -> list[ChangeRecord]:
        """The run transitions and events of ``org`` numbered after ``after`` and up to
        ``upto``, with each event's data."""
        params = {"org": org, "after": after, "upto": upto, "limit": limit}
        return [_record(r) for r in await self._all("org_changes", params)]

    async def changes_kept_from(self, cutoff: float) -> int:
        """The first change number to keep when pruning what is older than ``cutoff`` (Unix
        seconds): that of the oldest run transition or event at or after it (a prefix of the
        feed goes, so a resumed cursor never meets a hole), and never after the newest
        change, which is always kept (SQLite numbers a row one more than the largest kept)."""
        head = await self.changes_head()
        row = await self._one("changes_kept_from", {"cutoff": cutoff})
        if row is not None and row[0] is not None:
            return min(int(row[0]), head)
        return head

    async def prune_changes(self, before: int, limit: int) -> int:
        """Delete up to ``limit`` of the oldest changes numbered below ``before`` (one
        transaction); return how many."""
        params = {"before": before, "limit": limit}
        deleted: int = await self._submit(lambda db: int(db.run("prune_changes", params).rowcount))
        return deleted
