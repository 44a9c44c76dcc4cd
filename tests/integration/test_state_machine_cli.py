"""Brief 003's order state machine from the real command line (issue 12): ``plait validate``
reports only its undefined state; ``plait instances send|get|list`` drive and read instances of
the machine by key (it has no correlation), and a failed terminal state shows as a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from plait import Engine
from plait.testing import assert_eventually
from tests.integration.test_state_machine_brief import BRIEF_003, EXAMPLE, NAME


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_validate_reports_only_the_undefined_state(tmp_path: Path) -> None:
    (tmp_path / "order.yaml").write_text(BRIEF_003)
    checked = plait("validate", "order.yaml", cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines() == [
        "error   $.states.shipped.on.RETURN_REQUESTED: unknown target state 'returning' "
        "(did you mean 'pending'?)",
        "order.yaml: invalid (1 error(s))",
    ]
    fixed = plait("validate", str(EXAMPLE), cwd=tmp_path)
    assert fixed.returncode == 0 and fixed.stdout.strip().endswith(": valid"), fixed.stdout


async def test_instances_from_the_shell(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    created = plait("workflows", "create", str(EXAMPLE), "--json", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    activated = plait("workflows", "activate", NAME, "--db", db, cwd=tmp_path)
    assert activated.returncode == 0, activated.stderr

    first = plait("instances", "send", NAME, "o-1", "VALIDATE", "--data", '{"orderId": "o-1"}',
                  "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    sent = json.loads(first.stdout)
    assert (sent["outcome"], sent["key"]) == ("created", "o-1")
    second = plait("instances", "send", NAME, "o-1", "VALIDATION_FAILED", "--db", db,
                   cwd=tmp_path)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("delivered: event ")
    unknown = plait("instances", "send", NAME, "o-2", "PAYMENT_SUCCESS", "--db", db, cwd=tmp_path)
    assert unknown.returncode != 0 and "no instance 'o-2'" in unknown.stderr

    async with Engine(db) as engine:  # a worker takes the events

        async def ended() -> bool:
            shown = await engine.machines.get("default", NAME, "o-1")
            return shown.outcome is not None

        await assert_eventually(ended, timeout=20)

    got = plait("instances", "get", NAME, "o-1", "--json", "--db", db, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    instance = json.loads(got.stdout)
    assert (instance["state"], instance["status"], instance["outcome"]) == (
        "validation-failed", "failed", "failed"
    )  # fmt: skip
    listed = plait("instances", "list", NAME, "--db", db, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.strip().startswith("o-1")]
    assert row.split()[2:5] == ["failed", "failed", "2"]
    workflow = plait("workflows", "get", NAME, "--json", "--db", db, cwd=tmp_path)
    counted = json.loads(workflow.stdout)
    assert (counted["successCount"], counted["failureCount"]) == (0, 1)
