"""``/~{org}/retention`` and ``POST /~{org}/runs/purge`` on each backend: viewers read the
policies, only admins change them or purge (audited), bad policies and durations are problems
with their path, and a purge's dry run counts what a purge then deletes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer

RUN_ONCE = {"name": "once", "steps": [{"id": "hello", "action": "log",
                                       "input": {"message": "hello"}}]}  # fmt: skip


async def test_viewers_read_and_admins_set_the_policies(
    client: httpx.AsyncClient, keys: Keys, admin: dict[str, str], engine: Engine
) -> None:
    viewer = bearer(keys["acme"]["viewer"])
    shown = await client.get("/~acme/retention", headers=viewer)
    assert shown.status_code == 200, shown.text
    assert shown.json()["default"] == {"maxAgeDays": 30.0, "maxRuns": None, "statuses": {}}
    assert shown.json()["policy"] is None
    body = {"maxAgeDays": 7, "statuses": {"failed": {"maxAgeDays": 90}}}
    for role in ("viewer", "runner", "editor"):
        refused = await client.put("/~acme/retention", headers=bearer(keys["acme"][role]),
                                   json=body)  # fmt: skip
        assert refused.status_code == 403
    put = await client.put("/~acme/retention", headers=admin, json=body)
    assert put.status_code == 200, put.text
    assert put.json()["policy"] == {
        "maxAgeDays": 7.0,
        "maxRuns": None,
        "statuses": {"failed": {"maxAgeDays": 90.0, "maxRuns": None}},
    }
    flow = await client.put("/~acme/retention/workflows/billing", headers=admin,
                            json={"maxRuns": 100})  # fmt: skip
    assert flow.status_code == 200, flow.text
    assert [(w["workflow"], w["policy"]["maxRuns"]) for w in flow.json()["workflows"]] == [
        ("billing", 100)
    ]
    other = await client.get("/~globex/retention", headers=bearer(keys["globex"]["viewer"]))
    assert other.json()["policy"] is None and other.json()["workflows"] == []
    gone = await client.delete("/~acme/retention/workflows/billing", headers=admin)
    assert gone.status_code == 204
    assert (await client.get("/~acme/retention", headers=viewer)).json()["workflows"] == []
    entries = (await engine.audit.list("acme", type="retention")).items
    assert sorted((e.verb, e.resource.id) for e in entries if e.result == "ok") == [
        ("delete", "billing"),
        ("set", "acme"),
        ("set", "billing"),
    ]


async def test_bad_policies_and_durations_are_problems_with_their_path(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for body, path in (({"maxRuns": -1}, "$.body.maxRuns"),
                       ({"statuses": {"lost": {"maxRuns": 1}}}, "$.body.statuses.lost"),
                       ({"maxAge": 3}, "$.body.maxAge")):  # fmt: skip
        refused = await client.put("/~acme/retention", headers=admin, json=body)
        assert refused.status_code == 422, refused.text
        assert path in [e["path"] for e in refused.json()["errors"]] or path in refused.text
    bad = await client.post("/~acme/runs/purge", headers=admin, json={"olderThan": "30x"})
    assert bad.status_code == 422, bad.text
    assert "not a duration" in bad.json()["detail"]
    status = await client.post("/~acme/runs/purge", headers=admin,
                               json={"olderThan": "1d", "statuses": ["done"]})  # fmt: skip
    assert status.status_code == 422 and "not a status" in status.json()["detail"]


async def test_a_dry_run_counts_what_a_purge_then_deletes(
    client: httpx.AsyncClient, keys: Keys, admin: dict[str, str], engine: Engine, app: FastAPI
) -> None:
    await engine.start_worker()
    made = (await client.post("/~acme/workflows", headers=admin, json=RUN_ONCE)).json()
    await client.post(f"/~acme/workflows/{made['$id']}/activate", headers=admin)
    runs = []
    for _ in range(2):
        run = (await client.post(f"/~acme/workflows/{made['$id']}/trigger", headers=admin,
                                 json={"input": {}})).json()  # fmt: skip
        runs.append(run["$id"])
    for run_id in runs:
        await _ended(client, admin, run_id)
    body = {"olderThan": 1e-6, "workflow": "once", "dryRun": True}
    editor = bearer(keys["acme"]["editor"])
    assert (await client.post("/~acme/runs/purge", headers=editor, json=body)).status_code == 403
    dry = await client.post("/~acme/runs/purge", headers=admin, json=body)
    assert dry.status_code == 200, dry.text
    assert dry.json()["runs"] == 2 and dry.json()["dryRun"] is True
    assert (await client.get(f"/~acme/runs/{runs[0]}", headers=admin)).status_code == 200
    done = await client.post("/~acme/runs/purge", headers=admin, json={**body, "dryRun": False})
    assert done.json()["runs"] == 2
    for run_id in runs:
        assert (await client.get(f"/~acme/runs/{run_id}", headers=admin)).status_code == 404
    workflow = (await client.get(f"/~acme/workflows/{made['$id']}", headers=admin)).json()
    assert workflow["runCount"] == 2  # the counters count what happened


async def _ended(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> None:
    async def ended() -> bool:
        got = (await client.get(f"/~acme/runs/{run_id}", headers=admin)).json()
        return got["status"] in ("succeeded", "failed", "cancelled")

    await assert_eventually(ended)


async def test_an_archive_that_cannot_be_written_is_a_problem_and_deletes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    await engine.start_worker()
    made = (await client.post("/~acme/workflows", headers=admin, json=RUN_ONCE)).json()
    await client.post(f"/~acme/workflows/{made['$id']}/activate", headers=admin)
    run = (await client.post(f"/~acme/workflows/{made['$id']}/trigger", headers=admin,
                             json={"input": {}})).json()  # fmt: skip
    await _ended(client, admin, run["$id"])
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    settings = replace(engine.deps.settings, archive=str(blocked / "archive"))
    monkeypatch.setattr(engine.deps, "settings", settings)
    body = {"olderThan": 1e-6, "workflow": "once"}
    refused = await client.post("/~acme/runs/purge", headers=admin, json=body)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "cannot write the archive" in refused.json()["detail"]
    assert "nothing was deleted" in refused.json()["detail"]
    assert (await client.get(f"/~acme/runs/{run['$id']}", headers=admin)).status_code == 200


async def test_a_purge_over_the_api_is_bounded_and_says_more_remain(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from plait.api.routes import retention as route
    from plait.service import retention

    monkeypatch.setattr(retention, "BATCH", 1)
    monkeypatch.setattr(route, "PURGE_BATCHES", 2)
    await engine.start_worker()
    made = (await client.post("/~acme/workflows", headers=admin, json=RUN_ONCE)).json()
    await client.post(f"/~acme/workflows/{made['$id']}/activate", headers=admin)
    for _ in range(3):
        run = (await client.post(f"/~acme/workflows/{made['$id']}/trigger", headers=admin,
                                 json={"input": {}})).json()  # fmt: skip
        await _ended(client, admin, run["$id"])
    body = {"olderThan": 1e-6, "workflow": "once"}
    first = (await client.post("/~acme/runs/purge", headers=admin, json=body)).json()
    assert (first["runs"], first["more"]) == (2, True)
    second = (await client.post("/~acme/runs/purge", headers=admin, json=body)).json()
    assert (second["runs"], second["more"]) == (1, False)
