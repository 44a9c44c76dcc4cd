"""A concurrency key's limit holds across worker processes on PostgreSQL (issue 16): three
``plait worker`` processes drain runs of a few keys with limit 2; the runs executing per key,
sampled continuously from the database while they drain, and the steps' own logs of when each
execution started and ended, never show more than 2 of a key at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Engine

from ..backends import database_url
from .apps import keyed
from .conftest import Sandbox

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300), pytest.mark.xdist_group("heavy")]

RUNS = 120
KEYS = ("a", "b", "c")
WORKERS = 3
WORKER_ENV = {"PLAIT_LEASE_SECONDS": "5", "PLAIT_HEARTBEAT_SECONDS": "1",
              "PLAIT_CONCURRENCY": "20"}  # fmt: skip


@pytest.fixture
def pg_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with database_url("postgres", tmp_path) as url:
        box = Sandbox(tmp_path)
        box.db_url = url
        try:
            yield box
        finally:
            box.close()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


async def start_runs(url: str) -> None:
    engine = Engine(url)
    engine.workflow(keyed.keyed.name, concurrency=keyed.FLOW)(keyed.keyed.fn)
    try:
        await asyncio.gather(*(engine.start(keyed.keyed.name, {"key": KEYS[n % len(KEYS)]})
                               for n in range(RUNS)))  # fmt: skip
    finally:
        await engine.close()


def most_at_once(probe_dir: Path) -> dict[str, int]:
    """The most executions of each key that overlapped, from every process's step log."""
    edges: list[tuple[float, int, str]] = []
    for log in probe_dir.glob("keyed-*.log"):
        for line in log.read_text().splitlines():
            key, what, at = line.split()
            edges.append((float(at), 0 if what == "end" else 1, key))  # ends first on a tie
    current: dict[str, int] = {}
    most: dict[str, int] = {}
    for _, start, key in sorted(edges):
        current[key] = current.get(key, 0) + (1 if start else -1)
        most[key] = max(most.get(key, 0), current[key])
    return most


def test_a_key_never_runs_more_than_its_limit_across_workers(pg_sandbox: Sandbox) -> None:
    sandbox, url = pg_sandbox, pg_sandbox.db_url
    asyncio.run(start_runs(url))
    env = {**WORKER_ENV, "PLAIT_DATABASE_URL": url}
    for _ in range(WORKERS):
        sandbox.worker("apps.keyed:engine", db=False, env=env)
    running = ("SELECT concurrency_key, count(*) FROM runs WHERE status = 'running' "
               "GROUP BY concurrency_key")  # fmt: skip
    slots = "SELECT key, used FROM concurrency_slots"
    samples: list[dict[str, int]] = []

    def drained() -> bool | None:
        samples.append(dict(query(url, running)))
        samples.append({key: used for key, used in query(url, slots) if used})
        done = query(url, "SELECT count(*) FROM runs WHERE status = 'succeeded'")[0][0]
        return True if done == RUNS else None

    sandbox.wait_until(drained, "every run to succeed", timeout=240)
    busiest = max((n for sample in samples for n in sample.values()), default=0)
    assert busiest <= keyed.LIMIT, f"a sample saw {busiest} runs of one key running"
    assert busiest == keyed.LIMIT, "the limit never bound: the test proves nothing"
    assert most_at_once(sandbox.probe_dir) == dict.fromkeys(KEYS, keyed.LIMIT)
    assert query(url, slots) == []  # every slot given back, and each key's row with it
    busy = [log for log in sandbox.probe_dir.glob("keyed-*.log") if log.read_text()]
    assert len(busy) >= 2, "one process executed every run: the test proves nothing"
