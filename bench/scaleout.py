"""Scale-out on PostgreSQL: workflows/s with 1, 2, 4 ``plait worker`` processes, and the
cross-process emit-to-resume latency.

    python bench/scaleout.py --db postgresql://postgres@127.0.0.1:5432/test \\
        [--workers 1 2 4] [--runs 2000] [--waits 100] [--repeat 3]

For each worker count K, ``--repeat`` times, in a fresh schema (dropped afterwards), with the
app ``bench/scaleout_app.py`` (a 3-step no-op workflow, and one that waits for an event):

1. Cold: the benchmark process (an engine with no worker) enqueues ``--runs`` runs; they are
   committed ``pending`` rows. It then starts K ``plait worker scaleout_app:engine`` processes
   (``bench/`` on ``PYTHONPATH``) and polls the runs table every 20 ms until all succeeded.
   The wall time from the spawn includes K interpreters starting and importing plait on the
   same cores, and their start-up skew (the first worker drains alone for a while).
2. Warm, the headline figure: with the K workers running and idle, the benchmark process
   commits another ``--runs`` runs in one transaction (one group commit, one NOTIFY), and
   times from that commit until all succeeded. The CPU time each side spent meanwhile is read
   from ``/proc``: the workers, their PostgreSQL backends (tagged by ``application_name``; the
   WAL writer and checkpointer are not counted), the benchmark process, and the whole
   machine's busy share (other tenants included: the share of a 1 s idle window before the
   round is reported too). Every 5 ms it also samples ``pg_stat_activity`` for those backends:
   on average how many were in a transaction waiting for their client's next statement, waiting
   for a lock, or working.
3. With the K workers running, ``--waits`` times (after 5 warm-ups): start a run that waits on
   ``ctx.wait_for("Pong.sent")``, poll until it is ``waiting`` (suspended: a row, no coroutine
   in any worker), emit the event from the benchmark process, and time until the run's status
   is ``succeeded`` (polled every 0.2 ms on a connection of its own). The emit commits in the
   benchmark process; the workers learn of it through LISTEN/NOTIFY, one claims the run,
   replays it and finishes it. p50 and p99.

Each figure is the median over ``--repeat``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import Popen
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scaleout_app
from throughput import _percentile, fresh_schema, is_postgres, server_settings

from plait import Engine

BENCH = Path(__file__).resolve().parent
POLL = 0.02
WARMUP_WAITS = 5


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn_workers(url: str, count: int, logs: str) -> list[Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))
    workers = []
    for n in range(count):
        log = open(os.path.join(logs, f"worker-{n}.log"), "wb")  # noqa: SIM115 - closed with it
        workers.append(
            Popen(
                [sys.executable, "-m", "plait", "worker", "scaleout_app:engine", "--db", url],
                cwd=logs,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()  # the child holds its own descriptor
    return workers


def _stop_workers(workers: list[Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _check_alive(workers: list[Popen[bytes]], logs: str) -> None:
    for n, worker in enumerate(workers):
        if worker.poll() is not None:
            tail = Path(logs, f"worker-{n}.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"worker {n} exited with {worker.returncode}:\n{tail}")


async def _scalar(conn: psycopg.AsyncConnection[Any], sql: str, *params: Any) -> Any:
    cursor = await conn.execute(sql, params)  # type: ignore[arg-type]
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def _succeeded(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
        "count(*) FILTER (WHERE status IN ('failed', 'cancelled')) "
        "FROM runs WHERE workflow LIKE 'noop3%'"
    )
    row = await cursor.fetchone()
    succeeded, bad = (int(row[0]), int(row[1])) if row else (0, 0)
    if bad:
        raise RuntimeError(f"{bad} runs failed or were cancelled")
    return succeeded


async def _until_succeeded(
    conn: psycopg.AsyncConnection[Any],
    total: int,
    workers: list[Popen[bytes]],
    logs: str,
) -> float:
    """Poll every ``POLL`` s until ``total`` noop3* runs succeeded; the time it was seen."""
    deadline = time.perf_counter() + 600
    while (succeeded := await _succeeded(conn)) < total:
        _check_alive(workers, logs)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {succeeded} of {total} runs succeeded in 10 minutes")
        await asyncio.sleep(POLL)
    return time.perf_counter()


async def _backend_pids(conn: psycopg.AsyncConnection[Any], tag: str) -> list[int]:
    cursor = await conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (tag,)
    )
    return [int(row[0]) for row in await cursor.fetchall()]


class _Sessions:
    """Samples, every 5 ms, what the workload's PostgreSQL backends are doing (by wait event)."""

    def __init__(self, url: str, tag: str) -> None:
        self.url, self.tag = url, tag
        self.samples = 0
        self.client = 0  # in a transaction, waiting for the client's next statement
        self.locks = 0  # waiting for a lock (a row another transaction holds)
        self.working = 0  # on CPU or in I/O
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> dict[str, float]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        n = max(self.samples, 1)
        return {
            "pg_backends_waiting_for_client": self.client / n,
            "pg_backends_waiting_for_locks": self.locks / n,
            "pg_backends_working": self.working / n,
        }

    async def _sample(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            while True:
                cursor = await conn.execute(
                    "SELECT wait_event_type, state FROM pg_stat_activity "
                    "WHERE application_name = %s AND state <> 'idle'",
                    (self.tag,),
                )
                for kind, state in await cursor.fetchall():
                    if kind == "Client" and state.startswith("idle in transaction"):
                        self.client += 1
                    elif kind in ("Lock", "LWLock"):
                        self.locks += 1
                    elif kind != "Client":
                        self.working += 1
                self.samples += 1
                await asyncio.sleep(0.005)


async def _enqueue(engine: Engine, first: int, count: int, workflows: int) -> None:
    """``count`` runs over ``workflows`` workflows, queued in one loop turn: one group commit,
    one NOTIFY."""
    names = scaleout_app.WORKFLOWS[:workflows]
    starts = [engine.start(names[i % workflows], i) for i in range(first, first + count)]
    await asyncio.gather(*starts)


async def _wal_lsn(conn: psycopg.AsyncConnection[Any]) -> str:
    return str(await _scalar(conn, "SELECT pg_current_wal_lsn()"))


async def _rounds(
    engine: Engine, url: str, tag: str, workers_wanted: int, runs: int, workflows: int, logs: str
) -> tuple[dict[str, float], list[Popen[bytes]]]:
    """The cold drain (workers spawned over a backlog), then the warm one (a backlog committed
    at once under running workers), with the CPU each side spent on the warm one."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        busy0, total0 = _cpu_times()  # what the machine does without us: other tenants
        await asyncio.sleep(1.0)
        busy1, total1 = _cpu_times()
        idle_busy_pct = 100 * (busy1 - busy0) / max(total1 - total0, 1)
        started = time.perf_counter()
        await _enqueue(engine, 0, runs, workflows)
        enqueue_s = time.perf_counter() - started
        spawned = time.perf_counter()
        workers = _spawn_workers(f"{url}&application_name={tag}", workers_wanted, logs)
        cold_done = await _until_succeeded(conn, runs, workers, logs)
        while await _scalar(conn, "SELECT count(*) FROM workers") < workers_wanted:
            _check_alive(workers, logs)
            await asyncio.sleep(POLL)

        backends = await _backend_pids(conn, tag)
        busy0, total0 = _cpu_times()
        workers0 = sum(_process_cpu_seconds(w.pid) for w in workers)
        pg0 = sum(_process_cpu_seconds(pid) for pid in backends)
        bench0 = time.process_time()
        sessions = _Sessions(url, tag)
        sessions.start()
        wal0 = await _wal_lsn(conn)
        await _enqueue(engine, runs, runs, workflows)
        committed = time.perf_counter()  # the batch is committed: the workers are notified
        warm_done = await _until_succeeded(conn, 2 * runs, workers, logs)
        wal = await _scalar(conn, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", wal0)
        waits = await sessions.stop()
        bench1 = time.process_time()
        busy1, total1 = _cpu_times()
        workers1 = sum(_process_cpu_seconds(w.pid) for w in workers)
        pg1 = sum(_process_cpu_seconds(pid) for pid in backends)
    return {
        "cold_wall_s": cold_done - spawned,
        "cold_wf_per_s": runs / (cold_done - spawned),
        "warm_wf_per_s": runs / (warm_done - committed),
        "enqueue_runs_per_s": runs / enqueue_s,
        "machine_cpu_busy_pct": 100 * (busy1 - busy0) / max(total1 - total0, 1),
        "idle_machine_cpu_busy_pct": idle_busy_pct,
        "worker_cpu_ms_per_run": 1000 * (workers1 - workers0) / runs,
        "postgres_cpu_ms_per_run": 1000 * (pg1 - pg0) / runs,
        "bench_cpu_ms_per_run": 1000 * (bench1 - bench0) / runs,
        "wal_kb_per_run": float(wal) / 1024 / runs,
        **waits,
    }, workers


async def _emit_to_resume(engine: Engine, url: str, waits: int) -> dict[str, float]:
    """Cross-process wake-up: emit here, the run resumes in a worker process."""
    samples: list[float] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:

        async def status_becomes(run_id: str, wanted: str, interval: float) -> None:
            deadline = time.perf_counter() + 30
            while True:
                status = await _scalar(conn, "SELECT status FROM runs WHERE id = %s", run_id)
                if status == wanted:
                    return
                if status in ("failed", "cancelled") or time.perf_counter() > deadline:
                    raise RuntimeError(f"run {run_id} is {status}, expected {wanted}")
                await asyncio.sleep(interval)

        for n in range(WARMUP_WAITS + waits):
            handle = await engine.start("waiter", n)
            await status_becomes(handle.id, "waiting", 0.001)
            started = time.perf_counter()
            await engine.events.emit("default", "Pong.sent", {"n": n})
            await status_becomes(handle.id, "succeeded", 0.0002)
            if n >= WARMUP_WAITS:
                samples.append(time.perf_counter() - started)
    return {
        "resume_p50_ms": _percentile(samples, 0.5) * 1000,
        "resume_p99_ms": _percentile(samples, 0.99) * 1000,
    }


async def one_round(
    db: str, workers_wanted: int, runs: int, waits: int, workflows: int = 1
) -> dict[str, float]:
    tag = f"plait-scaleout-{os.getpid()}"
    with fresh_schema(db, "scale") as url, tempfile.TemporaryDirectory() as logs:
        engine = scaleout_app.engine.reconfigured(database_url=f"{url}&application_name={tag}")
        workers: list[Popen[bytes]] = []
        try:
            await engine.opened_store()  # migrates the fresh schema before any worker starts
            result, workers = await _rounds(engine, url, tag, workers_wanted, runs, workflows, logs)
            if waits:
                result.update(await _emit_to_resume(engine, url, waits))
        finally:
            await asyncio.to_thread(_stop_workers, workers)
            await engine.close()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, metavar="URL", help="a postgresql:// server URL")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--waits", type=int, default=100, help="emit-to-resume samples per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per worker count (median)")
    parser.add_argument(
        "--workflows",
        type=int,
        default=1,
        choices=range(1, len(scaleout_app.WORKFLOWS) + 1),
        metavar=f"1..{len(scaleout_app.WORKFLOWS)}",
        help="spread the runs over this many workflows (identical code, distinct counter rows)",
    )
    args = parser.parse_args()
    if not is_postgres(args.db):
        parser.error("--db takes a postgresql:// URL: scale-out needs a shared server")

    report: dict[str, Any] = {
        "server": server_settings(args.db),
        "runs": args.runs,
        "waits": args.waits,
        "repeat": args.repeat,
        "workflows": args.workflows,
        "cpus": os.cpu_count(),
        "by_workers": {},
    }
    for count in args.workers:
        rounds = [
            await one_round(args.db, count, args.runs, args.waits) for _ in range(args.repeat)
        ]
        report["by_workers"][str(count)] = {
            k: statistics.median(r[k] for r in rounds) for k in rounds[0]
        }
        print(f"  {count} worker(s): {json.dumps(report['by_workers'][str(count)])}", flush=True)
    _print_table(report)
    print(json.dumps(report))


def _print_table(report: dict[str, Any]) -> None:
    server = report["server"]
    print(f"PostgreSQL {server['server_version']} (synchronous_commit="
          f"{server['synchronous_commit']}), {report['cpus']} CPUs shared by all processes; "
          f"{report['runs']:,} runs per phase over {report['workflows']} workflow(s), median of "
          f"{report['repeat']}")  # fmt: skip
    columns = [
        ("workers", None, "{}"),
        ("warm wf/s", "warm_wf_per_s", "{:,.0f}"),
        ("cold wall s", "cold_wall_s", "{:.2f}"),
        ("cold wf/s", "cold_wf_per_s", "{:,.0f}"),
        ("CPU busy %", "machine_cpu_busy_pct", "{:.0f}"),
        ("idle busy %", "idle_machine_cpu_busy_pct", "{:.0f}"),
        ("wkr ms/run", "worker_cpu_ms_per_run", "{:.2f}"),
        ("pg ms/run", "postgres_cpu_ms_per_run", "{:.2f}"),
        ("resume p50 ms", "resume_p50_ms", "{:.2f}"),
        ("resume p99 ms", "resume_p99_ms", "{:.2f}"),
        ("pg on client", "pg_backends_waiting_for_client", "{:.2f}"),
        ("pg on locks", "pg_backends_waiting_for_locks", "{:.2f}"),
    ]
    print("".join(f"{name:>14}" for name, _, _ in columns))
    for count, row in report["by_workers"].items():
        cells = [count] + [fmt.format(row[k]) if k in row else "-" for _, k, fmt in columns[1:]]
        print("".join(f"{cell:>14}" for cell in cells))


if __name__ == "__main__":
    asyncio.run(main())
