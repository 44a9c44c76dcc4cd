"""PostgreSQL with many processes: ``plait worker`` processes share 2,000 runs while one is
SIGKILLed and another loses its database connections, and processes that start together migrate
a fresh schema once.

The killed worker is registered as if on another machine, so that the others cannot see its
process die: only its lease running out frees its runs. A trigger in the test's schema logs every
write of a completed step, to prove that none is recorded twice."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Engine

from ..backends import database_url
from .apps import scaleout
from .conftest import PLAIT, Child, Sandbox

# Many processes each: one worker of pytest-xdist runs them, not beside the other heavy tests.
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300), pytest.mark.xdist_group("heavy")]

RUNS = 2000
WORKERS = 4
START_BATCH = 200
# Short leases and heartbeats, so that a dead worker's runs move on quickly; a concurrency well
# below RUNS / WORKERS, so that workers keep claiming runs all along instead of taking them all
# at the start.
WORKER_ENV = {
    "PLAIT_LEASE_SECONDS": "3",
    "PLAIT_HEARTBEAT_SECONDS": "1",
    "PLAIT_CONCURRENCY": "50",
}
DRAIN_TIMEOUT = 150.0
# The host name that apps/scaleout_remote.py registers its worker under (not imported here: it
# would rename this process's host too).
REMOTE_HOST = "another-machine.plait.test"
# The clocks of the log lines and of the step records are the same host clock; the margin only
# absorbs the rounding of the logged start times.
CLOCK_MARGIN = 0.001


@pytest.fixture
def pg_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox on a fresh PostgreSQL schema, dropped after its workers are reaped."""
    with database_url("postgres", tmp_path) as url:
        box = Sandbox(tmp_path)
        box.db_url = url
        try:
            yield box
        finally:
            box.close()


def with_app_name(url: str, name: str) -> str:
    """``url`` whose every connection shows as ``name`` in ``pg_stat_activity``."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg  # only once a PostgreSQL test runs, as in tests/backends.py

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


# -- scale-out under faults ------------------------------------------------------------------


async def start_runs(url: str, count: int) -> None:
    """Store ``count`` pending runs, ``START_BATCH`` at a time, from an engine without a worker."""
    engine = Engine(url)
    engine.workflow(scaleout.five_light_steps.name)(scaleout.five_light_steps.fn)
    try:
        for first in range(0, count, START_BATCH):
            batch = range(first, min(first + START_BATCH, count))
            await asyncio.gather(
                *(engine.start(scaleout.five_light_steps.name, n, run_id=f"run-{n:05d}")
                  for n in batch)
            )  # fmt: skip
    finally:
        await engine.close()


COMPLETION_LOG = """
CREATE TABLE step_completions (run_id TEXT NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL);
CREATE FUNCTION log_step_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO step_completions (run_id, key, op) VALUES (NEW.run_id, NEW.key, TG_OP);
    RETURN NULL;
END $$;
CREATE TRIGGER steps_completed AFTER INSERT OR UPDATE ON steps
    FOR EACH ROW WHEN (NEW.status = 'completed') EXECUTE FUNCTION log_step_completion();
"""


def log_step_completions(url: str) -> None:
    """From now on, every write of a completed step adds a row to ``step_completions``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(COMPLETION_LOG)


def succeeded(url: str) -> int:
    rows = query(url, "SELECT count(*) FROM runs WHERE status = 'succeeded'")
    return int(rows[0][0])


def wait_for_succeeded(sandbox: Sandbox, at_least: int, timeout: float) -> int:
    def enough() -> int | None:
        time.sleep(0.1)  # a poll of the database every 100 ms is plenty
        done = succeeded(sandbox.db_url)
        return done if done >= at_least else None

    return sandbox.wait_until(enough, f"{at_least} succeeded runs", timeout=timeout)


def step_executions(sandbox: Sandbox) -> dict[tuple[str, str], list[float]]:
    """Start times of every logged step execution, by (run, step key), from every process."""
    executions: dict[tuple[str, str], list[float]] = {}
    for log in sandbox.probe_dir.glob("steps-*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            step_id, started = line.split()
            run_id, key = step_id.split("/")
            executions.setdefault((run_id, key), []).append(float(started))
    return executions


def held_by(url: str, child: Child) -> int:
    """How many runs the worker process ``child`` holds."""
    rows = query(url, """
        SELECT count(*) FROM runs JOIN workers ON runs.lease_owner = workers.id
        WHERE workers.pid = %s AND runs.status = 'running'""", (child.pid,))  # fmt: skip
    return int(rows[0][0])


def log_lines(sandbox: Sandbox, child: Child) -> int:
    log = sandbox.probe(f"steps-{child.pid}.log")
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def disconnect(url: str, app_name: str) -> int:
    """Terminate every database connection named ``app_name``; how many there were."""
    rows = query(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (app_name,),
    )
    return sum(1 for (terminated,) in rows if terminated)


def set_heartbeat(url: str, worker_id: str, at: float) -> list[tuple[Any, ...]]:
    """Set the last heartbeat of the registered worker ``worker_id``; its row's id."""
    return query(url, "UPDATE workers SET heartbeat_at = %s WHERE id = %s RETURNING id",
                 (at, worker_id))  # fmt: skip


def connections(url: str, app_name: str) -> int:
    rows = query(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                 (app_name,))  # fmt: skip
    return int(rows[0][0])


def test_workers_share_runs_through_a_sigkill_and_a_lost_connection(
    pg_sandbox: Sandbox,
) -> None:
    sandbox, url = pg_sandbox, pg_sandbox.db_url
    began = time.monotonic()
    asyncio.run(start_runs(url, RUNS))
    log_step_completions(url)
    stored = time.monotonic()

    names = [f"plait-scaleout-{i}" for i in range(1, WORKERS + 1)]
    apps = ["apps.scaleout_remote:engine"] + ["apps.scaleout:engine"] * (WORKERS - 1)
    workers = [
        sandbox.worker(app, db=False,
                       env={**WORKER_ENV, "PLAIT_DATABASE_URL": with_app_name(url, name)})
        for app, name in zip(apps, names, strict=True)
    ]  # fmt: skip
    victim, cut_off, survivors = workers[0], workers[1], workers[1:]

    # Kill one worker outright while it holds runs.
    def victim_busy() -> int | None:
        time.sleep(0.1)
        held = held_by(url, victim)
        return held if held >= 10 and succeeded(url) >= RUNS // 8 else None

    held_at_kill = sandbox.wait_until(victim_busy, "the victim holding runs", timeout=60)
    [(victim_id, victim_host)] = query(url, "SELECT id, host FROM workers WHERE pid = %s",
                                       (victim.pid,))  # fmt: skip
    assert victim_host == REMOTE_HOST
    assert victim.kill() == -signal.SIGKILL
    at_kill = succeeded(url)
    # Keep the dead worker registered, once its last write is over: from another host only a
    # stale heartbeat tells the others that it is dead, so with one in the future they cannot
    # reap it, and its runs can move on only through their leases running out, however long the
    # backlog claimed before them (pending runs fell due earlier) takes on a loaded machine.
    sandbox.wait_until(lambda: connections(url, names[0]) == 0, "the victim's connections to end")
    assert set_heartbeat(url, victim_id, time.time() + 3600) == [(victim_id,)]

    # Cut another worker off the database: its writer, readers and listener all lose their
    # connections at once and must reconnect by themselves.
    wait_for_succeeded(sandbox, at_kill + RUNS // 8, timeout=60)
    lines_before_cut = log_lines(sandbox, cut_off)
    terminated = disconnect(url, names[1])
    at_cut = succeeded(url)
    assert terminated >= 2, f"{names[1]} had {terminated} connection(s)"
    assert at_cut < RUNS, "every run ended before the faults: the test proves nothing"

    # Its runs move on when their leases run out, while the dead worker is still registered.
    def victim_runs_taken_over() -> bool | None:
        time.sleep(0.1)
        held = query(url, "SELECT count(*) FROM runs WHERE lease_owner = %s", (victim_id,))
        return True if held == [(0,)] else None

    sandbox.wait_until(
        victim_runs_taken_over, "the victim's runs to be taken over", timeout=DRAIN_TIMEOUT
    )
    assert query(url, "SELECT count(*) FROM workers WHERE id = %s", (victim_id,)) == [(1,)]

    # With its heartbeat stale again, a survivor reaps it, with no run left to give back.
    assert set_heartbeat(url, victim_id, 0.0) == [(victim_id,)]
    gone = f"worker {victim_id} is gone; "

    def reaped() -> str | None:  # the workers' logs, read at the sandbox's poll
        return next((c.output() for c in survivors if gone in c.output()), None)

    assert f"{gone}0 run(s) made runnable" in sandbox.wait_until(reaped, "the victim's reaping")

    wait_for_succeeded(sandbox, RUNS, timeout=DRAIN_TIMEOUT)
    drained = time.monotonic()

    # Every run succeeded, with one completed record per step.
    assert query(url, "SELECT status, count(*) FROM runs GROUP BY status") == [("succeeded", RUNS)]
    records = {
        (run_id, key): (status, finished_at)
        for run_id, key, status, finished_at in query(
            url, "SELECT run_id, key, status, finished_at FROM steps"
        )
    }
    expected = {(f"run-{n:05d}", key) for n in range(RUNS) for key in scaleout.STEPS}
    assert set(records) == expected
    assert {status for status, _ in records.values()} == {"completed"}

    # The database recorded each step's completion once.
    completions = Counter(
        (run_id, key) for run_id, key in query(url, "SELECT run_id, key FROM step_completions")
    )
    assert set(completions) == expected
    twice = {step: n for step, n in completions.items() if n != 1}
    assert not twice, f"step completions recorded more than once: {sorted(twice.items())[:10]}"

    # Every step ran, none more than twice, and none after its result was recorded: a step ran
    # again only when its run changed hands before the first result was committed, at most once
    # per change of hands.
    executions = step_executions(sandbox)
    assert set(executions) == expected
    late = {
        step: starts
        for step, starts in executions.items()
        if max(starts) > records[step][1] + CLOCK_MARGIN
    }
    assert not late, f"steps that ran after their result was recorded: {sorted(late)[:10]}"
    repeated = Counter(run_id for (run_id, _), starts in executions.items() if len(starts) > 1)
    assert max((len(s) for s in executions.values()), default=0) <= 2
    hands = dict(query(url, "SELECT id, executions FROM runs"))
    too_many = {run: n for run, n in repeated.items() if n > hands[run] - 1}
    assert not too_many, f"steps repeated without a change of hands: {too_many}"
    taken_over = sum(1 for n in hands.values() if n > 1)
    assert taken_over > 0, "no run of the killed worker was taken over"

    # The cut-off worker noticed, reconnected and kept executing steps.
    assert cut_off.exited() is False, cut_off.describe()
    output = cut_off.output()
    assert "listener lost its connection" in output, output
    assert re.search(r"PostgreSQL (write|read) failed .*; reconnecting", output), output
    assert log_lines(sandbox, cut_off) > lines_before_cut, cut_off.describe()
    assert connections(url, names[1]) > 0

    for child in survivors:
        child.terminate()
    for child in survivors:
        assert child.wait(within=30) == 0, child.describe()

    print(
        f"\n{RUNS} runs: stored in {stored - began:.1f}s, drained in {drained - stored:.1f}s; "
        f"killed holding {held_at_kill} at {at_kill} succeeded, cut off at {at_cut}; "
        f"{taken_over} runs taken over, "
        f"{sum(repeated.values())} steps repeated, {terminated} connections terminated"
    )


# -- concurrent migrations -------------------------------------------------------------------

MIGRATORS = 5


def schema_shape(url: str) -> dict[str, Any]:
    """The tables, columns and indexes of the schema that ``url`` uses, schema names left out."""
    columns = query(url, """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = current_schema()
        ORDER BY table_name, column_name""")  # fmt: skip
    indexes = query(url, """
        SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()
        ORDER BY tablename, indexname""")  # fmt: skip
    return {"columns": columns, "indexes": indexes}


def migration_tables() -> set[str]:
    """Every table that the migrations leave, read from their scripts."""
    from plait.store.postgres.store import MIGRATIONS

    created: set[str] = {"schema_version"}
    for _, _, script in MIGRATIONS:
        created |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", script))
        created -= set(re.findall(r"DROP TABLE (?:IF EXISTS )?(\w+)", script))
    return created


def waiting_for_migration_lock(url: str, prefix: str) -> int:
    rows = query(url, """
        SELECT count(*) FROM pg_stat_activity
        WHERE application_name LIKE %s AND wait_event_type = 'Lock' AND wait_event = 'advisory'
        """, (prefix + "%",))  # fmt: skip
    return int(rows[0][0])


def test_processes_that_start_together_migrate_a_fresh_schema_once(
    pg_sandbox: Sandbox, tmp_path: Path
) -> None:
    import psycopg

    from plait.store.postgres.store import _MIGRATION_LOCK, MIGRATIONS

    sandbox, url = pg_sandbox, pg_sandbox.db_url
    prefix = f"plait-migrate-{secrets.token_hex(4)}-"
    # Hold the migration lock until every process waits for it, so that all of them race for
    # it at the same moment instead of one finishing before the next has even started.
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        migrators = [
            subprocess.Popen(
                [*PLAIT, "migrate", "--json", "--db", with_app_name(url, f"{prefix}{i}")],
                cwd=sandbox.root, env=sandbox.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(MIGRATORS)
        ]  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while waiting_for_migration_lock(url, prefix) < MIGRATORS:
                early = [p for p in migrators if p.poll() is not None]
                assert not early, f"a migrator exited early: {early[0].communicate()}"
                assert time.monotonic() < deadline, "the migrators never all waited for the lock"
                time.sleep(0.05)
            assert query(url, "SELECT to_regclass('runs')") == [(None,)]
            holder.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
            outputs = [p.communicate(timeout=60) for p in migrators]
        finally:
            for p in migrators:
                if p.poll() is None:
                    p.kill()
                    p.wait()

    latest = len(MIGRATIONS)
    for p, (out, err) in zip(migrators, outputs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["schemaVersion"] == latest, err
    assert query(url, "SELECT version FROM schema_version ORDER BY version") == [
        (n,) for n in range(1, latest + 1)
    ]
    tables = query(url, """
        SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'""")  # fmt: skip
    assert {name for (name,) in tables} == migration_tables()

    # Column for column and index for index, the schema is the one a lone process makes.
    with database_url("postgres", tmp_path) as reference:
        done = sandbox.cli("migrate", "--json", "--db", reference, db=False)
        assert done.returncode == 0, done.stderr
        assert schema_shape(url) == schema_shape(reference)
