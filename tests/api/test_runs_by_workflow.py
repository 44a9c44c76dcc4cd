"""Finding runs by their workflow: `GET /~{org}/runs?workflow=`, `engine.runs.find(workflow=)` and
`plait runs list --workflow` take the workflow's `$id` as well as its name."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from plait import Engine
from tests.api.conftest import WELCOME
from tests.integration.test_service_cli import plait

OTHER = {**WELCOME, "name": "Other"}


async def test_runs_are_found_by_workflow_id_or_name(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    welcome = await engine.workflows.create("acme", WELCOME)
    other = await engine.workflows.create("acme", OTHER)
    started = await engine.workflows.trigger("acme", welcome.id, {"name": "Ada"})
    await engine.workflows.trigger("acme", other.id, {"name": "Bo"})
    for ref in (welcome.id, welcome.name):
        found = await client.get("/~acme/runs", headers=admin, params={"workflow": ref})
        assert found.status_code == 200, found.text
        assert [run["$id"] for run in found.json()["items"]] == [started.id], ref
        page = await engine.runs.find("acme", workflow=ref)
        assert [run.id for run in page.items] == [started.id]
    missing = await client.get("/~acme/runs", headers=admin,
                               params={"workflow": "workflow_00000000"})  # fmt: skip
    assert missing.json()["items"] == []
    theirs = await engine.runs.find("globex", workflow=welcome.id)
    assert theirs.items == []  # an id of another organization names nothing here


def test_plait_runs_list_takes_the_workflow_id(tmp_path: Path) -> None:
    (tmp_path / "welcome.json").write_text(json.dumps(WELCOME))
    made = plait("workflows", "create", "welcome.json", "--json", cwd=tmp_path)
    workflow = json.loads(made.stdout)["$id"]
    run = json.loads(plait("workflows", "trigger", workflow, "--json", cwd=tmp_path).stdout)
    listed = plait("runs", "list", "--workflow", workflow, "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [r["$id"] for r in json.loads(listed.stdout)["items"]] == [run["$id"]]
