"""The automation service in process: registry, lifecycle, events and triggers, waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Context, Engine
from plait.definitions.validate import InvalidDefinition
from plait.errors import HookVetoed, IllegalTransition, ReadOnlyWorkflow, WorkflowNotFound
from plait.resources.workflows import StoredWorkflow
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "definitions"

WELCOME = {
    "name": "Welcome customer",
    "triggerEvent": "Customer.created",
    "steps": [{"action": "Activity.create",
               "mapping": {"subject": "'Welcome ' + customer.name", "customer": "customer.$id"}}],
}  # fmt: skip


def deal_won() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "deal-won.json").read_text())
    return data


DEAL = {"name": "Acme Corp", "value": 50000, "plan": "pro", "owner": "sam@plait.dev",
        "contact": {"email": "ceo@acme.test", "name": "Ada"}}  # fmt: skip


async def runs_of(engine: Engine, workflow: str, status: str = "succeeded") -> list[Any]:
    page = await engine.list_runs(workflow=workflow, status=status, limit=1000, org="acme")
    return page.items


async def test_deal_won_chain_counters_and_pause(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        onboarding = await engine.workflows.create("acme", deal_won())
        welcome = await engine.workflows.create("acme", WELCOME)
        assert onboarding.status == "Draft" and onboarding.version == 1
        assert onboarding.id.startswith("workflow_") and len(onboarding.id) == 17
        for workflow in (onboarding, welcome):
            assert (await engine.workflows.activate("acme", workflow.id)).status == "Activated"

        event = await engine.events.emit("acme", "Deal.won", DEAL)
        assert len(event.runs) == 1

        async def chained() -> bool:
            return bool(await runs_of(engine, "Welcome customer"))

        await assert_eventually(chained)

        async def onboarded() -> bool:
            return bool(await runs_of(engine, onboarding.name))

        await assert_eventually(onboarded)
        [run] = await runs_of(engine, onboarding.name)
        assert run.organization == "acme" and run.workflow_version == 1 and run.trigger == "event"
        customers = await (await engine.deps.store()).find_documents(
            "acme", "Customer", {}, None, 10
        )
        assert [c.data["name"] for c in customers] == ["Acme Corp"]
        shown = await engine.workflows.get("acme", onboarding.id)
        assert (shown.run_count, shown.success_count, shown.failure_count) == (1, 1, 0)
        assert shown.last_run_at is not None and shown.status == "Activated"

        await engine.workflows.pause("acme", onboarding.id)
        again = await engine.events.emit("acme", "Deal.won", DEAL)
        assert again.runs == []
        await asyncio.sleep(0.1)
        assert len(await runs_of(engine, onboarding.name)) == 1
        types = [e.event_type for e in (await engine.events.find("acme", limit=100)).items]
        for verb in ("created", "activated", "paused"):
            assert f"Workflow.{verb}" in types


async def test_same_event_id_starts_one_run(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        created = await engine.workflows.create("acme", WELCOME)
        await engine.workflows.activate("acme", created.id)
        first = await engine.events.emit("acme", "Customer.created", {"name": "A", "$id": "c1"},
                                         id="evt-1")  # fmt: skip
        second = await engine.events.emit("acme", "Customer.created", {"name": "B"}, id="evt-1")
        assert len(first.runs) == 1 and second.runs == first.runs and second.duplicate
        assert second.data["name"] == "A"
        assert len((await engine.list_runs(workflow="Welcome customer", org="acme")).items) == 1


async def test_lifecycle_rules_and_hooks(make_engine: MakeEngine) -> None:
    engine = make_engine()
    seen: list[str] = []

    @engine.workflows.before("activate")
    def require_description(workflow: StoredWorkflow) -> None:
        if not workflow.description:
            raise ValueError("a description is required")

    @engine.workflows.after("activate")
    def record(workflow: StoredWorkflow) -> None:
        seen.append(workflow.status)

    async with engine:
        created = await engine.workflows.create("acme", WELCOME)
        with pytest.raises(HookVetoed, match="a description is required"):
            await engine.workflows.activate("acme", created.id)
        assert (await engine.workflows.get("acme", created.id)).status == "Draft"
        await engine.workflows.update("acme", created.id, {"description": "greets"})
        activated = await engine.workflows.activate("acme", created.id)
        assert activated.version == 2 and seen == ["Activated"]
        with pytest.raises(IllegalTransition, match="it is Activated, and Activated -> Activated"):
            await engine.workflows.activate("acme", created.id)
        await engine.workflows.archive("acme", created.id)
        with pytest.raises(IllegalTransition, match="Archived -> Paused"):
            await engine.workflows.pause("acme", created.id)
        no_trigger = await engine.workflows.create("acme", {"name": "x", "steps": [
            {"action": "log", "mapping": {"message": "'hi'"}}]})  # fmt: skip
        with pytest.raises(InvalidDefinition, match="trigger event"):
            await engine.workflows.activate("acme", no_trigger.id)
        with pytest.raises(WorkflowNotFound):
            await engine.workflows.get("other-org", created.id)


async def test_runs_pin_the_version_they_started_with(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        created = await engine.workflows.create("acme", {
            "name": "pinned", "triggerEvent": "Ping.sent",
            "steps": [{"action": "log", "mapping": {"message": "'v1'"}}]})  # fmt: skip
        first = await engine.workflows.trigger("acme", created.id, {"n": 1})
        await engine.workflows.update("acme", created.id, {
            "steps": [{"action": "log", "mapping": {"message": "'v2'"}}]})  # fmt: skip
        second = await engine.workflows.trigger("acme", created.id, {"n": 2})
        outputs = []
        for run in (first, second):
            outputs.append(await engine.handle(run.id, org="acme").result(timeout=5))
        assert [o["step-1"] for o in outputs] == ["v1", "v2"]
        assert [first.workflow_version, second.workflow_version] == [1, 2]


async def test_filters_decide_which_events_start_runs(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        body = {**WELCOME, "name": "big deals", "triggerEvent": "Deal.won",
                "filter": "deal.value > 1000"}  # fmt: skip
        created = await engine.workflows.create("acme", body)
        await engine.workflows.activate("acme", created.id)
        small = await engine.events.emit("acme", "Deal.won", {"value": 10, "name": "s"})
        big = await engine.events.emit("acme", "Deal.won", {"value": 5000, "name": "b"})
        assert small.runs == [] and len(big.runs) == 1


async def test_wait_for_resumes_on_a_matching_event(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("approval")
    async def approval(ctx: Context, order: str) -> Any:
        decided = await ctx.wait_for("Approval.decided", match=f"event.data.order == '{order}'",
                                     timeout=3600)  # fmt: skip
        return decided["data"]["approved"] if decided else "timed out"

    async with engine:
        handle = await engine.start(approval, "o-1")

        async def waiting() -> bool:  # suspended: stored as waiting, and let go by the worker
            info = await engine.handle(handle.id).info()
            return info.status == "waiting" and not (engine.worker and engine.worker._active)

        await assert_eventually(waiting)
        await engine.events.emit("default", "Approval.decided", {"order": "o-2", "approved": False})
        await asyncio.sleep(0.05)
        assert (await engine.handle(handle.id).info()).status == "waiting"
        event = await engine.events.emit("default", "Approval.decided",
                                         {"order": "o-1", "approved": True})  # fmt: skip
        assert await handle.result(timeout=5) is True
        [step] = (await engine.handle(handle.id).info()).steps
        assert step.kind == "wait" and step.output["$id"] == event.id


async def test_wait_for_times_out_with_none(make_engine: MakeEngine, clock: VirtualClock) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("patient")
    async def patient(ctx: Context) -> Any:
        return await ctx.wait_for("Never.happens", timeout=600)

    async with engine:
        handle = await engine.start(patient)

        async def waiting() -> bool:
            return (await engine.handle(handle.id).info()).status == "waiting"

        await assert_eventually(waiting)
        await clock.advance(601)
        assert await handle.result(timeout=5) is None


async def test_debounce_collapses_events_into_one_run_with_the_last(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    async with engine:
        created = await engine.workflows.create("acme", {
            "name": "sync contact", "triggerEvent": "Contact.updated",
            "debounce": {"key": "contact.id", "delay": 30},
            "steps": [{"action": "log", "mapping": {"message": "contact.email"}}]})  # fmt: skip
        await engine.workflows.activate("acme", created.id)
        runs = set()
        for email in ("a@x", "b@x", "c@x"):
            event = await engine.events.emit("acme", "Contact.updated", {"id": 7, "email": email})
            runs.update(event.runs)
            await clock.advance(10)
        other = await engine.events.emit("acme", "Contact.updated", {"id": 8, "email": "z@x"})
        assert len(runs) == 1 and len(other.runs) == 1 and other.runs[0] not in runs
        await clock.advance(31)
        [run_id] = runs
        assert (await engine.handle(run_id, org="acme").result(timeout=5))["step-1"] == "c@x"


async def test_code_workflows_appear_read_only_and_take_triggers(make_engine: MakeEngine) -> None:
    engine = make_engine()

    @engine.workflow("greet-customer", trigger="Customer.created")
    async def greet(ctx: Context, customer: dict[str, Any]) -> str:
        return f"hello {customer['name']}"

    async with engine:
        [shown] = (await engine.workflows.find("default", where={"name": "greet-customer"})).items
        assert shown.kind == "code" and shown.trigger_event == "Customer.created"
        with pytest.raises(ReadOnlyWorkflow):
            await engine.workflows.update("default", shown.id, {"description": "x"})
        event = await engine.events.emit("default", "Customer.created", {"name": "Ada"})
        assert await engine.handle(event.runs[0]).result(timeout=5) == "hello Ada"
        assert (await engine.workflows.get("default", shown.id)).run_count == 1


async def test_find_filters_sorts_and_pages(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        for i in range(5):
            await engine.workflows.create("acme", {**WELCOME, "name": f"w{i}"})
        page = await engine.workflows.find("acme", sort="-name", limit=2)
        names = [w.name for w in page.items]
        while page.next_cursor:
            page = await engine.workflows.find(
                "acme", sort="-name", limit=2, cursor=page.next_cursor
            )
            names += [w.name for w in page.items]
        assert names == ["w4", "w3", "w2", "w1", "w0"]
        drafts = await engine.workflows.find("acme", where={"status": "Draft", "name": "w2"})
        assert [w.name for w in drafts.items] == ["w2"]
        assert (await engine.workflows.find("nobody")).items == []


async def test_a_wait_for_event_step_resumes_a_definition(make_engine: MakeEngine) -> None:
    engine = make_engine()
    async with engine:
        created = await engine.workflows.create("acme", {
            "name": "await payment", "triggerEvent": "Order.placed",
            "steps": [
                {"id": "paid", "type": "wait-for-event", "event": "Payment.received",
                 "match": "event.data.order == inputs.id", "timeout": 3600000},
                {"id": "ship", "type": "function", "function": "log", "dependsOn": ["paid"],
                 "input": {"message": "{{'shipping ' + inputs.id}}"}},
            ]})  # fmt: skip
        await engine.workflows.activate("acme", created.id)
        placed = await engine.events.emit("acme", "Order.placed", {"id": "o-9"})
        [run_id] = placed.runs

        async def waiting() -> bool:
            return (await engine.handle(run_id, org="acme").info()).status == "waiting"

        await assert_eventually(waiting)
        await engine.events.emit("acme", "Payment.received", {"order": "o-9"})
        output = await engine.handle(run_id, org="acme").result(timeout=5)
        assert output["paid"]["data"] == {"order": "o-9"}
        assert output["ship"] == "shipping o-9"
