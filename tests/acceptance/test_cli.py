"""The ``plait`` command line as an operator uses it: output, filters, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sysconfig
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .apps import flows

if TYPE_CHECKING:
    from .conftest import Sandbox

pytestmark = pytest.mark.timeout(60)


def test_version_is_the_installed_distribution_version(sandbox: Sandbox) -> None:
    done = sandbox.cli("--version", db=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"plait {version('plait')}\n"
    assert done.stdout == "plait 0.1.0\n"


def test_console_script_runs_the_cli(sandbox: Sandbox) -> None:
    script = Path(sysconfig.get_path("scripts")) / "plait"
    if not script.exists():
        pytest.skip(f"plait is not installed for this interpreter ({script} is missing)")

    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=30, check=False
    )

    assert (done.returncode, done.stdout) == (0, f"plait {version('plait')}\n"), done.stderr


def test_runs_list_on_an_empty_database_prints_an_empty_json_list(sandbox: Sandbox) -> None:
    done = sandbox.cli("runs", "list", "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"items": [], "nextCursor": None}


@pytest.mark.parametrize("command", ["get", "cancel"])
def test_unknown_run_id_exits_3_with_a_message_and_no_traceback(
    sandbox: Sandbox, command: str
) -> None:
    done = sandbox.cli("runs", command, "run-does-not-exist")

    assert done.returncode == 3
    assert "no run with id 'run-does-not-exist'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nonexistent.module:engine", "No module named 'nonexistent'"),
        ("apps.flows", "expected MODULE:ATTR"),
        ("apps.flows:missing", "missing"),
        ("apps.flows:greet", "not a plait Engine"),
    ],
)
def test_worker_with_a_bad_target_exits_2_with_a_message(
    sandbox: Sandbox, target: str, message: str
) -> None:
    done = sandbox.cli("worker", target)

    assert done.returncode == 2
    assert "error:" in done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("runs", "list", "--status", "lost"), "unknown run status 'lost'"),
        (("runs", "list", "--limit", "0"), "limit must be between 1 and 1000"),
        (("runs", "list", "--cursor", "not-a-cursor"), "the cursor is not valid"),
        (("tasks", "list", "--cursor", "not-a-cursor"), "the cursor is not valid"),
    ],
)
def test_an_invalid_query_is_a_usage_error_exit_2(
    sandbox: Sandbox, args: tuple[str, ...], message: str
) -> None:
    done = sandbox.cli(*args)

    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_runs_list_filters_by_status_and_workflow(sandbox: Sandbox) -> None:
    greeted = sandbox.execute(flows.greet, "ada", until="succeeded")
    napping = sandbox.execute(flows.nap, until="waiting")

    def ids(*args: str) -> list[str]:
        return [run["$id"] for run in sandbox.cli_json("runs", "list", *args)["items"]]

    assert ids() == [napping, greeted]  # newest first
    assert ids("--status", "succeeded") == [greeted]
    assert ids("--status", "waiting") == [napping]
    assert ids("--status", "failed") == []
    assert ids("--workflow", "nap") == [napping]
    assert ids("--workflow", "greet", "--status", "waiting") == []

    (listed,) = sandbox.cli_json("runs", "list", "--status", "succeeded")["items"]
    assert (listed["workflow"], listed["input"], listed["output"]) == (
        "greet",
        ["ada"],
        "hello ada",
    )


def test_database_url_environment_variable_replaces_db_option(sandbox: Sandbox) -> None:
    run_id = sandbox.execute(flows.greet, "env", until="succeeded")
    with_env = {"PLAIT_DATABASE_URL": sandbox.db_url}

    listed = sandbox.cli("runs", "list", "--json", db=False, env=with_env)
    shown = sandbox.cli("runs", "get", run_id, "--json", db=False, env=with_env)

    assert listed.returncode == 0, listed.stderr
    assert [run["$id"] for run in json.loads(listed.stdout)["items"]] == [run_id]
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["output"] == "hello env"
    # Without either, the CLI uses ./plait.db in its working directory, which has no runs.
    assert json.loads(sandbox.cli("runs", "list", "--json", db=False).stdout)["items"] == []


def test_cancel_a_waiting_run(sandbox: Sandbox) -> None:
    run_id = sandbox.execute(flows.nap, until="waiting")

    cancelled = sandbox.cli_json("runs", "cancel", run_id)
    shown = sandbox.cli_json("runs", "get", run_id)

    assert cancelled["status"] == "cancelled"
    assert shown["status"] == "cancelled"
    assert shown["finishedAt"] is not None
    assert sandbox.run(run_id).status == "cancelled"


def test_cancel_a_running_run_stops_it_before_its_next_step(sandbox: Sandbox) -> None:
    run_id = sandbox.start(flows.drain)
    worker = sandbox.worker("apps.flows:engine")
    sandbox.wait_until(lambda: sandbox.probe("started-slow").exists(), "step 'slow' started")

    cancelled = sandbox.cli_json("runs", "cancel", run_id)
    sandbox.probe("open-slow").touch()
    worker.terminate()  # a graceful stop waits for the run's execution to wind down
    assert worker.wait(within=20) == 0, worker.describe()

    assert cancelled["status"] == "cancelled"
    info = sandbox.run(run_id)
    assert (info.status, info.output) == ("cancelled", None)
    # The step in flight could not be interrupted, but nothing ran after it.
    assert sandbox.step_log() == ["slow"]


def test_runs_get_and_list_render_tables_for_people(sandbox: Sandbox) -> None:
    run_id = sandbox.execute(flows.greet, "grace", until="succeeded")

    shown = sandbox.cli("runs", "get", run_id)
    listed = sandbox.cli("runs", "list")

    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert lines[0] == [run_id, "greet", "succeeded"]
    assert ["output:", '"hello', 'grace"'] in lines
    assert lines[-1][:3] == ["hello", "completed", "1"]  # the step table
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:3] == [run_id, "greet", "succeeded"]
