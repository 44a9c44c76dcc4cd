"""State machines as brief 003 writes them (issue 12), from Python on both backends: terminal
states that fail or cancel, ``retry: {maxAttempts, on}``, ``onEntry``/``onExit`` lists of
``{type: emit}`` and ``{type: function, handler}`` steps, and machines without a correlation,
addressed by key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.definitions.load import parse_document
from plait.definitions.validate import InvalidDefinition
from plait.errors import InstanceNotFound
from plait.resources.machines import MachineInstance
from plait.testing import assert_eventually

MakeEngine = Callable[..., Engine]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples/definitions/order-state-machine-003.yaml"
NAME = "Order State Machine"

# Brief 003's order state machine as written there (`$.ServiceType.Automation` as the string it
# names), including its one genuine error: `returning` is not a state.
BRIEF_003 = """
name: Order State Machine
type: Automation
subtype: state-machine
states:
  pending:
    on:
      VALIDATE: validating
      CANCEL: cancelled
  validating:
    on:
      VALIDATION_SUCCESS: validated
      VALIDATION_FAILED: validation-failed
    timeout: 30000
    timeoutTransition: validation-failed
  validated:
    on:
      PROCESS_PAYMENT: processing-payment
  processing-payment:
    on:
      PAYMENT_SUCCESS: paid
      PAYMENT_FAILED: payment-failed
    retry:
      maxAttempts: 3
      on: PAYMENT_FAILED
  paid:
    on:
      FULFILL: fulfilling
  fulfilling:
    on:
      SHIPPED: shipped
      FULFILLMENT_FAILED: fulfillment-failed
  shipped:
    on:
      DELIVERED: delivered
      RETURN_REQUESTED: returning
  delivered:
    terminal: true
  cancelled:
    terminal: true
  validation-failed:
    terminal: true
  payment-failed:
    terminal: true
  fulfillment-failed:
    on:
      RETRY: fulfilling
initialState: pending
"""


def brief_003() -> dict[str, Any]:
    return parse_document(BRIEF_003, "order.yaml")


def order_003(**entry: list[dict[str, Any]]) -> dict[str, Any]:
    """The example (the brief's machine with `returning` and outcomes), with ``onEntry`` lists
    added to the states named."""
    document = parse_document(EXAMPLE.read_text(), EXAMPLE.name)
    for state, actions in entry.items():
        document["states"][state.replace("_", "-")]["onEntry"] = copy.deepcopy(actions)
    return document


CHARGE = [
    {"type": "emit", "event": "Order.paymentAttempted"},
    {"type": "function", "handler": "chargeCard"},
]


def charging(engine: Engine, calls: list[Any]) -> None:
    @engine.action("chargeCard")
    async def charge_card(context: dict[str, Any]) -> dict[str, Any]:
        calls.append(context)
        return {"charged": context.get("orderId")}


async def activate(engine: Engine, document: dict[str, Any]) -> None:
    created = await engine.workflows.create("acme", document)
    await engine.workflows.activate("acme", created.id)


async def send(engine: Engine, key: str, *events: str) -> None:
    for event in events:
        await engine.machines.send("acme", NAME, key, event, {"orderId": key})


async def settled(engine: Engine, key: str, state: str, taken: int) -> MachineInstance:
    """Instance ``key`` once it is in ``state`` having taken ``taken`` transitions, at rest."""
    seen: list[MachineInstance] = []

    async def reached() -> bool:
        seen[:] = [await engine.machines.get("acme", NAME, key)]
        shown = seen[0]
        at_rest = shown.status in ("waiting", "succeeded", "failed", "cancelled")
        return shown.state == state and len(shown.history) == taken and at_rest

    await assert_eventually(reached, timeout=20)
    return seen[0]


async def test_the_brief_machine_fails_only_for_its_undefined_state(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    async with engine:
        with pytest.raises(InvalidDefinition) as refused:
            await engine.workflows.create("acme", brief_003())
        assert [(p.path, p.message) for p in refused.value.problems] == [
            ("$.states.shipped.on.RETURN_REQUESTED",
             "unknown target state 'returning' (did you mean 'pending'?)"),
        ]  # fmt: skip
        assert refused.value.warnings == []


async def test_failed_terminal_state_counts_as_a_failure(make_engine: MakeEngine) -> None:
    engine = make_engine()
    calls: list[Any] = []
    charging(engine, calls)
    async with engine:
        await activate(engine, order_003())
        await send(engine, "bad", "VALIDATE", "VALIDATION_FAILED")
        failed = await settled(engine, "bad", "validation-failed", 2)
        assert (failed.status, failed.outcome) == ("failed", "failed")
        assert failed.error is not None and failed.error["type"] == "plait.MachineFailed"
        message = failed.error["message"]
        assert "ended in state 'validation-failed', whose outcome is failed" in message
        assert failed.output["state"] == "validation-failed"  # the output is kept
        run = await engine.runs.get("acme", failed.run_id)
        assert (run.status, run.outcome, run.success) == ("failed", "failed", False)

        await send(engine, "gone", "CANCEL")
        cancelled = await settled(engine, "gone", "cancelled", 1)
        assert (cancelled.status, cancelled.outcome) == ("cancelled", "cancelled")
        assert cancelled.error is not None and cancelled.error["type"] == "plait.MachineCancelled"

        await send(engine, "ok", "VALIDATE", "VALIDATION_SUCCESS", "PROCESS_PAYMENT",
                   "PAYMENT_SUCCESS", "FULFILL", "SHIPPED", "DELIVERED")  # fmt: skip
        delivered = await settled(engine, "ok", "delivered", 7)
        assert (delivered.status, delivered.outcome) == ("succeeded", "succeeded")

        workflow = await engine.workflows.get("acme", NAME)
        assert (workflow.run_count, workflow.success_count, workflow.failure_count) == (3, 1, 1)
        listed = {i.key: (i.status, i.outcome) for i in (await engine.machines.find(
            "acme", NAME)).items}  # fmt: skip
        assert listed == {"bad": ("failed", "failed"), "gone": ("cancelled", "cancelled"),
                          "ok": ("succeeded", "succeeded")}  # fmt: skip


async def test_retry_reenters_the_state_until_its_attempts_are_spent(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    calls: list[Any] = []
    charging(engine, calls)
    async with engine:
        await activate(engine, order_003(processing_payment=CHARGE))
        await send(engine, "o-1", "VALIDATE", "VALIDATION_SUCCESS", "PROCESS_PAYMENT")
        first = await settled(engine, "o-1", "processing-payment", 3)
        assert first.attempt == 1 and len(calls) == 1
        await send(engine, "o-1", "PAYMENT_FAILED")
        second = await settled(engine, "o-1", "processing-payment", 4)
        assert second.attempt == 2 and len(calls) == 2
        assert second.history[-1]["attempt"] == 2
        assert (second.history[-1]["from"], second.history[-1]["to"]) == (
            "processing-payment", "processing-payment"
        )  # fmt: skip
        await send(engine, "o-1", "PAYMENT_FAILED", "PAYMENT_FAILED")
        ended = await settled(engine, "o-1", "payment-failed", 6)
        assert [h["to"] for h in ended.history] == [
            "validating", "validated", "processing-payment", "processing-payment",
            "processing-payment", "payment-failed",
        ]  # fmt: skip
        assert len(calls) == 3 and calls[0] == {"orderId": "o-1"}  # the context
        assert ended.outcome == "failed"
        events = (await engine.events.find("acme", type="Order.paymentAttempted")).items
        assert len(events) == 3 and all(e.data == {"orderId": "o-1"} for e in events)


async def test_entry_and_exit_lists_run_in_order_and_once(make_engine: MakeEngine) -> None:
    engine = make_engine()
    order: list[str] = []

    @engine.action("note")
    async def note(input: Any) -> None:
        order.append(input if isinstance(input, str) else f"note {sorted(input)}")

    document = order_003()
    document["context"] = {"orderId": "{{ data.orderId }}", "stage": "new"}
    validating = document["states"]["validating"]
    validating["onEntry"] = [
        {"type": "function", "handler": "note", "input": "entered {{ state }}"},
        {"type": "emit", "event": "Order.validating", "data": {"id": "{{ context.orderId }}"}},
        {"type": "function", "handler": "note"},
    ]
    validating["onExit"] = [{"type": "function", "handler": "note", "input": "left"}]
    async with engine:
        await activate(engine, document)
        await send(engine, "o-2", "VALIDATE", "VALIDATION_SUCCESS")
        shown = await settled(engine, "o-2", "validated", 2)
        assert order == ["entered validating", "note ['orderId', 'stage']", "left"]
        [emitted] = (await engine.events.find("acme", type="Order.validating")).items
        assert emitted.data == {"id": "o-2"}
        run = await engine.runs.get("acme", shown.run_id)
        keys = [s.key for s in run.steps if s.key.startswith("validating.")]
        assert keys == ["validating.entry", "validating.entry-2", "validating.entry-3",
                        "validating.exit"]  # fmt: skip


async def test_entry_functions_and_attempts_survive_a_restart(make_engine: MakeEngine) -> None:
    calls: list[Any] = []
    first = make_engine()
    charging(first, calls)
    async with first:
        await activate(first, order_003(processing_payment=CHARGE))
        await send(first, "o-3", "VALIDATE", "VALIDATION_SUCCESS", "PROCESS_PAYMENT",
                   "PAYMENT_FAILED")  # fmt: skip
        before = await settled(first, "o-3", "processing-payment", 4)
        assert before.attempt == 2 and len(calls) == 2
    second = make_engine()  # a new process on the same database: the run replays from the top
    charging(second, calls)
    async with second:
        await send(second, "o-3", "PAYMENT_FAILED")
        third = await settled(second, "o-3", "processing-payment", 5)
        assert third.attempt == 3 and len(calls) == 3  # the recorded entries did not run again
        await send(second, "o-3", "PAYMENT_FAILED")
        ended = await settled(second, "o-3", "payment-failed", 6)
        assert len(calls) == 3 and ended.outcome == "failed"
        events = (await second.events.find("acme", type="Order.paymentAttempted")).items
        assert len(events) == 3


async def test_a_machine_without_correlation_is_addressed_by_key(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine()
    async with engine:
        await activate(engine, order_003())
        on_bus = await engine.events.emit("acme", "VALIDATE", {"orderId": "o-4"})
        assert on_bus.runs == []  # no correlation: the bus cannot name an instance
        assert (await engine.machines.find("acme", NAME)).items == []
        sent = await engine.machines.send("acme", NAME, "o-4", "VALIDATE", {"orderId": "o-4"})
        assert sent.outcome == "created" and sent.key == "o-4"
        with pytest.raises(InstanceNotFound):
            await engine.machines.send("acme", NAME, "o-5", "PAYMENT_SUCCESS", {})
        shown = await settled(engine, "o-4", "validating", 1)
        assert shown.run_id == sent.run_id and shown.context == {"orderId": "o-4"}
