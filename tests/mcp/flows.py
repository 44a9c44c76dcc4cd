"""What the MCP server must show (issue 15), written once against a client session and run over
both transports: list the tools; author (validate, test, create, activate) and trigger a
workflow and read its run until it succeeds; query activated workflows by ``lastRunAt`` and get
one by id; complete a human task; a viewer refused every changing tool; a bad definition
answered with its problems and paths."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp import ClientSession
from plait.mcp.tools import TOOLS
from plait.testing import assert_eventually
from tests.mcp.conftest import data, problem, text

Connect = Callable[[str | None], AbstractAsyncContextManager[ClientSession]]

CHANGING = {spec.name for spec in TOOLS if spec.changes}
READING = {spec.name for spec in TOOLS if not spec.changes}


def greeting(name: str) -> dict[str, Any]:
    """A workflow that logs a greeting; it runs with no action to mock."""
    return {
        "name": name,
        "triggerEvent": f"{name}.requested",
        "steps": [{"id": "hello", "type": "function", "function": "log",
                   "input": {"message": "{{ 'hello ' + input.who }}"}}],
    }  # fmt: skip


SIGN_OFF: dict[str, Any] = {
    "name": "sign-off",
    "triggerEvent": "Document.ready",
    "steps": [
        {"id": "sign", "type": "human-task", "title": "{{ 'Sign off ' + input.doc }}",
         "assignTo": "input.owner", "choices": ["approve", "reject"], "timeout": "2d"},
        {"id": "done", "type": "function", "function": "log", "dependsOn": ["sign"],
         "input": {"message": "{{ sign.decision }}"}},
    ],
}  # fmt: skip

BROKEN: dict[str, Any] = {
    "name": "broken",
    "triggerEvent": "Deal.won",
    "steps": [
        {"id": "a", "type": "function", "function": "log", "dependsOn": ["nowhere"]},
        {"id": "a", "type": "function", "function": "log"},
    ],
}


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    return data(await session.call_tool(tool, arguments))


async def list_tools(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == CHANGING | READING
    assert {"query", "validate_workflow", "test_workflow", "definition_schema", "run_timeline",
            "workflow_stats", "list_circuits", "get_costs", "get_retention"} == READING  # fmt: skip
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints is not None and tool.description, name
        assert hints.read_only_hint is (name in READING), name
    assert tools["archive_workflow"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["cancel_run"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["create_workflow"].annotations.destructive_hint is False  # type: ignore[union-attr]
    assert tools["activate_workflow"].annotations.idempotent_hint is True  # type: ignore[union-attr]
    assert tools["trigger_workflow"].annotations.idempotent_hint is False  # type: ignore[union-attr]
    assert tools["trigger_workflow"].annotations.open_world_hint is True  # type: ignore[union-attr]
    assert tools["query"].annotations.open_world_hint is False  # type: ignore[union-attr]
    query = tools["query"].input_schema["properties"]
    assert set(query) == {"type", "id", "filter", "sort", "limit", "cursor"}
    assert "MachineInstance" in query["type"]["enum"]


async def author_and_run(session: ClientSession, name: str = "greet") -> dict[str, Any]:
    """Validate, test, create, activate and trigger a workflow; read its run until it
    succeeds. Returns the run."""
    definition = greeting(name)
    checked = await call(session, "validate_workflow", definition=definition)
    assert checked == {"$type": "Validation", "valid": True, "errors": [], "warnings": []}
    scenario = {"name": "says hello", "input": {"who": "Ann"},
                "expect": {"status": "succeeded", "steps": {"hello": "completed"},
                           "calls": {"log": 1}}}  # fmt: skip
    report = await call(session, "test_workflow", definition=definition, scenarios=[scenario])
    assert report["passed"] is True and report["summary"]["total"] == 1, report
    failing = {**scenario, "name": "expects a failure", "expect": {"status": "failed"}}
    report = await call(session, "test_workflow", definition=definition, scenarios=[failing])
    assert report["passed"] is False and report["results"][0]["failures"], report
    schema = await call(session, "definition_schema")
    assert schema["type"] == "object" and "steps" in schema["properties"]
    created = await call(session, "create_workflow", definition=definition)
    assert created["status"] == "Draft" and created["name"] == name
    activated = await call(session, "activate_workflow", workflow=created["$id"])
    assert activated["status"] == "Activated"
    run = await call(session, "trigger_workflow", workflow=name, input={"who": "Ann"})
    assert run["$type"] == "Run" and run["workflow"] == name
    return await succeeded(session, run["$id"])


async def succeeded(session: ClientSession, run_id: str) -> dict[str, Any]:
    """Read the run (query by id) until it has ended; it must have succeeded."""
    seen: dict[str, Any] = {}

    async def ended() -> bool:
        seen.update(await call(session, "query", type="Run", id=run_id))
        return seen["status"] in ("succeeded", "failed", "cancelled")

    await assert_eventually(ended, timeout=30)
    assert seen["status"] == "succeeded", seen
    return seen


async def query_workflows(session: ClientSession) -> None:
    """Activated workflows sorted by lastRunAt (the last run first), and one by id."""
    for name in ("older", "newer"):
        await author_and_run(session, name)
    page = await call(session, "query", type="Workflow", filter={"status": "Activated"},
                      sort={"lastRunAt": "desc"}, limit=20)  # fmt: skip
    names = [w["name"] for w in page["items"]]
    assert names.index("newer") < names.index("older"), names
    assert all(w["status"] in ("Activated", "Triggered") for w in page["items"])
    ascending = await call(session, "query", type="Workflow", sort="lastRunAt",
                           filter={"status": "Activated"})  # fmt: skip
    names = [w["name"] for w in ascending["items"]]
    assert names.index("older") < names.index("newer"), names
    newer = next(w for w in page["items"] if w["name"] == "newer")
    one = await call(session, "query", type="Workflow", id=newer["$id"])
    assert one["$id"] == newer["$id"] and one["runCount"] == 1 and one["lastRunAt"]
    runs = await call(session, "query", type="Run", filter={"workflow": "newer"})
    assert [r["workflow"] for r in runs["items"]] == ["newer"]
    paged = await call(session, "query", type="Workflow", limit=1)
    assert len(paged["items"]) == 1 and paged["nextCursor"]
    rest = await call(session, "query", type="Workflow", limit=1, cursor=paged["nextCursor"])
    assert rest["items"][0]["$id"] != paged["items"][0]["$id"]
    wrong = problem(await session.call_tool("query", {"type": "Run", "filter": {"name": "x"},
                                                      "sort": "name"}), 422)  # fmt: skip
    assert {e["path"] for e in wrong["errors"]} == {"$.filter.name", "$.sort"}
    missing = problem(await session.call_tool("query", {"type": "Run", "id": "run_nothing"}), 404)
    assert "run_nothing" in missing["detail"]


async def diagnose(session: ClientSession, run_id: str, workflow: str) -> None:
    timeline = await call(session, "run_timeline", run=run_id)
    assert timeline["status"] == "succeeded" and timeline["durationMs"] is not None
    assert [s["key"] for s in timeline["steps"]] == ["hello"]
    assert timeline["steps"][0]["status"] == "completed"
    stats = await call(session, "workflow_stats", workflow=workflow, window="1h")
    assert stats and "error" not in stats


async def complete_task(connect: Connect, keys: dict[str, str]) -> None:
    """An editor stores and starts sign-off for ann; ann's key completes her task; the run
    resumes and succeeds."""
    async with connect(keys["editor"]) as editor:
        workflow = await call(editor, "create_workflow", definition=SIGN_OFF)
        await call(editor, "activate_workflow", workflow=workflow["$id"])
        run = await call(editor, "trigger_workflow", workflow="sign-off",
                         input={"doc": "Q3 report", "owner": "ann"})  # fmt: skip
        found: list[dict[str, Any]] = []

        async def has_task() -> bool:
            page = await call(editor, "query", type="Task",
                              filter={"assignee": "ann", "status": "open"})  # fmt: skip
            found[:] = page["items"]
            return len(found) == 1

        await assert_eventually(has_task, timeout=30)
        task = found[0]
        assert task["title"] == "Sign off Q3 report" and task["runId"] == run["$id"]
        refused = problem(
            await editor.call_tool("complete_task", {"task": task["$id"], "decision": "approve"}),
            403,
        )
        assert refused["errors"] == [] and "ann" in refused["detail"]
    async with connect(keys["ann"]) as ann:
        wrong = problem(
            await ann.call_tool("complete_task", {"task": task["$id"], "decision": "maybe"}), 422
        )
        assert "maybe" in wrong["detail"]
        done = await call(ann, "complete_task", task=task["$id"], decision="approve",
                          comment="looks right")  # fmt: skip
        assert done["status"] == "completed" and done["completedBy"] == "ann"
        await succeeded(ann, run["$id"])
        again = problem(
            await ann.call_tool("complete_task", {"task": task["$id"], "decision": "approve"}), 409
        )
        assert again["type"].endswith("task-not-open")


# A plausible call of every changing tool, each naming a resource that exists.
def changes(workflow: str, run: str) -> dict[str, dict[str, Any]]:
    return {
        "create_workflow": {"definition": greeting("refused")},
        "update_workflow": {"workflow": workflow, "changes": {"description": "x"}},
        "activate_workflow": {"workflow": workflow},
        "pause_workflow": {"workflow": workflow},
        "archive_workflow": {"workflow": workflow},
        "trigger_workflow": {"workflow": workflow},
        "emit_event": {"type": "Deal.won", "data": {}},
        "cancel_run": {"run": run},
        "resume_run": {"run": run},
        "retry_run": {"run": run},
        "fork_run": {"run": run, "step": 1},
        "signal_run": {"run": run, "name": "go"},
        "complete_task": {"task": "task_missing", "decision": "approve"},
        "create_schedule": {"workflow": workflow, "cron": "0 9 * * *"},
        "delete_schedule": {"schedule": "schedule_missing"},
        "clear_step_cache": {"workflow": workflow},
        "reset_circuit": {"name": "payments"},
        "purge_runs": {"older_than": "30d"},
    }


NEEDS = {spec.name: spec.role for spec in TOOLS}


async def viewer_refused(session: ClientSession, workflow: str, run: str) -> None:
    """Every changing tool answers the viewer a tool error naming the role it needs."""
    calls = changes(workflow, run)
    assert set(calls) == CHANGING
    for tool, arguments in calls.items():
        refused = problem(await session.call_tool(tool, arguments), 403)
        needed = NEEDS[tool]
        assert refused["detail"] == f"This needs the {needed} role or above; the key is viewer."
        assert refused["type"] == "urn:plait:problem:forbidden", tool
    # reads are the viewer's
    assert (await call(session, "query", type="Workflow", id=workflow))["$id"] == workflow
    assert (await call(session, "validate_workflow", definition=BROKEN))["valid"] is False


async def bad_definition(session: ClientSession) -> None:
    """A bad definition: validate lists every problem with its path; create refuses it with the
    same problems as a problem document."""
    checked = await call(session, "validate_workflow", definition=BROKEN)
    paths = {e["path"] for e in checked["errors"]}
    assert checked["valid"] is False
    assert "$.steps[0].dependsOn[0]" in paths and any(p.startswith("$.steps[1]") for p in paths)
    refused = problem(await session.call_tool("create_workflow", {"definition": BROKEN}), 422)
    assert refused["type"] == "urn:plait:problem:invalid-definition"
    assert {e["path"] for e in refused["errors"]} == paths
    assert all(e["message"] for e in refused["errors"])
    tested = problem(await session.call_tool("test_workflow", {"definition": BROKEN,
                                                               "scenarios": []}), 422)  # fmt: skip
    assert tested["errors"]
    typed = await session.call_tool("create_workflow", {"definition": "not an object"})
    assert typed.is_error and "definition" in text(typed)
