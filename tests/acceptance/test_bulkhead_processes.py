"""A bulkhead across worker processes on PostgreSQL, through a SIGKILL: a worker holding both
permits of a bulkhead of 2 is killed mid-call; once its lease runs out another worker takes
both slots back (its own calls run, two at once, never three), and every run completes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .apps import limited
from .conftest import Sandbox
from .test_postgres_scaleout import query
from .test_rate_limit_processes import WORKER_ENV, calls, pg_sandbox, start_runs

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300), pytest.mark.xdist_group("heavy")]
__all__ = ["pg_sandbox"]


def permits(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT run_id, fence FROM bulkhead_permits WHERE name = 'hold' "
                      "ORDER BY run_id")  # fmt: skip


def most_at_once(sandbox: Sandbox, killed: int, killed_at: float) -> int:
    """The largest number of ``hold`` calls running at once, from the calls' logged starts and
    ends (a call of the ``killed`` worker ended when it was killed)."""
    started = calls(sandbox, "hold")
    events = [(at, 1) for _, _, at in started] + [
        (at, -1) for _, _, at in calls(sandbox, "hold-end")
    ]
    events += [(killed_at, -1) for pid, _, _ in started if pid == killed]
    running = most = 0
    for _, change in sorted(events):  # at one instant, an end (-1) sorts before a start
        running += change
        most = max(most, running)
    return most


def test_a_killed_worker_s_bulkhead_slots_are_recovered(pg_sandbox: Sandbox) -> None:
    sandbox, url = pg_sandbox, pg_sandbox.db_url
    env = {**WORKER_ENV, "PLAIT_DATABASE_URL": url}
    block = sandbox.probe("block")
    block.touch()  # every call of hold blocks until the file is gone
    victim = sandbox.worker("apps.limited_remote:engine", db=False, env=env)
    run_ids = start_runs(url, limited.held, 3)

    def victim_holds_both() -> bool:
        waiting = [r for r in run_ids if sandbox.run(r).status == "waiting"]
        return len(calls(sandbox, "hold")) == 2 and len(waiting) == 1

    sandbox.wait_until(victim_holds_both, "the victim holding both permits, one run waiting")
    assert {pid for pid, _, _ in calls(sandbox, "hold")} == {victim.pid}
    assert len(permits(url)) == 2
    victim.kill()
    killed_at = time.time()

    survivor = sandbox.worker("apps.limited:engine", db=False, env=env)

    def survivor_calls() -> list[str]:
        return [run for pid, run, _ in calls(sandbox, "hold") if pid == survivor.pid]

    # The dead worker's permits free up when its lease runs out: the survivor runs two calls.
    sandbox.wait_until(lambda: len(survivor_calls()) == 2, "two calls in the survivor",
                       timeout=60)  # fmt: skip
    assert len(permits(url)) == 2  # still two at once: the third run waits for a slot
    assert len(set(survivor_calls())) == 2
    assert set(survivor_calls()) <= set(run_ids)  # any two of the three: the slots are free
    block.unlink()
    for run_id in run_ids:
        assert sandbox.wait_for_end(run_id, timeout=60).status == "succeeded"
    assert sorted(survivor_calls()) == sorted(run_ids)
    assert permits(url) == []
    assert most_at_once(sandbox, victim.pid, killed_at) == 2  # reached, never passed
