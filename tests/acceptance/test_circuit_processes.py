"""A circuit breaker across worker processes on PostgreSQL: failures seen by one worker open
the circuit, and another worker then refuses every call (``CircuitOpen``, the action not
called) without having seen a failure itself; a reset (the CLI) lets calls through again."""

from __future__ import annotations

import json

import pytest

from .apps import limited
from .conftest import Sandbox
from .test_rate_limit_processes import WORKER_ENV, calls, pg_sandbox, start_runs

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300), pytest.mark.xdist_group("heavy")]
__all__ = ["pg_sandbox"]


def test_a_circuit_opened_in_one_worker_stops_calls_from_another(pg_sandbox: Sandbox) -> None:
    sandbox = pg_sandbox
    env = {**WORKER_ENV, "PLAIT_DATABASE_URL": sandbox.db_url}
    first = sandbox.worker("apps.limited:engine", db=False, env=env)
    opening = start_runs(sandbox.db_url, limited.call_flaky, 3)
    for run_id in opening:
        assert sandbox.wait_for_end(run_id).status == "failed"
    assert {pid for pid, _, _ in calls(sandbox, "flaky")} == {first.pid}
    assert len(calls(sandbox, "flaky")) == 3  # three failures: the circuit opened
    first.terminate()
    first.wait(30)

    second = sandbox.worker("apps.limited:engine", db=False, env=env)
    refused = start_runs(sandbox.db_url, limited.call_flaky, 5)
    for run_id in refused:
        run = sandbox.wait_for_end(run_id)
        assert run.status == "failed" and run.error is not None
        assert run.error["type"] == "plait.errors.CircuitOpen", run.error
    assert not [c for c in calls(sandbox, "flaky") if c[0] == second.pid]  # never called

    listed = json.loads(sandbox.cli("circuits", "list", "--json").stdout)
    assert [(c["name"], c["state"], c["opens"]) for c in listed["items"]] == [
        ("flaky", "open", 1)]  # fmt: skip
    assert sandbox.cli("circuits", "reset", "flaky").returncode == 0
    again = start_runs(sandbox.db_url, limited.call_flaky, 1)
    assert sandbox.wait_for_end(again[0]).status == "failed"
    assert [c[1] for c in calls(sandbox, "flaky") if c[0] == second.pid] == again  # called
