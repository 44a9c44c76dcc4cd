"""plait throughput and latency benchmark, optionally side by side with DBOS Transact.

    python bench/throughput.py                 # plait only
    python bench/throughput.py --vs dbos       # plus DBOS on the same workload, with ratios
    python bench/throughput.py --db postgresql://postgres@127.0.0.1:5432/test --vs dbos
    python bench/throughput.py --observability  # metrics and tracing on vs off (A/B)

Workload: a workflow of 3 no-op async steps on a fresh SQLite file (WAL), or with ``--db`` on
PostgreSQL, each run in a fresh schema of that database (``CREATE SCHEMA bench_…``, passed as
``options=-c search_path=…``, dropped afterwards). (a) sequential start-to-result latency, p50
and p99; (b) throughput of 1,000 workflows started concurrently; plus, on SQLite only,
``import plait`` time and the memory of 10,000 sleeping runs. With ``--vs dbos`` on PostgreSQL,
DBOS runs on the same server in a database of its own (``CREATE DATABASE dbos_bench_…``, dropped
afterwards). Every figure is the median of ``--repeat`` runs. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plait import Context, Engine
from plait.testing import assert_eventually


async def noop(i: int) -> int:
    return i


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


@contextmanager
def fresh_schema(server_url: str, prefix: str = "bench") -> Iterator[str]:
    """A URL of ``server_url`` whose ``search_path`` is a new, empty schema, dropped on exit."""
    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    separator = "&" if "?" in server_url else "?"
    try:
        yield f"{server_url}{separator}options={quote(f'-c search_path={schema}')}"
    finally:
        drop(server_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def drop(server_url: str, statement: str) -> None:
    """Run a cleanup statement, retrying for a while if the (shared) server refuses us."""
    import psycopg

    for attempt in range(20):
        try:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(statement)  # type: ignore[arg-type]
            return
        except psycopg.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.5)


@contextmanager
def fresh_database(db: str | None) -> Iterator[str]:
    """A fresh plait database: a SQLite file in a temporary directory, or a PostgreSQL schema."""
    if is_postgres(db):
        with fresh_schema(str(db)) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
        yield f"sqlite:///{directory}/plait.db"


def server_settings(server_url: str) -> dict[str, str]:
    """The PostgreSQL settings that bear on commit cost, as the server reports them."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        found = {"server_version": str(version[0]) if version else "?"}
        for name in ("synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"):
            row = conn.execute(f"SHOW {name}").fetchone()  # type: ignore[arg-type]
            found[name] = str(row[0]) if row else "?"
    return found


def _engine(url: str, synchronous: str, **settings: Any) -> Engine:
    engine = Engine(url, sqlite_synchronous=synchronous, **settings)

    @engine.workflow("three-steps")
    async def three_steps(ctx: Context, i: int) -> int:
        a = await ctx.step("one", noop, i)
        b = await ctx.step("two", noop, a)
        return int(await ctx.step("three", noop, b))

    return engine


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def plait_once(
    sequential: int, concurrent: int, synchronous: str, db: str | None = None
) -> dict[str, float]:
    with fresh_database(db) as url:
        engine = _engine(url, synchronous)
        async with engine:
            for i in range(20):  # warm-up
                await (await engine.start("three-steps", i)).result()
            latencies = []
            for i in range(sequential):
                started = time.perf_counter()
                await (await engine.start("three-steps", i)).result()
                latencies.append(time.perf_counter() - started)
            store = await engine.deps.store()
            commits, writes = getattr(store, "commits", 0), getattr(store, "writes", 0)
            started = time.perf_counter()
            handles = await asyncio.gather(
                *[engine.start("three-steps", i) for i in range(concurrent)]
            )
            results = await asyncio.gather(*[h.result() for h in handles])
            elapsed = time.perf_counter() - started
            if results != list(range(concurrent)):
                raise AssertionError("plait returned wrong results")
            commits = getattr(store, "commits", 0) - commits
            writes = getattr(store, "writes", 0) - writes
    return {
        "seq_p50_ms": _percentile(latencies, 0.5) * 1000,
        "seq_p99_ms": _percentile(latencies, 0.99) * 1000,
        "concurrent_wf_per_s": concurrent / elapsed,
        # group commit in the concurrent phase: transactions, and write operations per commit
        "concurrent_commits": commits,
        "concurrent_writes_per_commit": writes / commits if commits else 0.0,
    }


def commit_probe(url: str, commits: int = 500, batch: int = 100) -> dict[str, float]:
    """The raw cost of a step write on PostgreSQL, without plait around it.

    One connection, a 32-byte upsert on a two-column primary key (the shape of a step record):
    (a) ``commits`` transactions of one upsert each, one after another (what a lone run pays per
    step), and the same with ``synchronous_commit=off`` (the share of the WAL flush); then
    transactions of ``batch`` upserts each (what group commit amortises), sent (b) pipelined
    with ``executemany``, (c) one statement at a time, (d) one at a time, each in a savepoint,
    as plait's writer does. ``url`` must point at a scratch schema.
    """
    import psycopg

    upsert = (
        "INSERT INTO probe (run_id, key, output) VALUES (%s, %s, %s) "
        "ON CONFLICT (run_id, key) DO UPDATE SET output = excluded.output"
    )
    payload = b"\x01" * 32
    rounds = commits // 5

    def singles(conn: psycopg.Connection[Any], prefix: str) -> list[float]:
        samples = []
        for i in range(commits):
            started = time.perf_counter()
            with conn.transaction():
                conn.execute(upsert, (f"{prefix}{i}", "one", payload))
            samples.append(time.perf_counter() - started)
        return samples

    def batches(conn: psycopg.Connection[Any], prefix: str, savepoint: bool) -> float:
        started = time.perf_counter()
        for t in range(rounds):
            with conn.transaction():
                for j in range(batch):
                    if savepoint:
                        conn.execute("SAVEPOINT op")
                    conn.execute(upsert, (f"{prefix}{t}-{j}", "one", payload))
                    if savepoint:
                        conn.execute("RELEASE SAVEPOINT op")
        return rounds * batch / (time.perf_counter() - started)

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE probe (run_id TEXT, key TEXT, output BYTEA, "
                      "PRIMARY KEY (run_id, key))")  # fmt: skip
        single = singles(conn, "r")
        started = time.perf_counter()
        for t in range(rounds):
            with conn.transaction():
                rows = [(f"b{t}-{j}", "one", payload) for j in range(batch)]
                conn.cursor().executemany(upsert, rows)
        pipelined = rounds * batch / (time.perf_counter() - started)
        plain = batches(conn, "p", savepoint=False)
        savepoints = batches(conn, "s", savepoint=True)
        conn.execute("SET synchronous_commit = off")
        unflushed = singles(conn, "a")
    return {
        "commit_p50_ms": _percentile(single, 0.5) * 1000,
        "commit_p99_ms": _percentile(single, 0.99) * 1000,
        "single_commits_per_s": len(single) / sum(single),
        "async_commit_p50_ms": _percentile(unflushed, 0.5) * 1000,
        "pipelined_rows_per_s": pipelined,
        "plain_rows_per_s": plain,
        "savepoint_rows_per_s": savepoints,
    }


def import_time_ms(repeat: int) -> dict[str, float]:
    """Wall time of a fresh ``python -c 'import plait'``, and of a bare interpreter."""

    def timed(code: str) -> float:
        samples = []
        for _ in range(max(5, repeat)):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    bare = timed("pass")
    first_run = timed(_FIRST_RUN)
    return {
        "import_ms": timed("import plait") - bare,
        "interpreter_ms": bare,
        "first_run_ms": first_run - bare,
    }


# A fresh process: import, create the database, run a one-step workflow to its result.
_FIRST_RUN = """
import asyncio, tempfile
from plait import Engine
async def main():
    with tempfile.TemporaryDirectory() as d:
        engine = Engine(f"sqlite:///{d}/first.db")
        async def one(i): return i
        @engine.workflow("first")
        async def first(ctx, i): return await ctx.step("one", one, i)
        async with engine:
            assert await (await engine.start(first, 1)).result() == 1
asyncio.run(main())
"""


async def sleeping_runs_memory(count: int) -> dict[str, float]:
    """RSS growth of a worker holding ``count`` runs that sleep for an hour."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
        engine = Engine(f"sqlite:///{directory}/plait.db")

        @engine.workflow("sleeper")
        async def sleeper(ctx: Context, i: int) -> int:
            await ctx.sleep(3600)
            return i

        async with engine:
            await (await engine.start(sleeper, -1)).info()
            gc.collect()
            before = _rss_mb()
            for batch in range(0, count, 1000):
                starts = [engine.start(sleeper, i) for i in range(batch, min(batch + 1000, count))]
                await asyncio.gather(*starts)

            async def all_suspended() -> bool:
                waiting = await (await engine.deps.store()).list_runs(None, "waiting", count + 10)
                return len(waiting) == count + 1 and not (engine.worker and engine.worker._active)

            await assert_eventually(all_suspended, timeout=300, interval=0.05)
            gc.collect()
            after = _rss_mb()
            tasks = sum(t.get_name().startswith("plait-run-") for t in asyncio.all_tasks())
    return {"sleeping_runs": count, "rss_growth_mb": after - before, "live_run_tasks": tasks}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db",
        metavar="URL",
        help="a postgresql:// URL: run on that server (a fresh schema per run) instead of SQLite",
    )
    parser.add_argument("--vs", choices=["dbos"], help="also run this peer on the same workload")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median reported)")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--sleeping", type=int, default=10_000)
    parser.add_argument(
        "--observability",
        action="store_true",
        help="instead: metrics and tracing on vs off, alternating (bench/observability.py)",
    )
    parser.add_argument(
        "--synchronous",
        default="NORMAL",
        choices=["NORMAL", "FULL"],
        help="SQLite synchronous mode for plait (the peer is run with the same mode if it can)",
    )
    args = parser.parse_args()
    if args.db and not is_postgres(args.db):
        parser.error("--db takes a postgresql:// URL (SQLite is the default)")
    postgres = is_postgres(args.db)
    if args.observability:
        from observability import compare, print_table

        ab = await compare(args.repeat, args.sequential, args.concurrent, args.db)
        print_table(ab)
        print(json.dumps(ab, default=str))
        return

    report: dict[str, Any] = {"synchronous": args.synchronous, "repeat": args.repeat}
    if postgres:
        report = {"backend": "postgresql", "repeat": args.repeat}
        report["server"] = server_settings(args.db)
    runs = [
        await plait_once(args.sequential, args.concurrent, args.synchronous, args.db)
        for _ in range(args.repeat)
    ]
    report["plait"] = _median(runs)
    if postgres:
        probes = []
        for _ in range(args.repeat):
            with fresh_schema(args.db, "probe") as url:
                probes.append(commit_probe(url))
        report["commit_probe"] = _median(probes)
    else:
        report["plait"].update(import_time_ms(args.repeat))
        report["plait"].update(await sleeping_runs_memory(args.sleeping))
    if args.vs == "dbos":
        from dbos_peer import run_dbos, run_dbos_postgres

        peer_runs = []
        for _ in range(args.repeat):
            if postgres:
                peer_runs.append(await run_dbos_postgres(args.db, args.sequential, args.concurrent))
                continue
            with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
                peer_runs.append(
                    await run_dbos(directory, args.sequential, args.concurrent, args.synchronous)
                )
        numeric = [{k: v for k, v in r.items() if isinstance(v, int | float)} for r in peer_runs]
        report["dbos"] = {**peer_runs[0], **_median(numeric)}
        report["ratios"] = {
            "concurrent_throughput_x": report["plait"]["concurrent_wf_per_s"]
            / report["dbos"]["concurrent_wf_per_s"],
            "seq_p50_speedup_x": report["dbos"]["seq_p50_ms"] / report["plait"]["seq_p50_ms"],
        }
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _print_table(report)
    print(json.dumps(report, default=str))


def _print_table(report: dict[str, Any]) -> None:
    rows = [
        ("sequential p50 (ms)", "seq_p50_ms", "{:.3f}"),
        ("sequential p99 (ms)", "seq_p99_ms", "{:.3f}"),
        ("1,000 concurrent (wf/s)", "concurrent_wf_per_s", "{:,.0f}"),
    ]
    peer = report.get("dbos")
    header = f"{'metric':<28}{'plait':>14}" + (f"{'dbos':>14}{'ratio':>10}" if peer else "")
    if "server" in report:
        server = report["server"]
        print(f"PostgreSQL {server['server_version']} (synchronous_commit="
              f"{server['synchronous_commit']}, fsync={server['fsync']}), "
              f"median of {report['repeat']} runs")  # fmt: skip
    else:
        print(f"SQLite synchronous={report['synchronous']}, median of {report['repeat']} runs")
    print(header)
    for label, key, fmt in rows:
        mine = report["plait"][key]
        line = f"{label:<28}{fmt.format(mine):>14}"
        if peer:
            theirs = peer[key]
            ratio = mine / theirs if key == "concurrent_wf_per_s" else theirs / mine
            line += f"{fmt.format(theirs):>14}{ratio:>9.1f}x"
        print(line)
    p = report["plait"]
    print(f"{'writes per commit (1,000)':<28}{p['concurrent_writes_per_commit']:>14.1f}")
    probe = report.get("commit_probe")
    if probe is not None:
        print("raw PostgreSQL, one upsert per transaction, one connection:")
        print(f"{'  commit p50 / p99 (ms)':<28}{probe['commit_p50_ms']:>8.3f} / "
              f"{probe['commit_p99_ms']:.3f}")  # fmt: skip
        print(f"{'  commits/s':<28}{probe['single_commits_per_s']:>14,.0f}")
        print(f"{'  commit p50, sync off (ms)':<28}{probe['async_commit_p50_ms']:>14.3f}")
        print("  rows/s, 100 upserts per commit:")
        print(f"{'    pipelined (executemany)':<28}{probe['pipelined_rows_per_s']:>14,.0f}")
        print(f"{'    one at a time':<28}{probe['plain_rows_per_s']:>14,.0f}")
        print(f"{'    one at a time, savepoints':<28}{probe['savepoint_rows_per_s']:>14,.0f}")
        return
    print(f"{'import plait (ms)':<28}{p['import_ms']:>14.1f}")
    print(f"{'first run, fresh process (ms)':<28}{p['first_run_ms']:>14.1f}")
    print(f"{'10,000 sleeping runs (MB)':<28}{p['rss_growth_mb']:>14.1f}  live run tasks: "
          f"{p['live_run_tasks']}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
