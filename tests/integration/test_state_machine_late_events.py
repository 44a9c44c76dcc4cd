"""A state's timeout beats an event that arrived after it, even when no worker ran in between:
the timeout transition is taken first, and the late event is handled in the next state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plait import Engine
from plait.testing import VirtualClock, assert_eventually
from tests.integration.test_state_machine import ITEMS, started, until_state, with_actions

MakeEngine = Callable[..., Engine]
HOUR = 3600.0

RELAY = {
    "name": "relay",
    "correlation": "event.data.id",
    "initial": "first",
    "events": {"Relay.started": "start", "Relay.go": "go"},
    "states": {
        "first": {"on": {"start": "waiting"}},
        "waiting": {"timeout": "1h", "timeoutTransition": "late",
                    "on": {"go": "on-time"}},
        "late": {"on": {"go": "done-late"}},
        "on-time": {"terminal": True},
        "done-late": {"terminal": True},
    },
}  # fmt: skip


async def ended(engine: Engine, run_id: str) -> dict[str, Any]:
    """The run, as the wire shows it, once it succeeded."""

    async def done() -> bool:
        return (await engine.handle(run_id, org="acme").info()).status == "succeeded"

    await assert_eventually(done, timeout=20)
    return (await engine.runs.get("acme", run_id)).wire()


async def relay_waiting(engine: Engine, key: str) -> str:
    """Store and activate RELAY, start instance ``key`` and let ``engine``'s worker run it into
    ``waiting`` (suspended, its 1 h timeout counting); then stop. Return the run's id."""
    async with engine:
        created = await engine.workflows.create("acme", RELAY)
        await engine.workflows.activate("acme", created.id)
        sent = await engine.events.emit("acme", "Relay.started", {"id": key})

        async def waiting() -> bool:
            found = await engine.machines.get("acme", "relay", key)
            return found.state == "waiting" and found.status == "waiting"

        await assert_eventually(waiting, timeout=20)
    return str(sent.runs[0])


async def test_a_payment_after_the_timeout_finds_the_order_cancelled(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    calls: list[tuple[str, Any]] = []
    first = make_engine(clock=clock)
    with_actions(first, calls)
    async with first:
        await started(first)
        submitted = await first.events.emit("acme", "Order.submitted",
                                            {"orderId": "o-9", "items": ITEMS})  # fmt: skip
        run_id = submitted.runs[0]
        await until_state(first, "o-9", "pending", events=1)
    # No worker for two hours; then the payment arrives, an hour after the order's timeout.
    await clock.advance(2 * HOUR)
    second = make_engine(clock=clock)
    with_actions(second, calls)
    await second.events.emit("acme", "Order.paid", {"orderId": "o-9", "amount": 10})
    async with second:
        run = await ended(second, run_id)
    machine = run["machine"]
    assert machine["state"] == "cancelled"
    assert [(h["from"], h["to"], h["event"]) for h in machine["history"]] == [
        ("draft", "pending", "submit"), ("pending", "cancelled", "timeout"),
    ]  # fmt: skip
    [rejected] = machine["rejected"]
    assert (rejected["state"], rejected["event"], rejected["type"]) == (
        "cancelled", "pay", "Order.paid"
    )  # fmt: skip
    assert rejected["reason"] == "no transition for 'pay' from state 'cancelled'"
    assert calls == []  # processPayment never ran


async def test_a_late_event_is_taken_by_the_state_the_timeout_leads_to(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    run_id = await relay_waiting(make_engine(clock=clock), "r-1")
    await clock.advance(HOUR)  # exactly at the deadline: already too late
    second = make_engine(clock=clock)
    await second.events.emit("acme", "Relay.go", {"id": "r-1"})
    async with second:
        run = await ended(second, run_id)
    history = [(h["from"], h["to"], h["event"]) for h in run["machine"]["history"]]
    assert history == [("first", "waiting", "start"), ("waiting", "late", "timeout"),
                       ("late", "done-late", "go")]  # fmt: skip
    assert run["machine"]["rejected"] == []


async def test_an_event_before_the_deadline_still_wins(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    run_id = await relay_waiting(make_engine(clock=clock), "r-2")
    await clock.advance(HOUR - 1)
    second = make_engine(clock=clock)
    await second.events.emit("acme", "Relay.go", {"id": "r-2"})
    await clock.advance(2 * HOUR)  # the worker comes long after the deadline
    async with second:
        run = await ended(second, run_id)
    history = [(h["from"], h["to"], h["event"]) for h in run["machine"]["history"]]
    assert history == [("first", "waiting", "start"), ("waiting", "on-time", "go")]


async def test_a_late_worker_times_states_from_when_their_events_arrived(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    """`start` at t0, `go` at t0+2h, no worker until t0+3h: `waiting` was entered at t0, so its
    1 h timeout fell due before `go` arrived, whatever the worker's lateness."""
    first = make_engine(clock=clock)
    async with first:
        created = await first.workflows.create("acme", RELAY)
        await first.workflows.activate("acme", created.id)
    second = make_engine(clock=clock)  # no worker yet
    [run_id] = (await second.events.emit("acme", "Relay.started", {"id": "r-9"})).runs
    await clock.advance(2 * HOUR)
    await second.events.emit("acme", "Relay.go", {"id": "r-9"})
    await clock.advance(HOUR)
    async with second:
        run = await ended(second, run_id)
    history = [(h["from"], h["to"], h["event"]) for h in run["machine"]["history"]]
    assert history == [("first", "waiting", "start"), ("waiting", "late", "timeout"),
                       ("late", "done-late", "go")]  # fmt: skip
