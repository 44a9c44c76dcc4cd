"""DBOS Transact peer for ``bench/throughput.py``: the same workload plait is measured on.

Workload: a workflow of three no-op ``async def`` steps (``step(i) -> i``; the workflow returns
their sum, ``3 * i``), run (a) sequentially -- start one workflow, await its result, N times
after 20 warm-up runs; p50/p99 latency in ms -- and (b) concurrently -- ``asyncio.gather`` over
``DBOS.start_workflow_async`` for 1,000 workflows, then await every result; workflows/second
from the first start to the last result. Every concurrent result is checked.

DBOS configuration, as read from its source (``dbos/_sys_db_sqlite.py``):

* SQLite system database in ``tmpdir``. DBOS sets ``busy_timeout``, ``foreign_keys`` and
  ``BEGIN IMMEDIATE`` per connection, but no ``journal_mode`` (so SQLite's rollback journal,
  ``delete``) and no ``synchronous`` (so SQLite's default, ``full`` = 2). WAL is persistent in
  the file, so we create the file in WAL mode before launch and read the mode back afterwards.
* ``synchronous`` is per connection; when the caller picks one, it is set on every connection
  DBOS opens through a ``sqlite3.Connection`` factory passed in DBOS's own ``db_engine_kwargs``
  (DBOS's other engine settings -- pool of 20, pre-ping, its connect hooks -- are kept).
* Async steps: DBOS runs an async workflow as an asyncio task and does each checkpoint write
  via ``asyncio.to_thread`` on its own executor (unbounded by default: ~1,000 threads in the
  concurrent phase; ``max_executor_threads`` caps it, and 1-8 threads run it faster). Sync steps
  in the async workflow were ~30% faster concurrently, but block the event loop on every
  write, so the benchmark keeps the async form.

On PostgreSQL (``run_dbos_postgres``), DBOS gets a database of its own on the same server: a
fresh ``dbos_bench_<hex>`` made with ``CREATE DATABASE`` before launch and dropped (``WITH
(FORCE)``) afterwards, in which DBOS creates its ``dbos`` schema. DBOS's defaults otherwise: a
SQLAlchemy pool of 20 connections with pre-ping, LISTEN/NOTIFY on, the server's
``synchronous_commit`` (read back and reported), the same async workflow and steps.

DBOS is a process-wide singleton: ``run_dbos`` registers its workflow, launches, measures and
destroys DBOS (registry included; teardown takes ~1 s), and gives the caller's loop a fresh
default executor (DBOS installs its own, which dies with it). Sequential calls in one process
work; concurrent calls do not.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from dbos import DBOS

Workflow = Callable[[int], Coroutine[Any, Any, int]]

WARMUP = 20
_SYNC_MODES = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}
_SYNC_NAMES = {v: k.lower() for k, v in _SYNC_MODES.items()}


def _connection_factory(synchronous: str) -> type[sqlite3.Connection]:
    """A ``sqlite3.Connection`` subclass that sets ``PRAGMA synchronous`` when it opens."""
    mode = synchronous.upper()
    if mode not in _SYNC_MODES:
        raise ValueError(f"synchronous must be one of {sorted(_SYNC_MODES)}, got {synchronous!r}")

    class _Conn(sqlite3.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.execute(f"PRAGMA synchronous={mode}")

    return _Conn


def _create_wal_db(tmpdir: str) -> str:
    """Create the system database file in WAL mode (persistent in the file) and return its path."""
    db_path = os.path.join(os.path.abspath(tmpdir), "dbos_sys.sqlite")
    conn = sqlite3.connect(db_path)
    try:
        mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
    finally:
        conn.close()
    if mode != "wal":
        raise RuntimeError(f"could not put {db_path} in WAL mode (got {mode!r})")
    return db_path


def _define_workflow(dbos_cls: type[DBOS], name: str | None = None) -> Workflow:
    """Register the benchmark workflow with DBOS's (fresh) global registry and return it.

    ``name`` is the workflow's registered name (DBOS's default: the function's qualified name);
    ``bench/scaleout_dbos_app.py`` names it so that another process can enqueue it by name.
    """

    @dbos_cls.step()
    async def noop_step(i: int) -> int:
        return i

    @dbos_cls.workflow(name=name)
    async def three_steps(i: int) -> int:
        a = await noop_step(i)
        b = await noop_step(i)
        c = await noop_step(i)
        return a + b + c

    return three_steps


def _check(results: list[int], start: int) -> None:
    """Workflow ``i`` must return ``3 * i``; ``results[k]`` is workflow ``start + k``."""
    wrong = [start + k for k, r in enumerate(results) if r != 3 * (start + k)]
    if wrong:
        raise AssertionError(f"{len(wrong)} DBOS workflows returned wrong values: {wrong[:5]}")


def _pragmas(engine: Any) -> tuple[str, str]:
    """``journal_mode`` and ``synchronous`` as seen by a connection from DBOS's own pool."""
    with engine.connect() as conn:
        journal = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())
        sync = int(conn.exec_driver_sql("PRAGMA synchronous").scalar())
    return journal.lower(), _SYNC_NAMES.get(sync, str(sync))


async def run_dbos(
    tmpdir: str,
    sequential: int = 200,
    concurrent: int = 1000,
    synchronous: str | None = None,
    max_executor_threads: int | None = None,
) -> dict[str, Any]:
    """Launch DBOS on SQLite (WAL) in ``tmpdir``, run the workload, shut DBOS down.

    Returns ``{"engine", "version", "seq_p50_ms", "seq_p99_ms", "concurrent_wf_per_s",
    "journal_mode", "synchronous", "max_executor_threads", "launch_s"}``. ``None`` for
    ``synchronous`` / ``max_executor_threads`` keeps DBOS's default (FULL / unbounded).
    """
    db_path = await asyncio.to_thread(_create_wal_db, tmpdir)
    config: dict[str, Any] = {
        "name": "plait-bench-dbos",
        "system_database_url": f"sqlite:///{db_path}",
        "log_level": "WARNING",
    }
    if synchronous is not None:
        config["db_engine_kwargs"] = {"connect_args": {"factory": _connection_factory(synchronous)}}
    result = await _measure(config, sequential, concurrent, max_executor_threads, _pragmas)
    journal_mode, sync_mode = result.pop("settings")
    return {**result, "journal_mode": journal_mode, "synchronous": sync_mode}


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A URL of a new, empty database on the server of ``server_url``, dropped on exit."""
    import psycopg

    name = f"dbos_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        for attempt in range(20):  # the server may be briefly full (it is shared)
            try:
                with psycopg.connect(server_url, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
                break
            except psycopg.OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.5)


def _pg_settings(engine: Any) -> tuple[str, str]:
    """``server_version`` and ``synchronous_commit`` as seen by a connection from DBOS's pool."""
    with engine.connect() as conn:
        version = str(conn.exec_driver_sql("SHOW server_version").scalar())
        sync = str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
    return version, sync


async def run_dbos_postgres(
    server_url: str,
    sequential: int = 200,
    concurrent: int = 1000,
    max_executor_threads: int | None = None,
) -> dict[str, Any]:
    """Launch DBOS on a fresh database of the PostgreSQL server ``server_url``, run the workload,
    shut DBOS down and drop the database.

    Returns the keys of :func:`run_dbos` with ``server_version`` and ``synchronous_commit`` in
    place of ``journal_mode`` and ``synchronous``.
    """
    with fresh_database(server_url) as url:
        config: dict[str, Any] = {
            "name": "plait-bench-dbos",
            "system_database_url": url,
            "log_level": "WARNING",
        }
        result = await _measure(config, sequential, concurrent, max_executor_threads, _pg_settings)
    server_version, sync_commit = result.pop("settings")
    return {**result, "server_version": server_version, "synchronous_commit": sync_commit}


async def _measure(
    config: dict[str, Any],
    sequential: int,
    concurrent: int,
    max_executor_threads: int | None,
    settings: Callable[[Any], tuple[str, str]],
) -> dict[str, Any]:
    """Launch DBOS with ``config``, run the workload, destroy DBOS (registry included)."""
    from dbos import DBOS  # imported here so importing this module does not need dbos

    if max_executor_threads is not None:
        config["max_executor_threads"] = max_executor_threads
    DBOS.destroy(destroy_registry=True)  # clear leftovers from an earlier call in this process
    workflow = _define_workflow(DBOS)
    loop = asyncio.get_running_loop()
    t_launch = time.perf_counter()
    dbos = DBOS(config=config)  # type: ignore[arg-type]
    try:
        await asyncio.to_thread(DBOS.launch)
        launch_s = time.perf_counter() - t_launch
        seen = await asyncio.to_thread(settings, dbos._sys_db.engine)

        async def once(i: int) -> int:
            handle = await DBOS.start_workflow_async(workflow, i)
            return int(await handle.get_result())

        for i in range(WARMUP):
            _check([await once(i)], start=i)
        latencies: list[float] = []
        for i in range(sequential):
            t0 = time.perf_counter()
            result = await once(i)
            latencies.append((time.perf_counter() - t0) * 1000.0)
            _check([result], start=i)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(once(i) for i in range(concurrent)))
        wall = time.perf_counter() - t0
        _check(results, start=0)
    finally:
        await asyncio.to_thread(DBOS.destroy, destroy_registry=True)
        # DBOS made its (now shut down) executor this loop's default; give the loop a live one.
        loop.set_default_executor(ThreadPoolExecutor())

    return {
        "engine": "dbos",
        "version": importlib.metadata.version("dbos"),
        "seq_p50_ms": round(statistics.median(latencies), 3),
        "seq_p99_ms": round(statistics.quantiles(latencies, n=100, method="inclusive")[98], 3),
        "concurrent_wf_per_s": round(concurrent / wall, 1),
        "settings": seen,
        "max_executor_threads": max_executor_threads,
        "launch_s": round(launch_s, 3),
    }


async def _main() -> None:
    parser = argparse.ArgumentParser(description="Run the plait benchmark workload on DBOS.")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--synchronous", choices=[m.lower() for m in _SYNC_MODES])
    parser.add_argument("--max-executor-threads", type=int)
    parser.add_argument("--db", metavar="URL", help="a postgresql:// server URL (default: SQLite)")
    args = parser.parse_args()
    if args.db:
        result = await run_dbos_postgres(
            args.db, args.sequential, args.concurrent, args.max_executor_threads
        )
        print(json.dumps(result, indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="dbos-bench-") as tmpdir:
        result = await run_dbos(
            tmpdir,
            sequential=args.sequential,
            concurrent=args.concurrent,
            synchronous=args.synchronous,
            max_executor_threads=args.max_executor_threads,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(_main())
