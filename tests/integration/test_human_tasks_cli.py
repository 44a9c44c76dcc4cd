"""``plait tasks list | get | complete`` through the real command line, on a run that waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from plait import Context, Engine
from tests.integration.helpers import wait_status


def plait(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def approvals(db: str) -> Engine:
    engine = Engine(db)

    @engine.workflow("publish")
    async def publish(ctx: Context, doc: str) -> Any:
        review = await ctx.human_task(f"Publish {doc}?", "ann", choices=["publish", "hold"])
        return {"decision": review["decision"], "by": review["completedBy"]}

    return engine


async def test_tasks_from_the_shell(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = approvals(db)
    async with engine:
        handle = await engine.start("publish", "handbook")
        await wait_status(engine, handle.id, "waiting")

    listed = plait("tasks", "list", "--assignee", "ann", "--status", "open", "--json", "--db", db,
                   cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    [task] = json.loads(listed.stdout)["items"]
    assert task["title"] == "Publish handbook?" and task["choices"] == ["publish", "hold"]
    table = plait("tasks", "list", "--db", db, cwd=tmp_path)
    assert task["$id"] in table.stdout and "Publish handbook?" in table.stdout

    refused = plait("tasks", "complete", task["$id"], "--decision", "approve", "--by", "ann",
                    "--db", db, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 4
    assert "'approve' is not offered; choose one of 'publish', 'hold'" in refused.stderr
    not_yours = plait("tasks", "complete", task["$id"], "--decision", "publish", "--by", "bob",
                      "--db", db, cwd=tmp_path)  # fmt: skip
    assert not_yours.returncode == 4 and "assigned to 'ann'" in not_yours.stderr

    done = plait("tasks", "complete", task["$id"], "--decision", "publish", "--by", "ann",
                 "--comment", "ship it", "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    again = plait("tasks", "complete", task["$id"], "--decision", "publish", "--by", "ann",
                  "--db", db, cwd=tmp_path)  # fmt: skip
    assert again.returncode == 4 and "it is completed" in again.stderr
    shown = plait("tasks", "get", task["$id"], "--json", "--db", db, cwd=tmp_path)
    assert json.loads(shown.stdout)["comment"] == "ship it"

    engine = approvals(db)
    async with engine:
        assert await engine.handle(handle.id).result(timeout=10) == {
            "decision": "publish", "by": "ann",
        }  # fmt: skip


def test_the_expense_approval_example_runs(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "examples" / "expense_approval.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "mia's inbox: Approve expense exp-7 of 1500 by eve [approve, reject]",
        "vic's inbox: Approve expense exp-7 of 1500 by eve [approve, reject]",
        "status: approved, paid: 1500",
    ]
    listed = plait("tasks", "list", "--status", "completed", "--json", cwd=tmp_path)
    completed = json.loads(listed.stdout)["items"]
    assert sorted(t["completedBy"] for t in completed) == ["mia", "vic"]


# A bare container: no login name in the environment and no passwd entry for the user id.
NO_USER = ("import pwd, runpy\n"
           "def unknown(uid): raise KeyError(f'getpwuid(): uid not found: {uid}')\n"
           "pwd.getpwuid = unknown\n"
           "runpy.run_module('plait', run_name='__main__')\n")  # fmt: skip


def plait_without_a_user(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    names = {"LOGNAME", "USER", "LNAME", "USERNAME"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_") and k not in names}
    return subprocess.run([sys.executable, "-c", NO_USER, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


async def test_completing_without_a_user_name_records_the_user_id(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = approvals(db)
    async with engine:
        handle = await engine.start("publish", "handbook")
        await wait_status(engine, handle.id, "waiting")
        [task] = (await engine.tasks.find("default")).items
    done = plait_without_a_user("tasks", "complete", task.id, "--decision", "publish",
                                "--as-admin", "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["completedBy"] == f"uid:{os.getuid()}"
