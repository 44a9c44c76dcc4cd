"""SQLite store: WAL, ``BEGIN IMMEDIATE``, busy timeout, and group commit on the event loop.

Every write verb queues an operation and awaits its future. The first queued operation schedules
a flush for the next turn of the event loop; the flush runs every operation queued by then in one
transaction, commits once, and only then resolves their futures. Runs that execute concurrently
therefore share commits (one WAL append, or one fsync under ``synchronous=FULL``), and a write is
acknowledged only when it is durable. Writes are applied in the order they were queued.

Operations raise domain errors (``LeaseLost``) without touching the database, so one run's lost
lease does not abort the batch; a database error rolls the batch back and replays each operation
in a transaction of its own, so one bad write fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from plait.errors import LeaseLost, PlaitError, StoreError
from plait.store.backend import Op
from plait.store.base import Store
from plait.store.counters import Counters
from plait.store.records import EventRouter
from plait.store.session import Conflict
from plait.store.sql import check_known, load_dialect, load_migrations
from plait.text import check_params

log = logging.getLogger(__name__)

Q = load_dialect("plait.store.sqlite")


class SQLiteSession:
    """Named queries on one SQLite connection."""

    dialect = "sqlite"
    driver_errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, conn: sqlite3.Connection, router: EventRouter | None) -> None:
        self.conn = conn
        self.router = router
        self.counters = Counters()
        self.runnable = False

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> sqlite3.Cursor:
        if params:
            check_params(params)
        try:
            return self.conn.execute(Q[name], params or {})
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise Conflict(str(exc)) from exc
            raise

    def execute(self, sql: str) -> sqlite3.Cursor:
        return self.conn.execute(sql)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction


class SQLiteStore(Store):
    """The embedded backend. One connection, used only from the event loop's thread."""

    def __init__(
        self,
        path: str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        *,
        router: EventRouter | None = None,
        on_runnable: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(router=router, on_runnable=on_runnable)
        self.path = path
        self._synchronous = synchronous.upper()
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._session: SQLiteSession | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flush_handle: asyncio.Handle | None = None
        self.commits = 0  # transactions committed by group commit (for metrics and tests)
        self.writes = 0  # write operations they carried

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            _migrate(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
            raise
        self._conn = conn
        self._session = SQLiteSession(conn, self._router)

    async def close(self) -> None:
        if self._conn is None:
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        self._conn.close()
        self._conn = None
        self._session = None

    async def schema_version(self) -> int:
        return _current_version(self._db)

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    @property
    def _live(self) -> SQLiteSession:
        if self._session is None:
            raise StoreError("the store is not open")
        return self._session

    async def _read(self, op: Op) -> Any:
        # Reads run on the loop's thread: WAL readers never wait for the writer.
        return op(self._live)

    # -- group commit -----------------------------------------------------------------------

    def _submit(self, op: Op) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((op, future))
        if self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            outcomes = self._transaction([op for op, _ in batch])
        except sqlite3.Error as exc:
            log.warning(
                "group commit of %d writes failed (%s); retrying one by one", len(batch), exc
            )
            outcomes = [self._isolated(op) for op, _ in batch]
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        session = self._live
        if session.runnable:
            session.runnable = False
            self._wake_workers()
        if self._announced:
            self._tell_router()

    def _transaction(self, ops: list[Op]) -> list[tuple[bool, Any]]:
        db = self._db
        session = self._live
        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        session.counters.clear()
        outcomes: list[tuple[bool, Any]] = []
        try:
            for op in ops:
                # A savepoint per operation: one that raises leaves none of its writes (nor
                # counter deltas) behind, and the others in the batch still commit.
                db.execute("SAVEPOINT op")
                mark = session.counters.mark()
                try:
                    outcomes.append((True, op(session)))
                except sqlite3.Error:
                    raise  # the batch is retried one operation at a time
                except (Exception, LeaseLost) as exc:
                    db.execute("ROLLBACK TO op")
                    session.counters.undo(mark)
                    outcomes.append((False, _failure(exc)))
                db.execute("RELEASE op")
            session.counters.apply(session)  # once per workflow (counters.py)
            db.execute("COMMIT")
            self._announced.extend(session.counters.take_announced())
            self.commits += 1
            self.writes += len(ops)
            if self.on_commit is not None:
                self.on_commit(time.perf_counter() - began, len(ops))
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return outcomes

    def _isolated(self, op: Op) -> tuple[bool, Any]:
        try:
            return self._transaction([op])[0]
        except sqlite3.Error as exc:
            return False, StoreError(f"database write failed: {exc}")


def _failure(exc: BaseException) -> BaseException:
    """What the caller of a failed operation gets: a domain error as is, else a StoreError (a
    fault of that operation alone: the rest of its batch commits, and its caller is answered)."""
    if isinstance(exc, PlaitError | LeaseLost):
        return exc
    return StoreError(f"database write failed: {exc!r}")


# -- migrations ---------------------------------------------------------------------------------

MIGRATIONS = load_migrations("plait.store.sqlite.migrations")


def _current_version(db: sqlite3.Connection) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()
    ):
        raise StoreError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
    return statements


def _migrate(db: sqlite3.Connection) -> None:
    """Apply missing migrations, each in its own ``BEGIN IMMEDIATE`` transaction.

    The version is re-read inside the write lock, so processes that start together migrate once.
    A database migrated by a newer plait is refused (``ConfigurationError``).
    """
    check_known(_current_version(db), len(MIGRATIONS))
    for number, name, script in MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")
        try:
            if _current_version(db) < number:
                for statement in _statements(script):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
                log.info("applied migration %03d_%s", number, name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
