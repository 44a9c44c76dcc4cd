"""``plait mcp`` on stdio, spawned as the reference SDK's client spawns a server: the key comes
from PLAIT_API_KEY, ``--read-only`` offers no changing tool, and without a key the server does
not start unless told to administer a local SQLite file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plait import Engine
from tests.mcp import flows
from tests.mcp.conftest import Local, data, problem

pytestmark = pytest.mark.xdist_group("heavy")


async def test_the_issue_over_stdio(local: Local) -> None:
    async with local.session(local.keys["editor"], "--worker") as session:
        await flows.list_tools(session)
        await flows.query_workflows(session)
        run = await flows.author_and_run(session, "greet")
        await flows.diagnose(session, run["$id"], "greet")
        await flows.bad_definition(session)
        workflow = run["workflowId"]
        document = await session.read_resource(f"plait://workflows/{workflow}")
        assert '"name":"greet"' in document.contents[0].text  # type: ignore[union-attr]
        schema = await session.read_resource("plait://schema/definition")
        assert '"steps"' in schema.contents[0].text  # type: ignore[union-attr]
        prompts = {p.name for p in (await session.list_prompts()).prompts}
        assert prompts == {"debug-failed-run", "write-workflow"}
        prompt = await session.get_prompt("debug-failed-run", {"run": run["$id"]})
        assert run["$id"] in prompt.messages[0].content.text  # type: ignore[union-attr]
    async with local.session(local.keys["viewer"]) as viewer:
        await flows.viewer_refused(viewer, workflow, run["$id"])


async def test_complete_a_human_task_over_stdio(local: Local) -> None:
    def connect(key: str | None):  # type: ignore[no-untyped-def]
        return local.session(key, "--worker")

    await flows.complete_task(connect, local.keys)


async def test_read_only_lists_no_changing_tool(local: Local) -> None:
    async with local.session(local.keys["admin"], "--read-only") as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert names == flows.READING
        assert not names & flows.CHANGING
        refused = await session.call_tool("create_workflow", {"definition": flows.greeting("x")})
        assert refused.is_error
        assert data(await session.call_tool("query", {"type": "Workflow"}))["items"] == []


async def test_local_admin_acts_as_an_admin_audited_as_mcp(local: Local) -> None:
    async with local.session(None, "--local-admin", "--org", "acme") as session:
        created = data(
            await session.call_tool("create_workflow", {"definition": flows.greeting("mine")})
        )
        assert created["name"] == "mine"
        problem(await session.call_tool("query", {"type": "Run", "id": "run_x"}), 404)
    engine = Engine(local.db)
    try:
        trail = await engine.audit.list("acme")
    finally:
        await engine.close()
    entry = next(e for e in trail.items if e.verb == "create")
    assert entry.actor.interface == "mcp" and entry.actor.role == "admin"
    assert entry.actor.key is None


def test_no_key_no_server(local: Local) -> None:
    base = [sys.executable, "-m", "plait", "mcp", "--db", local.db]
    env = local.parameters(None).env
    refused = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)  # fmt: skip
    assert refused.returncode == 2 and "PLAIT_API_KEY" in refused.stderr
    bad = subprocess.run(
        base,
        env={**(env or {}), "PLAIT_API_KEY": "plait_nope_nope"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert bad.returncode == 2 and "invalid or revoked" in bad.stderr
    remote = subprocess.run(
        [*base[:4], "--db", "postgresql://nobody@127.0.0.1:1/x", "--local-admin"], env=env,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert remote.returncode == 2 and "local SQLite" in remote.stderr
