"""State machines (issue 6): the brief's order machine driven by events on both backends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.definitions.load import parse_document
from plait.errors import InstanceEnded, InstanceNotFound, InvalidQuery, WorkflowNotActive
from plait.resources.machines import MachineInstance
from plait.resources.workflows import StoredWorkflow
from plait.testing import VirtualClock, assert_eventually

MakeEngine = Callable[..., Engine]
ORDER = Path(__file__).resolve().parents[2] / "examples/definitions/order-state-machine.yaml"
ITEMS = [{"sku": "A-1", "qty": 2}]


def order_machine() -> dict[str, Any]:
    return parse_document(ORDER.read_text(), ORDER.name)


def with_actions(engine: Engine, calls: list[tuple[str, Any]]) -> None:
    @engine.action("processPayment")
    async def process_payment(input: dict[str, Any]) -> dict[str, Any]:
        calls.append(("pay", input))
        return {"id": f"pay-{input['orderId']}", "amount": input["amount"]}

    @engine.action("createShipment")
    async def create_shipment(input: dict[str, Any]) -> dict[str, Any]:
        calls.append(("ship", input))
        return {"tracking": f"t-{input['orderId']}"}


async def machine_of(engine: Engine, org: str, key: str) -> MachineInstance:
    return await engine.machines.get(org, "order-state-machine", key)


async def until_state(engine: Engine, key: str, state: str, *, events: int = 0) -> MachineInstance:
    """Wait until instance ``key`` is in ``state`` having handled ``events`` events."""
    seen: list[MachineInstance] = []

    async def reached() -> bool:
        try:
            shown = await machine_of(engine, "acme", key)
        except Exception:
            return False
        seen[:] = [shown]
        handled = len(shown.history) + len(shown.rejected)
        settled = shown.status in ("waiting", "succeeded")
        return shown.state == state and handled >= events and settled

    await assert_eventually(reached, timeout=20)
    return seen[0]


async def started(engine: Engine) -> StoredWorkflow:
    created = await engine.workflows.create("acme", order_machine())
    await engine.workflows.activate("acme", created.id)
    return created


async def test_order_happy_path_through_the_event_bus(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls: list[tuple[str, Any]] = []
    with_actions(engine, calls)
    async with engine:
        await started(engine)
        submitted = await engine.events.emit("acme", "Order.submitted",
                                             {"orderId": "o-1", "items": ITEMS})  # fmt: skip
        assert len(submitted.runs) == 1
        run_id = submitted.runs[0]
        await until_state(engine, "o-1", "pending", events=1)
        await engine.events.emit("acme", "Order.paid", {"orderId": "o-1", "amount": 40})
        await until_state(engine, "o-1", "processing", events=2)
        await engine.events.emit("acme", "Order.fulfilled", {"orderId": "o-1"})
        shown = await until_state(engine, "o-1", "completed", events=3)

        assert shown.run_id == run_id and shown.status == "waiting"
        assert [(h["from"], h["to"], h["event"], h["type"]) for h in shown.history] == [
            ("draft", "pending", "submit", "Order.submitted"),
            ("pending", "processing", "pay", "Order.paid"),
            ("processing", "completed", "fulfill", "Order.fulfilled"),
        ]
        assert shown.history[0]["eventId"] == submitted.id
        assert shown.context["paymentId"] == "pay-o-1"
        assert shown.context["items"] == ITEMS and shown.context["orderId"] == "o-1"
        assert calls == [("pay", {"orderId": "o-1", "amount": 40}), ("ship", {"orderId": "o-1"})]
        run = await engine.runs.get("acme", run_id)
        assert run.machine is not None
        assert run.machine.state == "completed" and len(run.machine.history) == 3
        keys = {step.key for step in run.steps}
        assert {"draft.submit", "pending.entry", "pending.pay", "processing.fulfill"} <= keys

        await engine.events.emit("acme", "Order.returned", {"orderId": "o-1"})
        await until_state(engine, "o-1", "returned", events=4)

        async def ended() -> bool:
            return (await engine.handle(run_id, org="acme").info()).status == "succeeded"

        await assert_eventually(ended)
        output = (await engine.handle(run_id, org="acme").info()).output
        assert output["state"] == "returned" and output["context"]["paymentId"] == "pay-o-1"
        assert [h["to"] for h in output["history"]] == [
            "pending", "processing", "completed", "returned"
        ]  # fmt: skip
        with pytest.raises(InstanceEnded, match="has ended"):
            await engine.machines.send("acme", "order-state-machine", "o-1", "Order.paid", {})


async def test_guard_refuses_and_rejected_events_change_nothing(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls: list[tuple[str, Any]] = []
    with_actions(engine, calls)
    async with engine:
        await started(engine)
        empty = await engine.events.emit("acme", "Order.submitted",
                                         {"orderId": "o-2", "items": []})  # fmt: skip
        assert len(empty.runs) == 1
        shown = await until_state(engine, "o-2", "draft", events=1)
        assert shown.history == []
        [refused] = shown.rejected
        assert refused["event"] == "submit" and refused["state"] == "draft"
        assert "guard of 'submit' from state 'draft' refused the event" in refused["reason"]

        sent = await engine.machines.send("acme", "order-state-machine", "o-2", "Order.paid",
                                          {"orderId": "o-2", "amount": 5})  # fmt: skip
        assert sent.outcome == "delivered" and sent.run_id == empty.runs[0]
        shown = await until_state(engine, "o-2", "draft", events=2)
        assert shown.rejected[1]["reason"] == "no transition for 'pay' from state 'draft'"
        assert shown.rejected[1]["eventId"] == sent.event.id
        assert shown.context == {"orderId": "o-2", "items": []} and calls == []

        await engine.machines.send("acme", "order-state-machine", "o-2", "submit",
                                   {"orderId": "o-2", "items": ITEMS})  # fmt: skip
        shown = await until_state(engine, "o-2", "pending", events=3)
        assert [h["event"] for h in shown.history] == ["submit"]


async def test_unknown_instance_and_paused_machine(make_engine: MakeEngine) -> None:
    engine = make_engine()
    with_actions(engine, [])
    async with engine:
        created = await started(engine)
        with pytest.raises(InstanceNotFound, match="no instance 'o-9'"):
            await engine.machines.send("acme", "order-state-machine", "o-9", "Order.paid", {})
        routed = await engine.events.emit("acme", "Order.paid", {"orderId": "o-9"})
        assert routed.runs == []
        assert (await engine.machines.find("acme", "order-state-machine")).items == []

        await engine.workflows.pause("acme", created.id)
        ignored = await engine.events.emit("acme", "Order.submitted",
                                           {"orderId": "o-3", "items": ITEMS})  # fmt: skip
        assert ignored.runs == []
        with pytest.raises(WorkflowNotActive):
            await engine.machines.send("acme", "order-state-machine", "o-3", "submit", {})
        assert (await engine.machines.find("acme", "order-state-machine")).items == []


async def test_instances_page_oldest_first(make_engine: MakeEngine) -> None:
    engine = make_engine()  # no worker: the events create the instances as they are stored
    with_actions(engine, [])
    await started(engine)
    keys = [f"o-{n}" for n in range(5)]
    for key in keys:
        await engine.events.emit("acme", "Order.submitted", {"orderId": key, "items": ITEMS})
    listed, cursor, pages = [], None, 0
    while True:
        page = await engine.machines.find("acme", "order-state-machine", limit=2, cursor=cursor)
        listed += [(i.key, i.received, i.state) for i in page.items]
        pages, cursor = pages + 1, page.next_cursor
        if cursor is None:
            break
    assert pages == 3 and listed == [(key, 1, None) for key in keys]
    with pytest.raises(InvalidQuery):
        await engine.machines.find("acme", "order-state-machine", cursor="not-a-cursor")


async def test_timeout_transition_under_virtual_time(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    with_actions(engine, [])
    async with engine:
        await started(engine)
        submitted = await engine.events.emit("acme", "Order.submitted",
                                             {"orderId": "o-4", "items": ITEMS})  # fmt: skip
        run_id = submitted.runs[0]
        await until_state(engine, "o-4", "pending", events=1)
        entered = clock.time()
        await clock.advance(3600 - 60)
        await asyncio.sleep(0.05)
        assert (await machine_of(engine, "acme", "o-4")).state == "pending"

        async def ended() -> bool:
            return (await engine.handle(run_id, org="acme").info()).status == "succeeded"

        await clock.advance(120)
        await assert_eventually(ended, timeout=20)
        output = (await engine.handle(run_id, org="acme").info()).output
        assert output["state"] == "cancelled"
        last = output["history"][-1]
        assert (last["from"], last["to"], last["event"], last["type"]) == (
            "pending", "cancelled", "timeout", None
        )  # fmt: skip
        assert clock.time() >= entered + 3600


def routing_only() -> dict[str, Any]:
    """The order machine without its steps: what routing does, without the steps' writes."""
    document = order_machine()
    for state in document["states"].values():
        state.pop("entry", None)
        for move in (state.get("on") or {}).values():
            if isinstance(move, dict):
                move.pop("action", None)
                move.pop("assign", None)
    return document


@pytest.mark.xdist_group("heavy")  # 1,000 instances: not beside the other heavy tests
async def test_a_thousand_instances_keep_their_own_events(make_engine: MakeEngine) -> None:
    """Two engines (workers) share the work; events of 1,000 orders arrive interleaved."""
    first, second = make_engine(), make_engine()
    async with first, second:
        created = await first.workflows.create("acme", routing_only())
        await first.workflows.activate("acme", created.id)
        await second.start_worker()
        keys = [f"o-{i}" for i in range(1000)]
        sent: dict[str, list[str]] = {key: [] for key in keys}

        async def drive(index: int, key: str) -> None:
            engine = first if index % 2 else second
            for event_type, data in (
                ("Order.submitted", {"orderId": key, "items": ITEMS}),
                ("Order.paid", {"orderId": key, "amount": index}),
                ("Order.fulfilled", {"orderId": key}),
            ):
                emitted = await engine.events.emit("acme", event_type, data)
                sent[key].append(emitted.id)

        await asyncio.gather(*[drive(i, key) for i, key in enumerate(keys)])
        store = await first.deps.store()
        instances = {i.key: i for i in await store.list_machine_instances("acme", created.id,
                                                                         2000)}  # fmt: skip
        assert sorted(instances) == sorted(keys)
        views: dict[str, dict[str, Any]] = {}

        async def all_completed() -> bool:
            waiting = (await first.list_runs(status="waiting", limit=1000, org="acme")).items
            if len(waiting) < 1000:
                return False
            runs = await asyncio.gather(*[first.runs.get("acme", i.run_id)
                                          for i in instances.values()])  # fmt: skip
            views.update({r.id: r.machine.wire() if r.machine else {} for r in runs})
            return all(view.get("state") == "completed" for view in views.values())

        await assert_eventually(all_completed, timeout=60, interval=0.2)
        for key in keys:
            view = views[instances[key].run_id]
            assert [h["eventId"] for h in view["history"]] == sent[key], key
            assert view["rejected"] == [] and view["context"] == {"orderId": key, "items": ITEMS}


SERVICE_MACHINE: dict[str, Any] = {  # brief 003, as written there (plus its correlation)
    "name": "Order State Machine",
    "type": "Automation",
    "subtype": "state-machine",
    "correlation": "data.orderId",
    "states": {
        "pending": {"on": {"VALIDATE": "validating", "CANCEL": "cancelled"}},
        "validating": {
            "on": {"VALIDATION_SUCCESS": "validated", "VALIDATION_FAILED": "validation-failed"},
            "timeout": 30000,
            "timeoutTransition": "validation-failed",
            "onExit": {"function": "audit", "input": {"left": "{{ state }}"}},
        },
        "validated": {"on": {"PROCESS_PAYMENT": "processing-payment"}},
        "processing-payment": {"on": {"PAYMENT_SUCCESS": "paid"}},
        "paid": {"terminal": True},
        "cancelled": {"terminal": True},
        "validation-failed": {"terminal": True},
    },
    "initialState": "pending",
}


async def test_brief_003_machine_times_out_of_validating(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    left: list[str] = []

    @engine.action("audit")
    async def audit(input: dict[str, Any]) -> None:
        left.append(input["left"])

    async with engine:
        created = await engine.workflows.create("acme", SERVICE_MACHINE)
        await engine.workflows.activate("acme", created.id)
        emitted = await engine.events.emit("acme", "VALIDATE", {"orderId": "s-1"})
        [run_id] = emitted.runs
        handle = engine.handle(run_id, org="acme")
        await clock.run_skipping(handle.result(timeout=20))
        output = (await engine.handle(run_id, org="acme").info()).output
        assert output["state"] == "validation-failed"
        assert [(h["from"], h["to"], h["event"]) for h in output["history"]] == [
            ("pending", "validating", "VALIDATE"),
            ("validating", "validation-failed", "timeout"),
        ]
        assert left == ["validating"]
        entered, timed_out = (datetime.fromisoformat(h["at"]) for h in output["history"])
        assert (timed_out - entered).total_seconds() == pytest.approx(30, abs=0.01)


TICKETS: dict[str, Any] = {
    "name": "tickets",
    "correlation": "data.ticketId",
    "initial": "new",
    "start": "Ticket.opened",
    "context": {"title": "{{ input.title }}", "notes": 0},
    "events": {"Ticket.assigned": "assign", "Ticket.closed": "close"},
    "states": {
        "new": {
            "entry": {"function": "tell", "input": {"text": "new {{ context.title }}"}},
            "on": {"assign": {"target": "open", "actions": [
                {"function": "tell", "input": {"text": "owner {{ data.owner }}"}},
                {"function": "lookup", "input": {"owner": "{{ data.owner }}"}},
            ], "assign": {"owner": "{{ output.name }}", "email": "{{ steps['new.assign'] }}"}}},
        },
        "open": {"on": {"close": "closed"}},
        "closed": {"terminal": True},
    },
}  # fmt: skip


async def test_start_events_context_template_and_assign_from_output(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    told: list[str] = []

    @engine.action("tell")
    async def tell(input: dict[str, Any]) -> str:
        told.append(input["text"])
        return f"told {input['text']}"

    @engine.action("lookup")
    async def lookup(input: dict[str, Any]) -> dict[str, Any]:
        return {"name": input["owner"].title()}

    async with engine:
        created = await engine.workflows.create("acme", TICKETS)
        await engine.workflows.activate("acme", created.id)
        closing = await engine.events.emit("acme", "Ticket.closed", {"ticketId": "t-1"})
        assert closing.runs == []  # not a start event, and no transition from `new`
        opened = await engine.events.emit("acme", "Ticket.opened",
                                          {"ticketId": "t-1", "title": "Printer"})  # fmt: skip
        [run_id] = opened.runs
        await engine.events.emit("acme", "Ticket.assigned", {"ticketId": "t-1", "owner": "ada"})
        await engine.events.emit("acme", "Ticket.closed", {"ticketId": "t-1"})
        output = await engine.handle(run_id, org="acme").result(timeout=10)
        assert output["state"] == "closed"
        assert output["context"] == {"title": "Printer", "notes": 0, "owner": "Ada",
                                     "email": "told owner ada"}  # fmt: skip
        assert [h["event"] for h in output["history"]] == ["assign", "close"]
        assert told == ["new Printer", "owner ada"]
        shown = await engine.machines.get("acme", "tickets", "t-1")
        assert shown.received == 2 and shown.rejected == [] and shown.status == "succeeded"
