"""A per-action rate limit across worker processes on PostgreSQL: three ``plait worker``
processes share 100 runs of an action limited to 10 calls a second; the calls, logged by every
process in real time, keep to the rate within 10% over the whole window, and no one-second
window holds more than the limit allows (a late call may meet the next one's turn: one more)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait import Engine, Workflow

from ..backends import database_url
from .apps import limited
from .conftest import Sandbox

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300), pytest.mark.xdist_group("heavy")]

WORKER_ENV = {"PLAIT_LEASE_SECONDS": "3", "PLAIT_HEARTBEAT_SECONDS": "1",
              "PLAIT_CONCURRENCY": "50"}  # fmt: skip
RUNS = 100
RATE = 10.0


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


def start_runs(url: str, workflow: Workflow, count: int) -> list[str]:
    """Store ``count`` pending runs of ``workflow`` from an engine without a worker."""

    async def go() -> list[str]:
        engine = Engine(url)
        engine.workflow(workflow.name)(workflow.fn)
        try:
            handles = await asyncio.gather(*(engine.start(workflow.name) for _ in range(count)))
            return [h.id for h in handles]
        finally:
            await engine.close()

    return asyncio.run(go())


def calls(sandbox: Sandbox, action: str) -> list[tuple[int, str, float]]:
    """``(pid, run id, started at)`` of every logged call of ``action``, by start time."""
    found = []
    for log in sandbox.probe_dir.glob("calls-*.log"):
        pid = int(log.stem.split("-")[1])
        for line in log.read_text(encoding="utf-8").splitlines():
            name, run_id, at = line.split()
            if name == action:
                found.append((pid, run_id, float(at)))
    return sorted(found, key=lambda c: c[2])


def statuses(sandbox: Sandbox, run_ids: list[str]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for run_id in run_ids:
        status = sandbox.run(run_id).status
        counted[status] = counted.get(status, 0) + 1
    return counted


def test_a_rate_limit_holds_across_worker_processes(pg_sandbox: Sandbox) -> None:
    sandbox = pg_sandbox
    env = {**WORKER_ENV, "PLAIT_DATABASE_URL": sandbox.db_url}
    workers = [sandbox.worker("apps.limited:engine", db=False, env=env) for _ in range(3)]
    run_ids = start_runs(sandbox.db_url, limited.pings, RUNS)
    sandbox.wait_until(lambda: len(calls(sandbox, "ping")) >= RUNS or None,
                       f"{RUNS} calls of ping", timeout=120)  # fmt: skip
    # Every run ended: a call beyond RUNS (there must be none) would have been logged before.
    sandbox.wait_until(lambda: statuses(sandbox, run_ids) == {"succeeded": RUNS} or None,
                       f"{RUNS} runs succeeded", timeout=60)  # fmt: skip
    found = calls(sandbox, "ping")
    assert len(found) == RUNS and len({run for _, run, _ in found}) == RUNS
    assert len({pid for pid, _, _ in found}) >= 2, "the calls came from one worker only"
    times = [at for _, _, at in found]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert RATE * 0.9 <= rate <= RATE * 1.1, f"{rate:.2f} calls a second"
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= RATE + 1, f"{busiest} calls within one second"
    for worker in workers:
        assert not worker.exited(), worker.describe()
