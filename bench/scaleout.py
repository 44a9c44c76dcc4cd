"""Scale-out on PostgreSQL: workflows/s with 1, 2, 4 ``plait worker`` processes, and the
cross-process emit-to-resume latency.

    python bench/scaleout.py --db postgresql://postgres@127.0.0.1:5432/test \\
        [--workers 1 2 4] [--runs 2000] [--waits 100] [--repeat 3] [--vs dbos]

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

With ``--vs dbos``, each plait round is followed by a DBOS Transact round with the same K and
``--runs``, on the same server, in a fresh database of its own (``CREATE DATABASE``, dropped
afterwards): ``bench/scaleout_dbos_app.py`` runs once to migrate DBOS's schema and register the
queue ``scaleout``, then K processes of it launch DBOS on that database and consume the queue
(the same 3 no-op async steps; settings in that file). A ``DBOSClient`` in the benchmark process
enqueues the workflows, each batch in one transaction (``enqueue_in_transaction``), and polls
``dbos.workflow_status`` every 20 ms until all are ``SUCCESS``: cold (the batch committed before
the K processes start) and warm (committed while they are up and idle, timed from the commit).
Also reported: the share of the warm batch that the busiest process ran, and the CPU of the DBOS
processes and of every backend on DBOS's database. DBOS's queue defaults unless
``--dbos-worker-concurrency`` / ``--dbos-polling-interval`` are given.

Each figure is the median over ``--repeat``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
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


def _spawn(commands: list[list[str]], logs: str, env: dict[str, str]) -> list[Popen[bytes]]:
    """One process per command, its output in ``logs/worker-<n>.log``."""
    workers = []
    for n, command in enumerate(commands):
        log = open(os.path.join(logs, f"worker-{n}.log"), "wb")  # noqa: SIM115 - closed with it
        workers.append(Popen(command, cwd=logs, env=env, stdout=log, stderr=subprocess.STDOUT))
        log.close()  # the child holds its own descriptor
    return workers


def _spawn_workers(url: str, count: int, logs: str) -> list[Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "plait", "worker", "scaleout_app:engine", "--db", url]
    return _spawn([command] * count, logs, env)


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


PLAIT_COUNTS = (
    "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
    "count(*) FILTER (WHERE status IN ('failed', 'cancelled')) "
    "FROM runs WHERE workflow LIKE 'noop3%'"
)


async def _succeeded(conn: psycopg.AsyncConnection[Any], counts: str = PLAIT_COUNTS) -> int:
    """How many runs succeeded, by ``counts`` (a query of succeeded and failed counts)."""
    cursor = await conn.execute(counts)  # type: ignore[arg-type]
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
    counts: str = PLAIT_COUNTS,
) -> float:
    """Poll every ``POLL`` s until ``total`` runs succeeded; the time it was seen."""
    deadline = time.perf_counter() + 600
    while (succeeded := await _succeeded(conn, counts)) < total:
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


async def _idle_busy_pct() -> float:
    """The machine's busy share over 1 s before a round: what other tenants are doing."""
    busy0, total0 = _cpu_times()
    await asyncio.sleep(1.0)
    busy1, total1 = _cpu_times()
    return 100 * (busy1 - busy0) / max(total1 - total0, 1)


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
        idle_busy_pct = await _idle_busy_pct()
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
            await engine.deps.store()  # migrates the fresh schema before any worker starts
            result, workers = await _rounds(engine, url, tag, workers_wanted, runs, workflows, logs)
            if waits:
                result.update(await _emit_to_resume(engine, url, waits))
        finally:
            await asyncio.to_thread(_stop_workers, workers)
            await engine.close()
    return result


# --- DBOS Transact on the same server (``--vs dbos``) -----------------------------------------

DBOS_APP = BENCH / "scaleout_dbos_app.py"
DBOS_COUNTS = (
    "SELECT count(*) FILTER (WHERE status = 'SUCCESS'), "
    "count(*) FILTER (WHERE status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')) "
    "FROM dbos.workflow_status WHERE queue_name = 'scaleout'"
)


def _dbos_command(url: str, executor_id: str, queue_options: list[str]) -> list[str]:
    return [sys.executable, str(DBOS_APP), url, executor_id, *queue_options]


def _dbos_setup(url: str, queue_options: list[str]) -> None:
    """DBOS's migrations and the queue's row, before anything is enqueued."""
    command = [*_dbos_command(url, "setup", queue_options), "--setup"]
    done = subprocess.run(command, capture_output=True, timeout=300, check=False)
    if done.returncode != 0 or b"ready" not in done.stdout:
        raise RuntimeError(f"DBOS setup failed:\n{done.stdout[-2000:]!r}\n{done.stderr[-2000:]!r}")


def _spawn_dbos(url: str, count: int, logs: str, queue_options: list[str]) -> list[Popen[bytes]]:
    commands = [_dbos_command(url, f"worker-{n}", queue_options) for n in range(count)]
    return _spawn(commands, logs, dict(os.environ))


def _all_ready(logs: str, count: int) -> bool:
    logs_text = (Path(logs, f"worker-{n}.log").read_text(errors="replace") for n in range(count))
    return all("ready" in text.splitlines() for text in logs_text)


async def _until_ready(workers: list[Popen[bytes]], logs: str) -> None:
    """Until every DBOS process printed ``ready`` (launched, its queue registered)."""
    while not _all_ready(logs, len(workers)):
        _check_alive(workers, logs)
        await asyncio.sleep(POLL)


def _dbos_enqueue(client: Any, engine: Any, first: int, count: int) -> None:
    """``count`` workflows enqueued in one transaction, as plait's batch is one commit."""
    from scaleout_dbos_app import APP_VERSION, QUEUE, WORKFLOW

    options = {"workflow_name": WORKFLOW, "queue_name": QUEUE, "app_version": APP_VERSION}
    with engine.begin() as conn:
        for i in range(first, first + count):
            client.enqueue_in_transaction(conn, options, i)


async def _dbos_backend_cpu(conn: psycopg.AsyncConnection[Any]) -> dict[int, float]:
    """CPU seconds of each backend on DBOS's database but this one: the DBOS processes' and
    the enqueuing client's, as plait's figure counts its workers' and the benchmark's."""
    cursor = await conn.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {int(row[0]): _process_cpu_seconds(int(row[0])) for row in await cursor.fetchall()}


async def _by_executor(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    """Finished workflows per DBOS executor (process)."""
    cursor = await conn.execute(
        "SELECT executor_id, count(*) FROM dbos.workflow_status "
        "WHERE queue_name = 'scaleout' AND status = 'SUCCESS' GROUP BY executor_id"
    )
    return {str(row[0]): int(row[1]) for row in await cursor.fetchall()}


async def _dbos_warm(
    conn: psycopg.AsyncConnection[Any],
    client: Any,
    engine: Any,
    workers: list[Popen[bytes]],
    runs: int,
    logs: str,
) -> dict[str, float]:
    """``runs`` more workflows committed at once while the K DBOS processes are up and idle,
    timed from that commit until all are ``SUCCESS``, with the CPU each side spent."""
    before = await _by_executor(conn)
    backends0 = await _dbos_backend_cpu(conn)
    busy0, total0 = _cpu_times()
    workers0 = sum(_process_cpu_seconds(w.pid) for w in workers)
    await asyncio.to_thread(_dbos_enqueue, client, engine, runs, runs)
    committed = time.perf_counter()
    done = await _until_succeeded(conn, 2 * runs, workers, logs, DBOS_COUNTS)
    busy1, total1 = _cpu_times()
    workers1 = sum(_process_cpu_seconds(w.pid) for w in workers)
    backends1 = await _dbos_backend_cpu(conn)
    after = await _by_executor(conn)
    ran = [after[k] - before.get(k, 0) for k in after]
    return {
        "warm_wf_per_s": runs / (done - committed),
        "machine_cpu_busy_pct": 100 * (busy1 - busy0) / max(total1 - total0, 1),
        "worker_cpu_ms_per_run": 1000 * (workers1 - workers0) / runs,
        "postgres_cpu_ms_per_run": 1000
        * sum(cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items())
        / runs,
        "warm_busiest_process_share": max(ran) / runs,
    }


async def _dbos_rounds(
    url: str, client: Any, engine: Any, workers: list[Popen[bytes]], count: int, runs: int,
    queue_options: list[str], logs: str,
) -> dict[str, float]:  # fmt: skip
    """The cold drain (K DBOS processes spawned over a backlog), then the warm one; the
    processes it spawns are appended to ``workers`` for the caller to stop."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        idle_busy_pct = await _idle_busy_pct()
        started = time.perf_counter()
        await asyncio.to_thread(_dbos_enqueue, client, engine, 0, runs)
        enqueue_s = time.perf_counter() - started
        spawned = time.perf_counter()
        workers.extend(_spawn_dbos(url, count, logs, queue_options))
        cold_done = await _until_succeeded(conn, runs, workers, logs, DBOS_COUNTS)
        await _until_ready(workers, logs)
        warm = await _dbos_warm(conn, client, engine, workers, runs, logs)
    return {
        "cold_wall_s": cold_done - spawned,
        "cold_wf_per_s": runs / (cold_done - spawned),
        "enqueue_runs_per_s": runs / enqueue_s,
        "idle_machine_cpu_busy_pct": idle_busy_pct,
        **warm,
    }


async def dbos_round(db: str, count: int, runs: int, queue_options: list[str]) -> dict[str, float]:
    """One round of DBOS with ``count`` processes, in a fresh database dropped afterwards."""
    import sqlalchemy as sa
    from dbos import DBOSClient
    from dbos_peer import fresh_database
    from scaleout_dbos_app import APP_NAME

    with fresh_database(db) as url, tempfile.TemporaryDirectory() as logs:
        await asyncio.to_thread(_dbos_setup, url, queue_options)
        client = DBOSClient(system_database_url=url, application_name=APP_NAME)
        engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
        workers: list[Popen[bytes]] = []
        try:
            return await _dbos_rounds(
                url, client, engine, workers, count, runs, queue_options, logs
            )
        finally:
            await asyncio.to_thread(_stop_workers, workers)
            client.destroy()
            engine.dispose()


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--vs", choices=["dbos"], help="also measure DBOS Transact, same server")
    parser.add_argument(
        "--dbos-worker-concurrency", type=int, help="DBOS queue worker_concurrency (default: none)"
    )
    parser.add_argument(
        "--dbos-polling-interval", type=float, help="DBOS queue polling_interval_sec (default: 1)"
    )
    return parser


def _dbos_queue_options(args: argparse.Namespace) -> list[str]:
    options = []
    if args.dbos_worker_concurrency is not None:
        options += ["--worker-concurrency", str(args.dbos_worker_concurrency)]
    if args.dbos_polling_interval is not None:
        options += ["--polling-interval", str(args.dbos_polling_interval)]
    return options


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


async def _measure(
    args: argparse.Namespace, count: int
) -> tuple[dict[str, float], dict[str, float] | None]:
    """``--repeat`` rounds with ``count`` workers, plait and DBOS alternating; the medians."""
    plait_rounds, dbos_rounds = [], []
    for _ in range(args.repeat):
        plait_rounds.append(await one_round(args.db, count, args.runs, args.waits, args.workflows))
        if args.vs == "dbos":
            dbos_rounds.append(
                await dbos_round(args.db, count, args.runs, _dbos_queue_options(args))
            )
    return _medians(plait_rounds), _medians(dbos_rounds) if dbos_rounds else None


async def main() -> None:
    parser = _parser()
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
    if args.vs == "dbos":
        report["dbos"] = {
            "version": importlib.metadata.version("dbos"),
            "worker_concurrency": args.dbos_worker_concurrency,
            "polling_interval_sec": args.dbos_polling_interval or 1.0,
            "by_workers": {},
        }
    for count in args.workers:
        plait, dbos = await _measure(args, count)
        report["by_workers"][str(count)] = plait
        print(f"  {count} worker(s): {json.dumps(plait)}", flush=True)
        if dbos is not None:
            dbos["plait_over_dbos_warm"] = plait["warm_wf_per_s"] / dbos["warm_wf_per_s"]
            report["dbos"]["by_workers"][str(count)] = dbos
            print(f"  {count} DBOS process(es): {json.dumps(dbos)}", flush=True)
    _print_table(report)
    if "dbos" in report:
        _print_dbos_table(report)
    print(json.dumps(report))


def _print_dbos_table(report: dict[str, Any]) -> None:
    dbos = report["dbos"]
    print(f"DBOS {dbos['version']}, K processes on one queue (worker_concurrency="
          f"{dbos['worker_concurrency']}, polling_interval_sec={dbos['polling_interval_sec']}), "
          f"in a fresh database on the same server")  # fmt: skip
    columns = ["workers", "plait warm", "DBOS warm", "plait/DBOS", "plait cold s", "DBOS cold s"]
    columns += ["DBOS top share", "DBOS CPU %", "DBOS wkr ms", "DBOS pg ms"]
    print("".join(f"{name:>15}" for name in columns))
    for count, row in dbos["by_workers"].items():
        ours = report["by_workers"][count]
        cells = [count, f"{ours['warm_wf_per_s']:,.0f}", f"{row['warm_wf_per_s']:,.0f}"]
        cells += [f"{row['plait_over_dbos_warm']:.1f}x", f"{ours['cold_wall_s']:.2f}"]
        cells += [f"{row['cold_wall_s']:.2f}", f"{row['warm_busiest_process_share']:.2f}"]
        cells += [f"{row['machine_cpu_busy_pct']:.0f}", f"{row['worker_cpu_ms_per_run']:.2f}"]
        cells += [f"{row['postgres_cpu_ms_per_run']:.2f}"]
        print("".join(f"{cell:>15}" for cell in cells))


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
