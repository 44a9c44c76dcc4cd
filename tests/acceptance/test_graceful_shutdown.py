"""SIGTERM stops a worker gracefully: runs in progress finish there (for up to
``shutdown_seconds``, after which they are released to other workers) before the worker exits."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from .apps import crashy, flows

if TYPE_CHECKING:
    from .conftest import Sandbox

pytestmark = pytest.mark.timeout(60)


def test_sigterm_lets_the_running_run_finish_then_exits_0(sandbox: Sandbox) -> None:
    run_id = sandbox.start(flows.drain)
    # The database from the environment this time, as a deployment would configure it.
    with_env = {"PLAIT_DATABASE_URL": sandbox.db_url}
    worker = sandbox.worker("apps.flows:engine", db=False, env=with_env)
    sandbox.wait_until(lambda: sandbox.probe("started-slow").exists(), "step 'slow' started")

    signalled = datetime.fromtimestamp(time.time(), UTC)
    worker.terminate()
    sandbox.probe("open-slow").touch()  # the step ends only once the worker is shutting down
    code = worker.wait(within=20)

    assert code == 0, worker.describe()
    info = sandbox.run(run_id)
    assert info.status == "succeeded", info.error
    assert info.output == ["slow", "after"]
    assert info.replays == 1  # finished by this worker, not released for another
    slow = info.steps[0]
    assert slow.key == "slow"
    assert slow.started_at is not None and slow.finished_at is not None
    assert slow.started_at < signalled < slow.finished_at
    assert sandbox.step_log() == ["slow", "after"]


def test_sigterm_releases_a_run_stuck_past_shutdown_seconds_and_exits(sandbox: Sandbox) -> None:
    run_id = sandbox.start(crashy.five_steps, "stuck")
    sandbox.probe("block").touch()
    worker = sandbox.worker("apps.crashy:engine", env={"PLAIT_SHUTDOWN_SECONDS": "1"})
    sandbox.wait_until(lambda: sandbox.probe("reached-s3").exists(), "step s3 hanging")

    worker.terminate()
    code = worker.wait(within=8)

    assert code == 0, worker.describe()
    info = sandbox.run(run_id)
    assert info.status == "pending"  # released: the next worker takes it at once
    assert [s.key for s in info.steps] == ["s1", "s2"]


def test_sigint_lets_the_running_run_finish_then_exits_0(sandbox: Sandbox) -> None:
    """Ctrl-C in a terminal stops a worker as gracefully as SIGTERM does."""
    run_id = sandbox.start(flows.drain)
    worker = sandbox.worker("apps.flows:engine")
    sandbox.wait_until(lambda: sandbox.probe("started-slow").exists(), "step 'slow' started")

    signalled = datetime.fromtimestamp(time.time(), UTC)
    worker.expected_alive = False
    worker.popen.send_signal(signal.SIGINT)
    sandbox.probe("open-slow").touch()  # the step ends only once the worker is shutting down
    code = worker.wait(within=20)

    assert code == 0, worker.describe()
    assert "Traceback" not in worker.output() and "KeyboardInterrupt" not in worker.output()
    info = sandbox.run(run_id)
    assert info.status == "succeeded", info.error
    assert info.output == ["slow", "after"]
    assert info.replays == 1
    slow = info.steps[0]
    assert slow.started_at is not None and slow.finished_at is not None
    assert slow.started_at < signalled < slow.finished_at
    assert sandbox.step_log() == ["slow", "after"]
