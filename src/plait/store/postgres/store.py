"""PostgreSQL store: the same verbs as SQLite (``plait.store.areas``), on PostgreSQL.

Writes are group-committed by one writer thread with its own connection: operations queued
while a batch commits form the next batch, each operation runs inside a SAVEPOINT (a failing
statement aborts a PostgreSQL transaction; the savepoint keeps the rest of the batch), and futures
resolve only after COMMIT. Reads run on a small pool of reader threads. When a batch makes runs
runnable it sends ``pg_notify('plait_runnable')`` in the same transaction, and every process's
listener wakes its worker at once; polling remains as a safety net. Migrations run under an
advisory lock, so processes that start together migrate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from plait.errors import DatabaseUnavailable, LeaseLost, PlaitError, StoreError
from plait.store.areas.backend import StoreBackend
from plait.store.areas.base import Op
from plait.store.session import Conflict
from plait.store.sql import load_dialect, load_migrations

log = logging.getLogger(__name__)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
Q = {name: _PARAM.sub(r"%(\1)s", sql) for name, sql in load_dialect("plait.store.postgres").items()}
MIGRATIONS = load_migrations("plait.store.postgres.migrations")
CHANNEL = "plait_runnable"
_MIGRATION_LOCK = 7_270_114_159  # advisory lock key: "plait migrations"


class PostgresSession:
    """Named queries on one psycopg connection."""

    dialect = "postgres"
    driver_errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> psycopg.Cursor[Any]:
        try:
            return self.conn.execute(Q[name], dict(params or {}))
        except pg_errors.UniqueViolation as exc:
            raise Conflict(str(exc).splitlines()[0]) from exc

    def execute(self, sql: str) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql)

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


class PostgresStore(StoreBackend):
    """The scale-out backend: any number of worker and API processes share one database."""

    def __init__(self, url: str, *, readers: int = 4) -> None:
        self.url = url
        self._readers = readers
        self._writer: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._write_conn: psycopg.Connection[Any] | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flushing = False
        self._drained: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._connections: list[psycopg.Connection[Any]] = []
        self.commits = 0
        self.writes = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="plait-pg-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="plait-pg-read")
        try:
            await self._loop.run_in_executor(self._writer, self._migrate)
        except psycopg.OperationalError as exc:
            await self.close()
            raise DatabaseUnavailable(f"cannot reach the PostgreSQL database: {exc}") from exc
        except psycopg.Error as exc:
            await self.close()
            raise StoreError(f"cannot open PostgreSQL database: {exc}") from exc
        self._listener = asyncio.create_task(self._listen(), name="plait-pg-listen")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pending or self._flushing:  # let queued writes commit before closing
            self._drained = asyncio.Event()
            await self._drained.wait()
        for pool in (self._writer, self._reader_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._reader_pool = None
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._write_conn = None

    async def schema_version(self) -> int:
        row = await self._read(lambda db: db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone())  # fmt: skip
        return int(row[0])

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.url, autocommit=autocommit)
        self._connections.append(conn)
        return conn

    # -- group commit (writer thread) -----------------------------------------------------------

    def _submit(self, op: Op) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((op, future))
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._start_flush)
        return future

    def _start_flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch or self._writer is None:
            self._flushing = False
            return
        done = asyncio.get_running_loop().run_in_executor(self._writer, self._write, batch)
        done.add_done_callback(lambda f: self._finish_flush(batch, f))

    def _finish_flush(self, batch: list[tuple[Op, asyncio.Future[Any]]], done: Any) -> None:
        error = done.exception()
        outcomes = done.result() if error is None else [(False, _store_error(error))] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(value) if ok else future.set_exception(value)
        self._notify_runnable()
        self._flushing = False
        if self._pending:
            self._flushing = True
            self._start_flush()
        elif self._drained is not None:
            self._drained.set()

    def _write(self, batch: list[tuple[Op, Any]]) -> list[tuple[bool, Any]]:
        """One transaction for the whole batch (runs in the writer thread)."""
        for attempt in range(5):
            try:
                return self._transaction(batch)
            except psycopg.OperationalError as exc:
                log.warning("PostgreSQL write failed (%s); reconnecting", exc)
                self._drop_writer()
                time.sleep(min(0.05 * 2**attempt, 1.0))
        return self._transaction(batch)

    def _transaction(self, batch: list[tuple[Op, Any]]) -> list[tuple[bool, Any]]:
        conn = self._writer_conn()
        session = PostgresSession(conn)
        outcomes: list[tuple[bool, Any]] = []
        with conn.transaction():
            for op, _ in batch:
                conn.execute("SAVEPOINT op")
                try:
                    outcomes.append((True, op(session)))
                    conn.execute("RELEASE SAVEPOINT op")
                except (PlaitError, LeaseLost) as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT op")
                    outcomes.append((False, exc))
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT op")
                    outcomes.append((False, StoreError(f"database write failed: {exc}")))
            if self._runnable:  # tell every process's worker, at commit
                session.run("notify_runnable", {"payload": ""})
        self.commits += 1
        self.writes += len(batch)
        return outcomes

    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._write_conn is None or self._write_conn.closed:
            self._write_conn = self._connect(autocommit=True)
        return self._write_conn

    def _drop_writer(self) -> None:
        if self._write_conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._write_conn.close()
            self._write_conn = None

    # -- reads (reader threads) -----------------------------------------------------------------

    async def _read(self, op: Op) -> Any:
        if self._reader_pool is None:
            raise StoreError("the store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._read_here, op)

    def _read_here(self, op: Op) -> Any:
        for attempt in range(5):
            conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
            try:
                if conn is None or conn.closed:
                    conn = self._local.conn = self._connect(autocommit=True)
                return op(PostgresSession(conn))
            except psycopg.OperationalError as exc:
                log.warning("PostgreSQL read failed (%s); reconnecting", exc)
                self._local.conn = None
                time.sleep(min(0.05 * 2**attempt, 1.0))
        raise DatabaseUnavailable("the PostgreSQL database is unreachable")

    # -- notifications ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Wake this process's worker when another process made runs runnable."""
        delay = 0.1
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    async for _ in conn.notifies():
                        if self.on_runnable is not None:
                            self.on_runnable()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("PostgreSQL listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- migrations -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._writer_conn()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            for number, name, script in MIGRATIONS:
                if number > current:
                    conn.execute(script)
                    conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
                    log.info("applied migration %03d_%s", number, name)


def _store_error(error: BaseException) -> BaseException:
    if isinstance(error, PlaitError | LeaseLost):
        return error
    if isinstance(error, psycopg.OperationalError):
        return DatabaseUnavailable(f"the PostgreSQL database is unreachable: {error}")
    return StoreError(f"database write failed: {error}")
