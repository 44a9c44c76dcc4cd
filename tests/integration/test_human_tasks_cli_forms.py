"""The command line on waiting runs: a form task answered with ``--data`` (refused when it does
not fit), cancelling a waiting run records who did it, and keys bound to a person."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plait import Context, Engine
from tests.integration.helpers import wait_status
from tests.integration.test_human_tasks_cli import plait

FORM = {"type": "object", "required": ["score"],
        "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}}}  # fmt: skip


def survey(db: str) -> Engine:
    engine = Engine(db)

    @engine.workflow("survey")
    async def ask(ctx: Context) -> Any:
        answer = await ctx.human_task("How was it?", "ann", form=FORM)
        return answer["data"]

    return engine


async def test_a_form_task_from_the_shell(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = survey(db)
    async with engine:
        handle = await engine.start("survey")
        await wait_status(engine, handle.id, "waiting")
        [task] = (await engine.tasks.find("default", assignee="ann")).items

    def complete(answer: str) -> Any:
        return plait("tasks", "complete", task.id, "--data", answer, "--by", "ann",
                     "--db", db, cwd=tmp_path)  # fmt: skip

    too_high = complete('{"score": 9}')
    assert too_high.returncode == 4
    assert "the data does not match the task's form" in too_high.stderr
    assert "9 is greater than the maximum of 5" in too_high.stderr
    missing = complete("{}")
    assert missing.returncode == 4 and "'score' is a required property" in missing.stderr
    not_json = complete("{score")
    assert not_json.returncode != 0 and "--data" in not_json.stderr
    shown = json.loads(plait("tasks", "get", task.id, "--json", "--db", db,
                             cwd=tmp_path).stdout)  # fmt: skip
    assert shown["status"] == "open" and shown["response"] is None

    done = complete('{"score": 4}')
    assert done.returncode == 0, done.stderr
    engine = survey(db)
    async with engine:
        assert await engine.handle(handle.id).result(timeout=10) == {"score": 4}


async def test_cancelling_a_waiting_run_from_the_shell_records_who(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = survey(db)
    async with engine:
        handle = await engine.start("survey")
        await wait_status(engine, handle.id, "waiting")
    out = plait("runs", "cancel", handle.id, "--by", "ops@example.com", "--reason", "obsolete",
                "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    cancelled = json.loads(out.stdout)
    assert cancelled["status"] == "cancelled"
    [entry] = cancelled["history"]
    assert (entry["action"], entry["by"], entry["reason"]) == (
        "cancel", "ops@example.com", "obsolete"
    )  # fmt: skip
    engine = survey(db)
    async with engine:
        [task] = (await engine.tasks.find("default", assignee="ann")).items
    assert task.status == "cancelled"


def test_keys_bound_to_a_person_from_the_shell(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    made = plait("keys", "create", "--org", "acme", "--role", "runner", "--user", "alice",
                 "--json", "--db", db, cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["user"] == "alice" and created["key"].startswith("plait_")
    listed = json.loads(plait("keys", "list", "--org", "acme", "--json", "--db", db,
                              cwd=tmp_path).stdout)  # fmt: skip
    assert [k["user"] for k in listed["items"]] == ["alice"]
    blank = plait("keys", "create", "--role", "runner", "--user", "", "--db", db, cwd=tmp_path)
    assert blank.returncode != 0 and "user must be a non-empty name" in blank.stderr
