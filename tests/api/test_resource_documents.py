"""One resource, one document: ``plait workflows get ID --json``, ``plait tasks get ID --json``
and ``plait events get ID --json`` print exactly what ``GET /~{org}/workflows/{id}``,
``/tasks/{id}`` and ``/events/{id}`` answer (and the listings their pages); the event a run
sees and the data of the ``HumanTask.*`` events are those same documents. On every backend,
through a real ``plait`` process on the API's own database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from plait import Engine
from plait.resources.events import Event
from plait.resources.tasks import Task
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer
from tests.integration.test_service_cli import data, plait

SIGN_OFF = {
    "name": "Sign off",
    "triggerEvent": "Document.written",
    "steps": [
        {"id": "sign", "type": "human-task", "assignTo": "input.owner", "timeout": "1h",
         "description": "{{ 'Please sign ' + input.title }}"},
    ],
}  # fmt: skip


def shell(url: str, tmp_path: Path, *args: str) -> Any:
    """``plait ARGS --org acme --json --db URL``, parsed."""
    return data(plait(*args, "--org", "acme", "--json", "--db", url, cwd=tmp_path))


async def open_task(engine: Engine, client: httpx.AsyncClient, keys: Keys) -> tuple[str, str]:
    """Store and activate SIGN_OFF, emit its trigger over HTTP and let the run open its task:
    ``(event id, task id)``."""
    created = await engine.workflows.create("acme", SIGN_OFF)
    await engine.workflows.activate("acme", created.id)
    body = {"type": "Document.written", "data": {"owner": "ann", "title": "the handbook"}}
    emitted = await client.post("/~acme/events", headers=bearer(keys["acme"]["runner"]), json=body)
    assert emitted.status_code == 202, emitted.text
    found: list[str] = []

    async def opened() -> bool:
        found[:] = [t.id for t in (await engine.tasks.find("acme", assignee="ann")).items]
        return bool(found)

    async with engine:
        await assert_eventually(opened)
    return str(emitted.json()["$id"]), found[0]


async def test_workflow_task_and_event_documents_are_the_rest_documents(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    event_id, task_id = await open_task(engine, client, keys)
    workflow_id = (await engine.workflows.get("acme", "Sign off")).id
    headers = bearer(keys["acme"]["viewer"])
    url = engine.settings.database_url

    async def get(path: str) -> Any:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    workflow = await get(f"/~acme/workflows/{workflow_id}")
    assert shell(url, tmp_path, "workflows", "get", workflow_id) == workflow
    assert shell(url, tmp_path, "workflows", "list") == await get("/~acme/workflows")
    task = await get(f"/~acme/tasks/{task_id}")
    assert shell(url, tmp_path, "tasks", "get", task_id) == task
    assert shell(url, tmp_path, "tasks", "list") == await get("/~acme/tasks")
    event = await get(f"/~acme/events/{event_id}")
    assert shell(url, tmp_path, "events", "get", event_id) == event
    assert shell(url, tmp_path, "events", "list") == await get("/~acme/events")

    assert workflow["$type"] == "Workflow" and workflow["status"] == "Activated"
    assert task["$type"] == "HumanTask" and task["description"] == "Please sign the handbook"
    assert event["$type"] == "Event" and event["data"] == {"owner": "ann", "title": "the handbook"}
    for stamp in (workflow["createdAt"], task["createdAt"], task["dueAt"], event["createdAt"]):
        assert stamp.endswith("Z"), stamp
    other = plait("events", "get", event_id, "--org", "globex", "--json", "--db", url,
                  cwd=tmp_path)  # fmt: skip
    assert other.returncode == 3  # another organization's event is not found


async def test_runs_and_task_events_carry_the_resources_documents(
    engine: Engine, client: httpx.AsyncClient, keys: Keys
) -> None:
    event_id, task_id = await open_task(engine, client, keys)
    headers = bearer(keys["acme"]["viewer"])
    event = (await client.get(f"/~acme/events/{event_id}", headers=headers)).json()
    task = (await client.get(f"/~acme/tasks/{task_id}", headers=headers)).json()
    run = (await client.get(f"/~acme/runs/{task['runId']}", headers=headers)).json()
    assert run["event"] == event and run["input"] == event["data"]

    [created] = (await engine.events.find("acme", type="HumanTask.created")).items
    assert created.data == {**task, "taskId": task_id}

    store = await engine.deps.store()
    record = await store.get_event("acme", event_id)
    task_record = await store.get_task("acme", task_id)
    assert record is not None and task_record is not None
    assert Event.of(record).wire() == event and Task.of(task_record).wire() == task
