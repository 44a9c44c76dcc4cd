"""The run resource of every run can be built, whatever the run was given, and a run shows the
same ``event`` however it is read: by itself or in a listing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from plait import Context, Engine
from plait.testing import VirtualClock, assert_eventually
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


SIGN_OFF = {
    "name": "Sign off",
    "triggerEvent": "Document.written",
    "steps": [{"id": "sign", "type": "human-task", "assignTo": "input.owner", "timeout": "1h"}],
}  # fmt: skip

LOOKS_LIKE_A_TIME = re.compile(r"^\d{4}-\d\d-\d\dT")


def times(document: Any) -> list[str]:
    """Every string of ``document`` (at any depth) that starts as a date and time does."""
    found: list[str] = []
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str) and LOOKS_LIKE_A_TIME.match(node):
            found.append(node)
    return found


async def test_every_time_plait_shows_has_milliseconds_and_z(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    from tests.integration.test_state_machine import ITEMS, started, until_state, with_actions

    engine = make_engine(clock=clock)  # whole seconds: 1_800_000_000.0
    with_actions(engine, [])
    sign_off = await engine.workflows.create("acme", SIGN_OFF)
    await engine.workflows.activate("acme", sign_off.id)
    async with engine:
        await started(engine)
        await engine.events.emit("acme", "Order.submitted", {"orderId": "o-1", "items": ITEMS})
        await until_state(engine, "o-1", "pending", events=1)
        await clock.advance(1.5)
        await engine.events.emit("acme", "Order.paid", {"orderId": "o-1", "amount": 40})
        machine = await until_state(engine, "o-1", "processing", events=2)
        await engine.events.emit("acme", "Document.written", {"owner": "ann"})

        async def opened() -> bool:
            return bool((await engine.tasks.find("acme", assignee="ann")).items)

        await assert_eventually(opened)
    [task] = (await engine.tasks.find("acme", assignee="ann")).items
    documents = [
        machine.wire(), (await engine.handle(machine.run_id, org="acme").info()).wire(),
        (await engine.handle(task.run_id, org="acme").info()).wire(), task.wire(),
        (await engine.events.find("acme")).wire(), (await engine.runs.find("acme")).wire(),
        (await engine.workflows.get("acme", sign_off.id)).wire(),
        (await engine.machines.find("acme", "order-state-machine")).wire(),
    ]  # fmt: skip
    found = times(documents)
    assert len(found) > 30 and any(".500Z" in t for t in found)
    assert [t for t in found if not STAMP.match(t)] == []
