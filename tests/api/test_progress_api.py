"""A code workflow's ``ctx.progress`` over the REST API and the CLI: visible while the run
waits, recorded once however often the run replays, and announced only when opted in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from plait import Context, Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer
from tests.integration.test_service_cli import data, plait


def register(engine: Engine, *, events: bool = False) -> None:
    @engine.workflow("import", progress_events=events)
    async def import_rows(ctx: Context) -> str:
        ctx.progress(2, 5, "2 of 5 files")
        await ctx.receive("go")
        ctx.progress(5, 5, "all files")
        return "imported"


async def waiting_run(client: httpx.AsyncClient, engine: Engine) -> tuple[str, dict[str, str]]:
    runner = bearer((await engine.keys.create("default", "runner")).key)
    await engine.start_worker()
    handle = await engine.start("import")

    async def waiting() -> bool:
        got = (await client.get(f"/~default/runs/{handle.id}", headers=runner)).json()
        return bool(got["status"] == "waiting")

    await assert_eventually(waiting)
    return handle.id, runner


async def test_code_progress_is_visible_while_the_run_waits(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    register(engine)
    run_id, runner = await waiting_run(client, engine)
    got = (await client.get(f"/~default/runs/{run_id}", headers=runner)).json()
    progress = got["progress"]
    assert {k: progress[k] for k in ("completedSteps", "totalSteps", "fraction", "message")} == {
        "completedSteps": 2,
        "totalSteps": 5,
        "fraction": 0.4,
        "message": "2 of 5 files",
    }
    assert progress["currentStep"] == "receive:go"
    assert "estimatedTimeRemaining" in progress
    sent = await client.post(f"/~default/runs/{run_id}/signals/go", headers=runner, json=1)
    assert sent.status_code == 202
    assert await engine.handle(run_id).result(timeout=10) == "imported"
    got = (await client.get(f"/~default/runs/{run_id}", headers=runner)).json()
    assert got["progress"]["fraction"] == 1.0 and got["progress"]["message"] == "all files"
    assert got["progress"]["estimatedTimeRemaining"] == 0.0
    recorded = [s["key"] for s in got["steps"] if s["kind"] == "progress"]
    assert recorded == ["progress", "progress#2"]  # the replay after the signal added none
    listed = (await client.get("/~default/runs", headers=runner)).json()
    assert listed["items"][0]["progress"] is None
    page = await engine.events.find("default", type="WorkflowProgress.updated")
    assert page.items == []  # not opted in


async def test_an_opted_in_code_workflow_announces_each_report_once(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    register(engine, events=True)
    run_id, runner = await waiting_run(client, engine)
    await client.post(f"/~default/runs/{run_id}/signals/go", headers=runner, json=1)
    await engine.handle(run_id).result(timeout=10)

    async def announced() -> list[dict[str, Any]]:  # emitted beside the run, not inside it
        page = await engine.events.find("default", type="WorkflowProgress.updated")
        return [event.data for event in reversed(page.items)]

    await assert_eventually(lambda: _count_is(announced, 2))
    reports = await announced()
    assert [(r["completedSteps"], r["totalSteps"], r["message"]) for r in reports] == [
        (2, 5, "2 of 5 files"),
        (5, 5, "all files"),
    ]
    assert {r["runId"] for r in reports} == {run_id}


async def _count_is(read: Any, count: int) -> bool:
    return len(await read()) == count


def test_bad_progress_fails_the_run_with_its_reason(engine: Engine) -> None:
    @engine.workflow("over")
    async def over(ctx: Context) -> None:
        ctx.progress(6, 5)

    async def main() -> str:
        async with engine:
            handle = await engine.start("over")
            try:
                await handle.result(timeout=10)
            except Exception as exc:
                return str(exc)
        return "no error"

    assert "done (6) is more than total (5)" in asyncio.run(main())


STORED = {"name": "Stored", "progressEvents": True, "triggerEvent": "Thing.done", "steps": [
    {"id": "greet", "action": "log", "mapping": {"message": "'hello'"}},
    {"id": "again", "action": "log", "mapping": {"message": "'again'"}, "dependsOn": ["greet"]},
]}  # fmt: skip


async def test_a_stored_definition_counts_its_steps_over_rest_and_the_cli(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    created = await engine.workflows.create("acme", STORED)
    await engine.workflows.activate("acme", created.id)
    async with engine:
        body = {"type": "Thing.done", "data": {}}
        runner = bearer(keys["acme"]["runner"])
        emitted = await client.post("/~acme/events", headers=runner, json=body)
        [run_id] = emitted.json()["runs"]
        await engine.runs.handle("acme", run_id).result(timeout=10)
    headers = bearer(keys["acme"]["viewer"])
    over_http = (await client.get(f"/~acme/runs/{run_id}", headers=headers)).json()
    assert over_http["progress"] == {"completedSteps": 2, "totalSteps": 2, "fraction": 1.0,
                                     "currentStep": None, "message": None,
                                     "estimatedTimeRemaining": 0.0}  # fmt: skip
    url = engine.settings.database_url
    shell = data(plait("runs", "get", run_id, "--org", "acme", "--json", "--db", url, cwd=tmp_path))
    assert shell["progress"] == over_http["progress"]

    async def announced() -> list[str]:
        page = await engine.events.find("acme", type="WorkflowProgress.updated")
        return [event.data["step"] for event in reversed(page.items)]

    await assert_eventually(lambda: _count_is(announced, 2))
    assert await announced() == ["greet", "again"]


async def test_a_progress_events_flag_that_is_not_a_boolean_is_a_problem_at_its_path(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    body = {**STORED, "name": "Bad", "progressEvents": "yes"}
    created = await client.post("/~acme/workflows", headers=bearer(keys["acme"]["admin"]),
                                json=body)  # fmt: skip
    assert 400 <= created.status_code < 500, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    assert "$.progressEvents" in created.text and "must be true or false" in created.text
