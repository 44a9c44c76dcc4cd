"""The run resource of every run can be built, whatever the run was given, and a run shows the
same ``event`` however it is read: by itself or in a listing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from plait import Context, Engine
from tests.integration.test_service_cli import data, plait

MakeEngine = Callable[..., Engine]

KID = {
    "name": "Kid",
    "triggerEvent": "Kid.go",
    "steps": [{"id": "echo", "type": "function", "function": "echo", "input": "{{ input }}"}],
}  # fmt: skip

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def setup(engine: Engine) -> None:
    @engine.action("echo")
    def echo(value: Any) -> Any:
        return value

    @engine.workflow("parent")
    async def parent(ctx: Context) -> Any:
        return await ctx.child("Kid", {"a": 1}, {"b": 2})


async def test_a_definition_child_given_two_arguments_breaks_no_listing(
    make_engine: MakeEngine, tmp_path: Any
) -> None:
    engine = make_engine()
    setup(engine)
    created = await engine.workflows.create("default", KID)
    await engine.workflows.activate("default", created.id)
    async with engine:
        handle = await engine.start("parent")
        assert await handle.result(timeout=10) == {"echo": {"a": 1}}
    kids = (await engine.list_runs(workflow="Kid")).items
    assert len(kids) == 1
    kid = await engine.handle(kids[0].id).info()
    # Not started by an event: its arguments as stored, and no event.
    assert kid.trigger == "child" and kid.event is None
    assert kid.input == [{"a": 1}, {"b": 2}]
    assert kids[0].event is None and kids[0].input == kid.input
    listed = data(plait("runs", "list", "--json", "--db", engine.settings.database_url,
                        cwd=tmp_path))  # fmt: skip
    assert {run["$id"] for run in listed["items"]} >= {kid.id, handle.id}


async def test_a_run_read_by_itself_shows_its_event_and_a_listing_shows_none(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    setup(engine)

    @engine.workflow("greet", trigger="Customer.created")
    async def greet(ctx: Context, customer: dict[str, Any]) -> str:
        return f"hello {customer['name']}"

    created = await engine.workflows.create("default", KID)
    await engine.workflows.activate("default", created.id)
    async with engine:
        await engine.events.emit("default", "Customer.created", {"name": "ann"})
        await engine.events.emit("default", "Kid.go", {"item": 1})
        for run in (await engine.list_runs()).items:
            await engine.handle(run.id).result(timeout=10)
    listed = (await engine.list_runs()).items
    assert {run.workflow for run in listed} == {"greet", "Kid"}
    for run in listed:
        one = await engine.handle(run.id).info()
        assert one.event is not None and one.event.id == run.event_id == one.event_id
        given = one.event.data if run.workflow == "Kid" else [one.event.data]
        assert one.input == given and run.input == given
        assert run.event is None and run.steps == []
