"""A worker SIGKILLed in the middle of a step: the run resumes on the next worker without running
its completed steps again, or fails cleanly if the workflow code changed meanwhile."""

from __future__ import annotations

import signal
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from .apps import crashy

if TYPE_CHECKING:
    from .conftest import Sandbox

pytestmark = pytest.mark.timeout(90)


def crash_in_step_3(sandbox: Sandbox) -> str:
    """Start a ``five_steps`` run, SIGKILL its worker while step s3 hangs, and return its id.

    The block marker is removed after the kill, so the next worker gets through s3.
    """
    run_id = sandbox.start(crashy.five_steps, "order-42")
    sandbox.probe("block").touch()
    first = sandbox.worker("apps.crashy:engine")
    sandbox.wait_until(lambda: sandbox.probe("reached-s3").exists(), "step s3 hanging")
    assert first.kill() == -signal.SIGKILL
    sandbox.probe("block").unlink()
    assert sandbox.run(run_id).status == "running"  # still leased to the dead worker
    return run_id


def test_run_resumes_after_sigkill_without_repeating_completed_steps(sandbox: Sandbox) -> None:
    run_id = crash_in_step_3(sandbox)

    second = sandbox.worker("apps.crashy:engine")
    info = sandbox.wait_for_end(run_id)

    assert info.status == "succeeded", info.error
    assert info.output == {"label": "order-42", "steps": ["s1", "s2", "s3", "s4", "s5"]}
    # s3 was running when the worker died: it runs again (at-least-once); nothing else does.
    assert Counter(sandbox.step_log()) == {"s1": 1, "s2": 1, "s3": 2, "s4": 1, "s5": 1}

    shown = sandbox.cli_json("runs", "get", run_id)
    assert shown["$id"] == run_id
    assert shown["status"] == "succeeded"
    assert shown["input"] == ["order-42"]
    assert shown["output"] == info.output
    assert shown["error"] is None
    assert shown["replays"] == 2
    assert [(s["key"], s["status"]) for s in shown["steps"]] == [
        (key, "completed") for key in ("s1", "s2", "s3", "s4", "s5")
    ]

    second.terminate()
    assert second.wait(within=15) == 0, second.describe()


@pytest.mark.parametrize(
    ("app", "step", "recorded"),
    [("apps.crashy_v2:engine", "s2-renamed", "s2"), ("apps.crashy_reordered:engine", "s2", "s1")],
    ids=["renamed", "reordered"],
)
def test_changed_workflow_code_fails_the_resumed_run_with_nondeterminism_error(
    sandbox: Sandbox, app: str, step: str, recorded: str
) -> None:
    run_id = crash_in_step_3(sandbox)

    second = sandbox.worker(app)  # same workflow name, a step renamed or the steps reordered
    info = sandbox.wait_for_end(run_id)

    assert info.status == "failed"
    shown = sandbox.cli_json("runs", "get", run_id)
    assert shown["status"] == "failed"
    error = shown["error"]
    assert error["type"] == "plait.errors.NonDeterminismError"
    assert error["step"] == step
    assert run_id in error["message"]
    assert f"recorded step {recorded!r}" in error["message"]
    assert f"calls step {step!r}" in error["message"]
    # The new code did nothing once it diverged: no step ran after the crash.
    assert Counter(sandbox.step_log()) == {"s1": 1, "s2": 1, "s3": 1}

    second.terminate()
    assert second.wait(within=15) == 0, second.describe()
