"""Service rules on both backends: the Triggered status, declared schedules on update, step-less
drafts, conflict messages, keyset pages of runs and events, ``ctx.event``, verb events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.definitions.validate import InvalidDefinition
from plait.errors import IllegalTransition
from plait.resources.workflows import StoredWorkflow
from plait.service.cron import ScheduleInvalid
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]

LOG = [{"action": "log", "mapping": {"message": "'hi'"}}]
WAITS = {
    "name": "await payment", "triggerEvent": "Order.placed",
    "steps": [{"id": "paid", "type": "wait-for-event", "event": "Payment.received",
               "match": "event.data.order == inputs.id", "timeout": 60000}],
}  # fmt: skip


async def statuses(engine: Engine, status: str) -> list[str]:
    page = await engine.workflows.find("acme", where={"status": status})
    return sorted(w.name for w in page.items)


async def test_triggered_only_while_a_run_executes_and_activated_finds_it(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()  # no worker yet: a started run stays pending
    body = {"name": "busy", "triggerEvent": "Go", "steps": LOG}
    busy = await engine.workflows.create("acme", body)
    waits = await engine.workflows.create("acme", WAITS)
    for workflow in (busy, waits):
        await engine.workflows.activate("acme", workflow.id)
    [run_id] = (await engine.events.emit("acme", "Go", {})).runs
    assert (await engine.workflows.get("acme", busy.id)).status == "Triggered"
    assert await statuses(engine, "Activated") == ["await payment", "busy"]
    assert await statuses(engine, "Triggered") == ["busy"]

    await engine.start_worker()
    await engine.handle(run_id, org="acme").result(timeout=5)
    [waiting] = (await engine.events.emit("acme", "Order.placed", {"id": "o-1"})).runs

    async def suspended() -> bool:
        return (await engine.handle(waiting, org="acme").info()).status == "waiting"

    await assert_eventually(suspended)
    # a run waiting for an event does not make its workflow Triggered, nor hide it
    assert (await engine.workflows.get("acme", waits.id)).status == "Activated"
    assert await statuses(engine, "Activated") == ["await payment", "busy"]
    assert await statuses(engine, "Triggered") == []


async def test_an_update_replaces_the_declared_schedules_and_keeps_the_others(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    body = {"name": "hourly", "schedule": {"cron": "0 * * * *"}, "steps": LOG}
    created = await engine.workflows.create("acme", body)
    await engine.workflows.activate("acme", created.id)
    own = await engine.schedules.create("acme", {"workflow": "hourly", "cron": "30 * * * *"})
    assert own.declared is False

    async def crons() -> dict[str, bool]:
        return {s.cron: s.declared for s in (await engine.schedules.find("acme")).items}

    assert await crons() == {"0 * * * *": True, "30 * * * *": False}
    await engine.workflows.update("acme", "hourly", {"schedule": {"cron": "*/5 * * * *"}})
    assert await crons() == {"*/5 * * * *": True, "30 * * * *": False}
    with pytest.raises(ScheduleInvalid):
        await engine.workflows.update("acme", "hourly", {"schedule": {"cron": "61 * * * *"}})
    assert (await engine.workflows.get("acme", "hourly")).version == 2  # nothing stored
    await engine.workflows.pause("acme", "hourly")
    await engine.workflows.update("acme", "hourly", {"schedule": [{"cron": "0 9 * * *"}]})
    listed = (await engine.schedules.find("acme")).items
    assert {(s.cron, s.enabled) for s in listed} == {("0 9 * * *", False),
                                                           ("30 * * * *", False)}  # fmt: skip
    await engine.workflows.update("acme", "hourly", {"schedule": None})
    assert await crons() == {"30 * * * *": False}


async def test_a_draft_may_have_no_steps_until_activation(make_engine: MakeEngine) -> None:
    engine = make_engine()
    draft = await engine.workflows.create("acme", {"name": "later", "triggerEvent": "X.done"})
    assert draft.status == "Draft" and draft.steps is None
    assert draft.trigger_event == "X.done"
    with pytest.raises(InvalidDefinition, match="at least one step before activation") as caught:
        await engine.workflows.activate("acme", draft.id)
    assert [p.path for p in caught.value.problems] == ["$.steps"]
    with pytest.raises(InvalidDefinition, match="at least one step before it can run"):
        await engine.workflows.trigger("acme", draft.id)
    with pytest.raises(InvalidDefinition, match="needs a name"):
        await engine.workflows.create("acme", {"triggerEvent": "X.done"})
    await engine.workflows.update("acme", draft.id, {"steps": LOG})
    assert (await engine.workflows.activate("acme", draft.id)).status == "Activated"
    with pytest.raises(InvalidDefinition, match="at least one step before activation"):
        await engine.workflows.update("acme", draft.id, {"steps": []})


async def test_update_conflicts_say_what_happened(make_engine: MakeEngine) -> None:
    engine = make_engine()
    created = await engine.workflows.create("acme", {"name": "w", "steps": LOG})
    racing = [True]

    @engine.workflows.before("update")
    async def race(workflow: StoredWorkflow) -> None:
        if racing.pop() if racing else False:  # another update commits meanwhile, once
            await engine.workflows.update("acme", workflow.id, {"description": "theirs"})

    with pytest.raises(IllegalTransition) as caught:
        await engine.workflows.update("acme", created.id, {"description": "mine"})
    assert str(caught.value) == (
        f"cannot update workflow {created.id}: it was changed concurrently (expected "
        "version 1, it is now at version 2); read it again and retry"
    )
    await engine.workflows.archive("acme", created.id)
    with pytest.raises(IllegalTransition) as archived:
        await engine.workflows.update("acme", created.id, {"description": "late"})
    assert str(archived.value) == (
        f"cannot update workflow {created.id}: an Archived workflow cannot be updated"
    )


async def test_runs_and_events_page_through_every_row(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)  # no worker: runs stay pending; most share a timestamp
    created = await engine.workflows.create("acme", {"name": "w", "steps": LOG})
    started = []
    for n in range(7):
        started.append((await engine.workflows.trigger("acme", created.id, n)).id)
        await engine.events.emit("acme", "Tick", {"n": n})
        if n == 3:
            await clock.advance(1)
    await engine.workflows.trigger("globex", (await engine.workflows.create(
        "globex", {"name": "w", "steps": LOG})).id)  # fmt: skip

    runs, cursor, pages = [], None, 0
    while True:
        page = await engine.runs.find("acme", limit=3, cursor=cursor)
        runs += [r.id for r in page.items]
        pages, cursor = pages + 1, page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and sorted(runs) == sorted(started) and len(set(runs)) == 7
    assert set(runs[:3]) <= set(started[4:])  # newest first
    events, cursor = [], None
    while True:
        page = await engine.events.find("acme", type="Tick", limit=3, cursor=cursor)
        events += [e.data["n"] for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert events == [6, 5, 4, 3, 2, 1, 0]
    one = await engine.runs.find("acme", status="pending", workflow="w", limit=7)
    assert len(one.items) == 7 and one.next_cursor is None


async def test_code_workflows_see_their_trigger_event_on_every_replay(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()

    @engine.workflow("greeter", trigger="Customer.created")
    async def greeter(ctx: Context, customer: dict[str, Any]) -> Any:
        first = ctx.event
        await ctx.wait_for("Go.on", timeout=60)  # suspends: the next execution replays
        return {"first": first, "again": ctx.event, "name": customer["name"]}

    @engine.workflow("by-hand")
    async def by_hand(ctx: Context) -> Any:
        return ctx.event

    async with engine:
        event = await engine.events.emit("default", "Customer.created", {"name": "Ada"}, id="c-1")
        [run_id] = event.runs

        async def waiting() -> bool:
            return (await engine.handle(run_id).info()).status == "waiting"

        await assert_eventually(waiting)
        await engine.events.emit("default", "Go.on", {})
        output = await engine.handle(run_id).result(timeout=5)
        assert output["first"] == output["again"]
        assert output["first"]["$id"] == "c-1" and output["first"]["type"] == "Customer.created"
        assert output["first"]["data"] == {"name": "Ada"} and output["name"] == "Ada"
        handle = await engine.start(by_hand)
        assert await handle.result(timeout=5) is None


async def test_every_verb_emits_its_event_and_trigger_lists_start_runs(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    body = {"name": "either", "triggerEvent": ["Deal.won", "Deal.lost"], "steps": LOG}
    created = await engine.workflows.create("acme", body)
    assert created.trigger_event == ["Deal.won", "Deal.lost"]
    await engine.workflows.activate("acme", created.id)
    won = await engine.events.emit("acme", "Deal.won", {})
    lost = await engine.events.emit("acme", "Deal.lost", {})
    other = await engine.events.emit("acme", "Deal.created", {})
    assert len(won.runs) == 1 and len(lost.runs) == 1 and other.runs == []
    await engine.workflows.update("acme", created.id, {"description": "d"})
    await engine.workflows.trigger("acme", created.id)
    await engine.workflows.archive("acme", created.id)
    await engine.workflows.delete("acme", created.id)
    page = await engine.events.find("acme", limit=100)
    seen = {e.event_type: e.data for e in page.items if e.event_type.startswith("Workflow.")}
    for verb in ("created", "activated", "updated", "triggered", "archived", "deleted"):
        assert seen[f"Workflow.{verb}"]["$id"] == created.id, verb
    assert seen["Workflow.updated"]["version"] == 2
    assert seen["Workflow.archived"]["status"] == "Archived"


async def test_a_wait_for_event_step_times_out_to_null(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    async with engine:
        created = await engine.workflows.create("acme", WAITS)
        await engine.workflows.activate("acme", created.id)
        [run_id] = (await engine.events.emit("acme", "Order.placed", {"id": "o-7"})).runs

        async def waiting() -> bool:
            return (await engine.handle(run_id, org="acme").info()).status == "waiting"

        await assert_eventually(waiting)
        await clock.advance(61)
        assert (await engine.handle(run_id, org="acme").result(timeout=5))["paid"] is None


async def test_retried_and_forked_runs_keep_their_trigger_event(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls: list[str] = []

    def count(name: str) -> str:
        calls.append(name)
        return name

    @engine.workflow("welcome", trigger="Customer.created")
    async def welcome(ctx: Context, customer: dict[str, Any]) -> Any:
        await ctx.step("first", count, "first")
        await ctx.step("second", count, "second")
        return ctx.event

    async with engine:
        emitted = await engine.events.emit("default", "Customer.created", {"name": "Ada"}, id="c-9")
        [run_id] = emitted.runs
        assert (await engine.handle(run_id).result(timeout=5))["$id"] == "c-9"
        retried = await engine.handle(run_id).retry()
        assert (await retried.result(timeout=5))["$id"] == "c-9"
        forked = await engine.handle(run_id).fork(2)  # step 2 is "second": the event is no step
        assert (await forked.result(timeout=5))["$id"] == "c-9"
        steps = [s.name for s in (await engine.handle(forked.id).info()).steps]
    assert calls == ["first", "second", "first", "second", "second"]
    assert steps[-2:] == ["first", "second"]
