"""The state machines of the store contract, on every backend: delivering events to the
instance of a correlation key, numbered in order, once per event id."""

from __future__ import annotations

import asyncio
from typing import Any

from plait.store.base import Store
from plait.store.records import EventRecord, MachineDelivery, RunToStart

NOW = 1_800_000_000.0


def event(event_id: str, type: str, data: bytes = b"{}", at: float = NOW) -> EventRecord:
    return EventRecord(event_id, "acme", type, data, "api", None, at)


def delivery(key: str, run_id: str | None = None, *, inbox: bool = True) -> MachineDelivery:
    start = None
    if run_id is not None:
        start = RunToStart(run_id, "workflow_m", "orders", 1, b'[{"orderId": "o-1"}, null]')
    return MachineDelivery("workflow_m", key, start, inbox)


async def test_events_reach_the_instance_of_their_key_in_order(store: Store) -> None:
    machines = store
    created = await machines.send_to_machine(event("e1", "Order.submitted"),
                                             delivery("o-1", "run_m1"))  # fmt: skip
    assert created == ("created", "run_m1")
    run = await store.get_run("run_m1")
    assert run is not None and run.status == "pending" and run.workflow == "orders"
    assert run.trigger == "event" and run.event_id == "e1"
    second = await machines.send_to_machine(event("e2", "Order.paid", b'{"amount": 3}'),
                                            delivery("o-1", "run_other"))  # fmt: skip
    assert second == ("delivered", "run_m1")
    assert await store.get_run("run_other") is None
    again = await machines.send_to_machine(event("e2", "Order.paid"), delivery("o-1"))
    assert again == ("duplicate", "run_m1")
    third = await machines.send_to_machine(event("e3", "Order.fulfilled"), delivery("o-1"))
    assert third == ("delivered", "run_m1")

    inbox = [await machines.next_machine_event("run_m1", n) for n in (1, 2, 3, 4)]
    assert [(e.n, e.id, e.type) for e in inbox if e is not None] == [
        (1, "e1", "Order.submitted"), (2, "e2", "Order.paid"), (3, "e3", "Order.fulfilled")
    ]  # fmt: skip
    assert inbox[1] is not None and inbox[1].data == b'{"amount": 3}' and inbox[3] is None
    instance = await machines.get_machine_instance("acme", "workflow_m", "o-1")
    assert instance is not None and (instance.run_id, instance.received) == ("run_m1", 3)
    assert await machines.machine_instance_of_run("run_m1") == instance


async def test_unknown_keys_ended_instances_and_start_only_events(store: Store) -> None:
    machines = store
    assert await machines.send_to_machine(event("e1", "Order.paid"), delivery("nope")) == (
        "unknown", None
    )  # fmt: skip
    assert await machines.get_machine_instance("acme", "workflow_m", "nope") is None
    created = await machines.send_to_machine(event("e2", "Order.created"),
                                             delivery("o-2", "run_m2", inbox=False))  # fmt: skip
    assert created == ("created", "run_m2")
    assert await machines.next_machine_event("run_m2", 1) is None
    await store.cancel_run("run_m2", NOW + 1)
    ended = await machines.send_to_machine(event("e3", "Order.paid"), delivery("o-2", "run_x"))
    assert ended == ("ended", "run_m2")
    assert await machines.next_machine_event("run_m2", 1) is None
    assert await store.get_run("run_x") is None


async def test_a_delivery_wakes_a_waiting_run_and_hints_a_running_one(store: Store) -> None:
    machines = store
    await machines.send_to_machine(event("e1", "Order.submitted"), delivery("o-3", "run_m3"))
    [claimed] = await store.claim_runs("w1", ["orders"], 10, NOW, NOW + 30)
    await machines.send_to_machine(event("e2", "Order.paid", at=NOW + 1), delivery("o-3"))
    await store.suspend_run("run_m3", claimed.fence, None, NOW + 2)
    woken = await store.get_run("run_m3", with_steps=False)
    assert woken is not None and woken.status == "waiting" and woken.wake_at == NOW + 1
    [again] = await store.claim_runs("w1", ["orders"], 10, NOW + 3, NOW + 30)
    await store.suspend_run("run_m3", again.fence, None, NOW + 4)
    await machines.send_to_machine(event("e3", "Order.fulfilled", at=NOW + 5), delivery("o-3"))
    pending = await store.get_run("run_m3", with_steps=False)
    assert pending is not None and pending.status == "pending"


async def test_concurrent_first_events_create_one_instance(store: Store) -> None:
    machines = store
    results: list[Any] = await asyncio.gather(*[
        machines.send_to_machine(event(f"e{i}", "Order.submitted"), delivery("o-4", f"run_c{i}"))
        for i in range(20)
    ])  # fmt: skip
    assert sorted(outcome for outcome, _ in results) == ["created"] + ["delivered"] * 19
    assert len({run_id for _, run_id in results}) == 1
    instance = await machines.get_machine_instance("acme", "workflow_m", "o-4")
    assert instance is not None and instance.received == 20
