"""PostgreSQL store: the verbs of ``plait.store.base.Store``, on PostgreSQL.

Connections (per process): one writer, a pool of readers, one listener.

- **Writes** are group-committed by one writer thread on a dedicated connection: operations
  queued while a batch commits form the next batch, and futures resolve only after COMMIT. A
  batch first runs optimistically, without savepoints; if any operation raises, the transaction
  is rolled back and the batch replayed with a SAVEPOINT per operation, so that the failing one
  fails alone (as SQLite does). When a batch makes runs runnable it sends
  ``pg_notify('plait_runnable')`` in the same transaction, and every process's listener wakes its
  worker at once; polling remains as a safety net.
- **Reads** run on ``readers`` threads that borrow connections from a ``psycopg_pool``
  ``ConnectionPool`` of at most ``readers`` connections. The pool drops a connection that comes
  back broken, opens new ones in the background (reconnecting with backoff), and bounds the wait
  for one. A read that meets a broken connection retries at once on another, instead of the pool
  checking every connection before lending it (a round trip per read, and psycopg_pool backs off
  a second after each failed check). While the database is unreachable, reads and writes fail
  at once with ``DatabaseUnavailable`` (the API answers 503) instead of each waiting out a
  timeout, and the pool keeps trying to reconnect.
- The pool is synchronous, not an ``AsyncConnectionPool``: store operations are synchronous
  functions of a :class:`~plait.store.session.Session`, written once and shared with SQLite
  (which runs them on the event loop's thread). An async pool would need every operation
  written twice, or a sync connection per thread anyway; threads with a sync pool keep one copy.
  The listener, which only awaits notifications, is an ``AsyncConnection``.

Migrations run under an advisory lock, so processes that start together migrate once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from plait.errors import DatabaseUnavailable, LeaseLost, PlaitError, StoreError
from plait.store.backend import Op
from plait.store.base import Store
from plait.store.counters import Counters
from plait.store.records import EventRouter
from plait.store.session import Conflict
from plait.store.sql import check_known, load_dialect, load_migrations
from plait.text import check_params

log = logging.getLogger(__name__)

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
Q = {name: _PARAM.sub(r"%(\1)s", sql) for name, sql in load_dialect("plait.store.postgres").items()}
MIGRATIONS = load_migrations("plait.store.postgres.migrations")
CHANNEL = "plait_runnable"
_MIGRATION_LOCK = 7_270_114_159  # advisory lock key: "plait migrations"

CONNECT_TIMEOUT = 5
"""Seconds a new connection may take (libpq ``connect_timeout``): a black-holed host fails."""
ACQUIRE_TIMEOUT = 5.0
"""Seconds a read waits for a pooled connection while the database is reachable..."""
RETRY_TIMEOUT = 1.0
"""... once it met a broken one (a new connection is made in milliseconds when all is well)..."""
OUTAGE_TIMEOUT = 0.1
"""... and while it is not: requests then fail fast with ``DatabaseUnavailable``."""
RECONNECT_TIMEOUT = 10.0
"""The pool retries a lost connection with backoff for this long, then starts afresh on the next
read: a recovered database is noticed within seconds, whatever the length of the outage."""
WRITE_ATTEMPTS = 5
"""Attempts of a batch whose connection broke (with backoff), while the database is reachable."""


class PostgresSession:
    """Named queries on one psycopg connection."""

    dialect = "postgres"
    driver_errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, conn: psycopg.Connection[Any], router: EventRouter | None = None) -> None:
        self.conn = conn
        self.router = router
        self.counters = Counters()
        self.runnable = False

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> psycopg.Cursor[Any]:
        if params:
            check_params(params)
        try:
            return self.conn.execute(Q[name], dict(params or {}))
        except pg_errors.UniqueViolation as exc:
            raise Conflict(str(exc).splitlines()[0]) from exc

    def execute(self, sql: str) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql)

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


class PostgresStore(Store):
    """The scale-out backend: any number of worker and API processes share one database."""

    def __init__(
        self,
        url: str,
        *,
        readers: int = 4,
        router: EventRouter | None = None,
        on_runnable: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(router=router, on_runnable=on_runnable)
        self.url = url
        self._readers = readers
        self._writer: ThreadPoolExecutor | None = None
        self._reader_threads: ThreadPoolExecutor | None = None
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._write_conn: psycopg.Connection[Any] | None = None
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flushing = False
        self._drained: asyncio.Event | None = None
        self._listener: asyncio.Task[None] | None = None
        self._down = False  # the last attempt to reach the database failed
        self._runnable = False  # the last batch committed made runs runnable
        self.commits = 0
        self.writes = 0
        self.replays = 0  # batches replayed with a savepoint per operation

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        loop = asyncio.get_running_loop()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="plait-pg-writer")
        try:
            await loop.run_in_executor(self._writer, self._migrate)
        except psycopg.OperationalError as exc:
            await self.close()
            raise DatabaseUnavailable(f"cannot reach the PostgreSQL database: {exc}") from exc
        except psycopg.Error as exc:
            await self.close()
            raise StoreError(f"cannot open PostgreSQL database: {exc}") from exc
        except BaseException:
            await self.close()  # a schema newer than this plait knows (ConfigurationError)
            raise
        self._reader_threads = ThreadPoolExecutor(self._readers, thread_name_prefix="plait-pg-read")
        self._pool = ConnectionPool(
            self.url, min_size=1, max_size=self._readers, open=False, name="plait-readers",
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            timeout=ACQUIRE_TIMEOUT, reconnect_timeout=RECONNECT_TIMEOUT,
        )  # fmt: skip
        self._pool.open(wait=False)
        self._listener = asyncio.create_task(self._listen(), name="plait-pg-listen")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pending or self._flushing:  # let queued writes commit before closing
            self._drained = asyncio.Event()
            await self._drained.wait()
        for threads in (self._writer, self._reader_threads):
            if threads is not None:
                threads.shutdown(wait=True)
        self._writer = self._reader_threads = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._drop_writer()

    async def schema_version(self) -> int:
        row = await self._read(lambda db: db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone())  # fmt: skip
        return int(row[0])

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
            for _, future in batch:  # the store closed under them
                if not future.done():
                    future.set_exception(StoreError("the store is not open"))
            return
        done = asyncio.get_running_loop().run_in_executor(self._writer, self._write, batch)
        done.add_done_callback(lambda f: self._finish_flush(batch, f))

    def _finish_flush(self, batch: list[tuple[Op, asyncio.Future[Any]]], done: Any) -> None:
        error = done.exception()
        outcomes = done.result() if error is None else [(False, _store_error(error))] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(value) if ok else future.set_exception(value)
        if self._runnable:
            self._runnable = False
            self._wake_workers()
        if self._announced:
            self._tell_router()
        self._flushing = False
        if self._pending:
            self._flushing = True
            self._start_flush()
        elif self._drained is not None:
            self._drained.set()

    def _write(self, batch: list[tuple[Op, Any]]) -> list[tuple[bool, Any]]:
        """One transaction for the whole batch (runs in the writer thread)."""
        attempt = 1
        while True:
            try:
                outcomes = self._commit(batch)
            except pg_errors.TransactionRollback as exc:  # a deadlock: the connection is fine
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.info("PostgreSQL write rolled back (%s); retrying", _brief(exc))
                attempt += 1
                continue
            except psycopg.OperationalError as exc:
                self._drop_writer()
                # In an outage fail fast, but reconnect twice first: a read may have found the
                # database down, and the writer's connection be stale since it came back (the
                # second try covers a connection refused at the very moment of recovery).
                if (self._down and attempt > 2) or attempt == WRITE_ATTEMPTS:
                    self._down = True
                    raise
                log.warning("PostgreSQL write failed (%s); reconnecting", _brief(exc))
                time.sleep(min(0.05 * 2 ** (attempt - 1), 1.0))
                attempt += 1
                continue
            self._down = False
            return outcomes

    def _commit(self, batch: list[tuple[Op, Any]]) -> list[tuple[bool, Any]]:
        """Commit the batch in one go; if an operation fails, replay it with savepoints."""
        conn = self._writer_conn()
        ops = [op for op, _ in batch]
        began = time.perf_counter()
        try:
            outcomes = self._transaction(conn, ops)
        except _OpFailed as failed:
            self.replays += 1
            outcomes = self._transaction(conn, ops, failed=failed)
        self.commits += 1
        self.writes += len(batch)
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - began, len(batch))
        return outcomes

    def _transaction(
        self, conn: psycopg.Connection[Any], ops: list[Op], *, failed: _OpFailed | None = None
    ) -> list[tuple[bool, Any]]:
        """Run ``ops`` in one transaction. First without savepoints: an operation that fails
        rolls it all back (``_OpFailed``). Then, after such a failure, with a savepoint per
        operation; the one that failed is not run again (its outcome is known), so that an
        operation with side effects (a callback) is not run twice to fail once."""
        session = PostgresSession(conn, self._router)  # fresh counters and wake-up: those
        outcomes: list[tuple[bool, Any]] = []  # of a rolled-back attempt do not count
        with conn.transaction():
            for index, op in enumerate(ops):
                if failed is None:
                    outcomes.append((True, _optimistic(op, session, index)))
                elif index == failed.index:
                    outcomes.append((False, failed.error))
                else:
                    outcomes.append(self._isolated(conn, op, session))
            session.counters.apply(session)
            if session.runnable:  # tell every process's worker, at commit
                session.run("notify_runnable", {"payload": ""})
        self._runnable = session.runnable
        self._announced = session.counters.take_announced()
        return outcomes

    def _isolated(
        self, conn: psycopg.Connection[Any], op: Op, session: PostgresSession
    ) -> tuple[bool, Any]:
        """Run ``op`` in a savepoint: if it fails, its writes (and counter deltas) are undone
        and the batch goes on."""
        conn.execute("SAVEPOINT op")
        mark = session.counters.mark()
        try:
            outcome: tuple[bool, Any] = (True, op(session))
        except psycopg.OperationalError:
            raise
        except (Exception, LeaseLost) as exc:
            outcome = (False, _failure(exc))
            session.counters.undo(mark)
        conn.execute("RELEASE SAVEPOINT op" if outcome[0] else "ROLLBACK TO SAVEPOINT op")
        return outcome

    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._write_conn is None or self._write_conn.closed:
            self._write_conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
        return self._write_conn

    def _drop_writer(self) -> None:
        if self._write_conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._write_conn.close()
            self._write_conn = None

    # -- reads (reader threads, pooled connections) ---------------------------------------------

    async def _read(self, op: Op) -> Any:
        if self._reader_threads is None:
            raise StoreError("the store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads, self._read_here, op)

    def _read_here(self, op: Op) -> Any:
        pool = self._pool
        if pool is None:
            raise StoreError("the store is not open")
        # A read that meets a broken connection (the pool drops it when it comes back) tries
        # again at once on another, waiting less: every pooled one may have been cut together.
        for attempt in range(self._readers + 1):
            timeout = self._acquire_timeout(attempt)
            try:
                with pool.connection(timeout=timeout) as conn:
                    result = op(PostgresSession(conn))
            except PoolTimeout as exc:
                self._down = True
                raise DatabaseUnavailable(
                    f"the PostgreSQL database is unreachable (no connection within {timeout} s)"
                ) from exc
            except psycopg.OperationalError as exc:
                log.warning("PostgreSQL read failed (%s); reconnecting", _brief(exc))
                continue
            self._down = False
            return result
        raise DatabaseUnavailable("the PostgreSQL database is unreachable")

    def _acquire_timeout(self, attempt: int) -> float:
        if self._down:
            return OUTAGE_TIMEOUT
        return RETRY_TIMEOUT if attempt else ACQUIRE_TIMEOUT

    # -- notifications ----------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Wake this process's worker when another process made runs runnable."""
        delay = 0.1
        while True:
            try:
                # Keepalives: a half-open connection (a host gone without a word) would
                # otherwise wait for notifications forever, leaving only the poll.
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, keepalives=1,
                    keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
                )  # fmt: skip
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    self._wake_workers()  # runs may have become runnable unheard
                    async for _ in conn.notifies():
                        self._wake_workers()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("PostgreSQL listener lost its connection (%s); retrying", _brief(exc))
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
            check_known(current, len(MIGRATIONS))
            for number, name, script in MIGRATIONS:
                if number > current:
                    conn.execute(script)
                    conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
                    log.info("applied migration %03d_%s", number, name)


class _OpFailed(Exception):
    """Operation ``index`` of a batch failed with ``error`` (what its caller gets)."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def _optimistic(op: Op, session: PostgresSession, index: int) -> Any:
    try:
        return op(session)
    except psycopg.OperationalError:
        raise  # the connection, or a deadlock: the whole batch is retried
    except (Exception, LeaseLost) as exc:
        raise _OpFailed(index, _failure(exc)) from exc


def _failure(exc: BaseException) -> BaseException:
    """What the caller of a failed operation gets: a domain error as is, else a StoreError."""
    if isinstance(exc, PlaitError | LeaseLost):
        return exc
    if isinstance(exc, psycopg.Error):
        return StoreError(f"database write failed: {exc}")
    return StoreError(f"database write failed: {exc!r}")  # a fault of this operation alone


def _brief(exc: BaseException) -> str:
    """The first line of a driver error (libpq's messages go on over several)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _store_error(error: BaseException) -> BaseException:
    """What every caller in a batch gets when the whole batch failed."""
    if isinstance(error, psycopg.OperationalError) and not isinstance(
        error, pg_errors.TransactionRollback
    ):
        return DatabaseUnavailable(f"the PostgreSQL database is unreachable: {error}")
    return _failure(error)
