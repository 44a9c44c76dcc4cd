"""One run, one document: ``plait runs get ID --json`` prints exactly what ``GET
/~{org}/runs/{id}`` answers, and ``plait runs list --json`` what ``GET /~{org}/runs`` does; a
definition run started by an event shows the event's data as its ``input`` and the event beside
it. On every backend, through a real ``plait`` process on the API's own database."""

from __future__ import annotations

from pathlib import Path

import httpx

from plait import Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer
from tests.integration.test_service_cli import data, plait

GREETER = {
    "name": "Greeter",
    "triggerEvent": "Order.placed",
    "steps": [
        {"id": "greet", "action": "log", "mapping": {"message": "'hello ' + input.name"}},
    ],
}


async def test_runs_get_json_is_the_rest_document(
    engine: Engine, client: httpx.AsyncClient, keys: Keys, tmp_path: Path
) -> None:
    headers = bearer(keys["acme"]["viewer"])
    created = await engine.workflows.create("acme", GREETER)
    await engine.workflows.activate("acme", created.id)
    async with engine:
        runner = bearer(keys["acme"]["runner"])
        body = {"type": "Order.placed", "data": {"name": "ada"}}
        emitted = await client.post("/~acme/events", headers=runner, json=body)
        assert emitted.status_code in (200, 201, 202), emitted.text
        [run_id] = emitted.json()["runs"]
        run = engine.runs.handle("acme", run_id)
        await run.result(timeout=10)

        async def settled() -> bool:  # the workflow's counters move after the run ends
            return (await engine.runs.get("acme", run_id)).status == "succeeded"

        await assert_eventually(settled)
    over_http = (await client.get(f"/~acme/runs/{run_id}", headers=headers)).json()
    listed = (await client.get("/~acme/runs", headers=headers)).json()

    url = engine.settings.database_url
    shell = data(plait("runs", "get", run_id, "--org", "acme", "--json", "--db", url, cwd=tmp_path))
    shell_list = data(plait("runs", "list", "--org", "acme", "--json", "--db", url, cwd=tmp_path))
    assert shell == over_http
    assert shell_list == listed and [r["$id"] for r in listed["items"]] == [run_id]
    assert over_http["input"] == {"name": "ada"}
    assert over_http["event"]["type"] == "Order.placed"
    assert over_http["event"]["data"] == {"name": "ada"}
    assert over_http["organization"] == "acme" and over_http["trigger"] == "event"
    assert [s["key"] for s in over_http["steps"]] == ["greet"]

    other = plait("runs", "get", run_id, "--org", "globex", "--json", "--db", url, cwd=tmp_path)
    assert other.returncode == 3 and run_id in other.stderr  # another org's run is not found
