"""MCP over streamable HTTP at ``/mcp`` of a real server (create_app with a worker under
uvicorn), with the reference SDK's client, on SQLite and PostgreSQL: every item the issue asks
to show, the API key of each request (401 without one, 400 in the query string), and changes
audited as the key's through interface ``mcp``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx2
import pytest

from plait import Engine
from plait.testing import assert_eventually
from tests.mcp import flows
from tests.mcp.conftest import ORG, Served, data, free_port, problem

pytestmark = pytest.mark.xdist_group("heavy")


async def test_list_author_trigger_and_read_the_run(served: Served) -> None:
    async with served.session(served.keys["editor"]) as session:
        await flows.list_tools(session)
        run = await flows.author_and_run(session)
        assert run["output"] is not None or run["status"] == "succeeded"
        await flows.diagnose(session, run["$id"], "greet")
        await flows.bad_definition(session)
        resource = await session.read_resource(f"plait://runs/{run['$id']}")
        assert f'"$id":"{run["$id"]}"' in resource.contents[0].text  # type: ignore[union-attr]


async def test_query_activated_workflows_by_last_run(served: Served) -> None:
    async with served.session(served.keys["editor"]) as session:
        await flows.query_workflows(session)


async def test_complete_a_human_task(served: Served) -> None:
    await flows.complete_task(served.session, served.keys)


async def test_a_viewer_is_refused_every_change_and_the_refusals_are_audited(
    served: Served,
) -> None:
    engine = served.engine
    async with served.session(served.keys["editor"]) as editor:
        run = await flows.author_and_run(editor)
        workflow = run["workflowId"]
    before = await engine.workflows.find(ORG)
    async with served.session(served.keys["viewer"]) as viewer:
        await flows.viewer_refused(viewer, workflow, run["$id"])
    after = await engine.workflows.find(ORG)
    assert [w.wire() for w in after.items] == [w.wire() for w in before.items]
    trail = await engine.audit.list(ORG, limit=200)
    denied = [e for e in trail.items if e.result == "denied"]
    assert len(denied) == len(flows.CHANGING)
    assert {(e.actor.interface, e.actor.role) for e in denied} == {("mcp", "viewer")}
    made = [e for e in trail.items if e.result == "ok" and e.verb == "create"]
    assert made and (made[0].actor.interface, made[0].actor.role) == ("mcp", "editor")


async def test_each_request_needs_a_valid_key(served: Served) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        none = await http.post(f"{served.url}/mcp", json={})
        assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
        assert none.json()["detail"].startswith("Send an API key")
        wrong = await http.post(f"{served.url}/mcp", json={},
                                headers={"Authorization": "Bearer plait_nope_nope"})  # fmt: skip
        assert wrong.status_code == 401
        query = await http.post(
            f"{served.url}/mcp?key=x",
            json={},
            headers={"Authorization": f"Bearer {served.keys['admin']}"},
        )
        assert query.status_code == 400
    await served.engine.keys.revoke(ORG, served.keys["viewer"].split("_")[1])
    async with httpx2.AsyncClient(timeout=10) as http:
        revoked = await http.post(
            f"{served.url}/mcp",
            json={},
            headers={"Authorization": f"Bearer {served.keys['viewer']}"},
        )
        assert revoked.status_code == 401


async def test_a_session_answers_only_the_key_that_opened_it(served: Served) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}}  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    async with httpx2.AsyncClient(timeout=10) as http:
        opened = await http.post(f"{served.url}/mcp", json=initialize, headers={
            **accept, "Authorization": f"Bearer {served.keys['editor']}"})  # fmt: skip
        assert opened.status_code == 200, opened.text
        session = opened.headers["mcp-session-id"]
        other = await http.post(f"{served.url}/mcp", json=listing, headers={
            **accept, "Authorization": f"Bearer {served.keys['admin']}",
            "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18"})  # fmt: skip
        assert other.status_code == 404
        own = await http.post(f"{served.url}/mcp", json=listing, headers={
            **accept, "Authorization": f"Bearer {served.keys['editor']}",
            "Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-06-18"})  # fmt: skip
        assert own.status_code == 200 and "query" in own.text


async def test_a_key_acts_in_its_own_organization(served: Served) -> None:
    async with served.session(served.keys["editor"]) as acme:
        run = await flows.author_and_run(acme)
    async with served.session(served.keys["globex"]) as globex:
        assert data(await globex.call_tool("query", {"type": "Workflow"}))["items"] == []
        problem(await globex.call_tool("query", {"type": "Run", "id": run["$id"]}), 404)
        problem(await globex.call_tool("cancel_run", {"run": run["$id"]}), 404)


DOOR = {
    "name": "door",
    "initial": "closed",
    "states": {"closed": {"on": {"OPEN": "open"}}, "open": {"on": {"CLOSE": "closed"}}},
}


async def test_query_state_machine_instances(served: Served) -> None:
    """A state machine's instances, a page (the machine named in the filter) and one by
    ``workflow/key``."""
    async with served.session(served.keys["editor"]) as session:
        door = data(await session.call_tool("create_workflow", {"definition": DOOR}))
        data(await session.call_tool("activate_workflow", {"workflow": door["$id"]}))
        await served.engine.machines.send(ORG, "door", "front", "OPEN")

        async def opened() -> bool:
            one = data(await session.call_tool("query", {"type": "MachineInstance",
                                                         "id": "door/front"}))  # fmt: skip
            return bool(one["state"] == "open")

        await assert_eventually(opened, timeout=30)
        page = data(
            await session.call_tool(
                "query", {"type": "MachineInstance", "filter": {"workflow": "door"}}
            )
        )
        assert [i["key"] for i in page["items"]] == ["front"]
        by_key = data(
            await session.call_tool(
                "query", {"type": "MachineInstance", "id": "front", "filter": {"workflow": "door"}}
            )
        )
        assert by_key["key"] == "front"
        unnamed = problem(await session.call_tool("query", {"type": "MachineInstance"}), 422)
        assert [e["path"] for e in unnamed["errors"]] == ["$.filter.workflow"]


async def test_plait_serve_serves_mcp(tmp_path: Path) -> None:
    """The CLI's server, a child process: ``/mcp`` is there beside the REST API."""
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = Engine(db)
    try:
        key = (await engine.keys.create(ORG, "viewer")).key
    finally:
        await engine.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    with (tmp_path / "serve.log").open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plait", "serve", "--port", str(port), "--db", db,
            stdout=log, stderr=asyncio.subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            served = Served(engine, f"http://127.0.0.1:{port}", {})

            async def listening() -> bool:
                assert child.returncode is None, (tmp_path / "serve.log").read_text()
                try:
                    async with httpx2.AsyncClient(timeout=1) as http:
                        return (await http.get(f"{served.url}/healthz")).status_code == 200
                except httpx2.TransportError:
                    return False

            await assert_eventually(listening, timeout=60, interval=0.1)
            async with served.session(key) as session:
                names = {t.name for t in (await session.list_tools()).tools}
                assert names == flows.CHANGING | flows.READING
                assert data(await session.call_tool("query", {"type": "Run"}))["items"] == []
        finally:
            child.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(child.wait(), 30)
            assert code == 0, (tmp_path / "serve.log").read_text()


async def test_arguments_outside_a_tools_schema_come_back_as_a_problem(served: Served) -> None:
    async with served.session(served.keys["viewer"]) as session:
        result = await session.call_tool("query", {"type": "Workflow", "limit": 0})
        found = problem(result, 422)
        assert [e["path"] for e in found["errors"]] == ["$.limit"]
        result = await session.call_tool("query", {"type": "Nonsense"})
        assert problem(result, 422)["errors"][0]["path"] == "$.type"


@pytest.mark.mcp_read_only
async def test_a_read_only_server_lists_no_changing_tool_over_http(served: Served) -> None:
    async with served.session(served.keys["admin"]) as session:
        listed = {tool.name for tool in (await session.list_tools()).tools}
        assert listed == flows.READING
        refused = await session.call_tool("emit_event", {"type": "Deal.won", "data": {}})
        assert refused.is_error
