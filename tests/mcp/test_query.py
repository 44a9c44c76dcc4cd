"""The one query (``engine.query``) that POST /~{org}/query and the MCP server's query tool
share: ``{type, id}`` answers one resource, and every type pages with its REST list's
filters."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait import Engine
from plait.api import create_app
from plait.errors import InvalidParameter
from plait.service.query import QUERY_TYPES, QueryInvalid
from tests.backends import BACKENDS, database_url
from tests.mcp.flows import SIGN_OFF, greeting


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    with database_url(request.param, tmp_path) as url:
        engine = Engine(url)
        try:
            yield engine
        finally:
            await engine.close()


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(engine, console=False)
    async with app.router.lifespan_context(app):
        key = (await engine.keys.create("acme", "viewer")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://plait.test",
            headers={"Authorization": f"Bearer {key}"},
        ) as client:
            yield client


async def query(client: httpx.AsyncClient, body: dict[str, Any], status: int = 200) -> Any:
    response = await client.post("/~acme/query", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_one_resource_of_each_type_by_id(engine: Engine, client: httpx.AsyncClient) -> None:
    workflow = await engine.workflows.create("acme", greeting("greet"))
    run = await engine.workflows.trigger("acme", workflow.id, {"who": "Ann"})
    event = await engine.events.emit("acme", "Ping", {"n": 1})
    schedule = await engine.schedules.create("acme", {"workflow": "greet", "cron": "0 9 * * *"})
    hook = await engine.webhooks.create(
        "acme", {"name": "stripe", "secret": "s3cret-s3cret-s3cret", "eventType": "Paid"}
    )
    found = await query(client, {"type": "Workflow", "id": workflow.id})
    assert found["$id"] == workflow.id and found["name"] == "greet"
    assert (await query(client, {"type": "Workflow", "id": "greet"}))["$id"] == workflow.id
    assert (await query(client, {"type": "Run", "id": run.id}))["input"] == {"who": "Ann"}
    assert (await query(client, {"type": "Event", "id": event.id}))["data"] == {"n": 1}
    assert (await query(client, {"type": "Schedule", "id": schedule.id}))["$id"] == schedule.id
    got = await query(client, {"type": "Webhook", "id": "stripe"})
    assert got["name"] == hook.name and "secret" not in got
    missing = await query(client, {"type": "Run", "id": "run_nothing"}, 404)
    assert "run_nothing" in missing["detail"]
    other = await engine.workflows.create("globex", greeting("theirs"))
    await query(client, {"type": "Workflow", "id": other.id}, 404)


async def test_tasks_schedules_webhooks_and_instances_page_with_their_filters(
    engine: Engine, client: httpx.AsyncClient
) -> None:
    await engine.workflows.create("acme", SIGN_OFF)
    await engine.workflows.create("acme", greeting("greet"))
    await engine.schedules.create("acme", {"workflow": "greet", "cron": "@daily"})
    tasks = await query(client, {"type": "Task", "filter": {"assignee": "ann", "status": "open"}})
    assert tasks == {"items": [], "nextCursor": None}
    schedules = await query(client, {"type": "Schedule", "filter": {"workflow": "greet"}})
    assert [s["workflow"] for s in schedules["items"]] == [schedules["items"][0]["workflow"]]
    none = await query(client, {"type": "Schedule", "filter": {"workflow": "sign-off"}})
    assert none["items"] == []
    assert (await query(client, {"type": "Webhook"}))["items"] == []
    needs = await query(client, {"type": "MachineInstance"}, 422)
    assert [e["path"] for e in needs["errors"]] == ["$.body.filter.workflow"]
    machine = await query(client, {"type": "MachineInstance", "filter": {"workflow": "greet"}},
                          409)  # fmt: skip
    assert machine["type"].endswith("not-a-state-machine")


async def test_runs_take_the_filters_of_their_list(
    engine: Engine, client: httpx.AsyncClient
) -> None:
    workflow = await engine.workflows.create("acme", greeting("greet"))
    run = await engine.workflows.trigger("acme", workflow.id, {"who": "Ann"})
    listed = (await client.get("/~acme/runs", params={"trigger": run.trigger})).json()
    found = await query(client, {"type": "Run", "filter": {"trigger": run.trigger,
                                                           "createdAfter": "2020-01-01T00:00:00Z",
                                                           "search": run.id[:8]}})  # fmt: skip
    assert [r["$id"] for r in found["items"]] == [r["$id"] for r in listed["items"]] == [run.id]
    later = await query(client, {"type": "Run", "filter": {"createdBefore": 1.0}})
    assert later["items"] == []
    bad = await query(client, {"type": "Run", "filter": {"createdAfter": "yesterday"}}, 422)
    assert [e["path"] for e in bad["errors"]] == ["$.body.filter.createdAfter"]
    unknown = await query(client, {"type": "Run", "filter": {"outcome": "great"}}, 422)
    assert "great" in unknown["detail"]


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"type": "Run", "id": "run_x", "filter": {"status": "failed"}}, ["$.body.filter.status"]),
        ({"type": "Workflow", "id": "w", "sort": "-name"}, ["$.body.sort"]),
        ({"type": "Event", "id": "e", "cursor": "abc"}, ["$.body.cursor"]),
        ({"type": "Task", "filter": {"workflow": "x"}}, ["$.body.filter.workflow"]),
        ({"type": "Webhook", "filter": {"name": "x"}}, ["$.body.filter.name"]),
        ({"type": "Schedule", "sort": "-createdAt"}, ["$.body.sort"]),
        ({"type": "MachineInstance", "id": "no-slash"}, ["$.body.id"]),
    ],
)
async def test_queries_that_cannot_be_answered_are_422_with_their_paths(
    client: httpx.AsyncClient, body: dict[str, Any], paths: list[str]
) -> None:
    problem = await query(client, body, 422)
    assert [e["path"] for e in problem["errors"]] == paths


async def test_the_service_names_each_problem_unrooted(engine: Engine) -> None:
    with pytest.raises(QueryInvalid) as raised:
        await engine.query.answer("acme", "Deal", limit=5)
    assert [(p.path, p.message.split(";")[0]) for p in raised.value.problems] == [
        ("$.type", "unknown type 'Deal'")
    ]
    with pytest.raises(QueryInvalid) as raised:
        await engine.query.answer("acme", "Run", filter={"status": 3}, sort={"a": "b"}, limit=0)
    assert sorted(p.path for p in raised.value.problems) == [
        "$.filter.status", "$.limit", "$.sort"
    ]  # fmt: skip
    assert set(QUERY_TYPES) == {"Workflow", "Run", "Event", "Task", "Schedule", "Webhook",
                                "MachineInstance"}  # fmt: skip


def test_import_plait_loads_no_mcp(tmp_path: Path) -> None:
    """Neither ``import plait`` nor making the app loads the SDK (the app loads it once it
    starts, in a thread)."""
    code = (
        "import sys\n"
        "from plait import Engine\n"
        "from plait.api import create_app\n"
        f"create_app(Engine('sqlite:///{tmp_path / 'x.db'}'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=60)  # fmt: skip
    assert shown.stdout.strip() == "[]"


def test_the_docs_list_every_tool_with_its_role_and_hints() -> None:
    from plait.mcp.tools import TOOLS

    page = (Path(__file__).parents[2] / "docs" / "mcp.md").read_text(encoding="utf-8")
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[1] in ROLES_OF_DOCS:
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    expected = {}
    for spec in TOOLS:
        hints = ["destructive"] if spec.changes and spec.destructive else []
        hints += ["idempotent"] if spec.changes and spec.idempotent else []
        expected[spec.name] = (spec.role, "read-only" if not spec.changes else
                               ", ".join(hints) or "-")  # fmt: skip
    assert rows == expected


ROLES_OF_DOCS = ("viewer", "runner", "editor", "admin")


async def test_a_refused_filter_value_is_named_at_its_path_in_the_filter(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'q.db'}")
    async with engine:
        with pytest.raises(InvalidParameter) as refused:
            await engine.query.answer("acme", "Run", filter={"status": "lost"})
        assert refused.value.path == "$.filter.status"
        assert "unknown run status 'lost'" in str(refused.value)
        with pytest.raises(InvalidParameter) as refused:
            await engine.query.answer("acme", "Task", filter={"status": "bogus"})
        assert refused.value.path == "$.filter.status"
