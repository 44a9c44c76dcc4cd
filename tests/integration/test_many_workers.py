"""Several engines (each with its worker) on one database, as several processes would be: event
triggers and debounce stay exactly-once, and on PostgreSQL a run made runnable by one engine
wakes another engine's idle worker at once (NOTIFY), without waiting for its poll."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import Gate

MakeEngine = Callable[..., Engine]

# Idle workers would look again only after this long; the virtual clocks of these tests never
# get there on their own, so a run that completes was picked up by a wake-up, not by a poll.
# (Virtual clocks of engines that share runs with a real-clock engine start at the real time,
# so that leases taken on one clock have not expired on the other.)
LONG_POLL = 30.0


async def runs_of(engine: Engine, workflow: str) -> list[Any]:
    return (await engine.list_runs(workflow=workflow, limit=100)).items


def greeter(engine: Engine, executions: Counter[str]) -> None:
    """Register the code workflow ``greet`` (started by ``Customer.created``) on ``engine``."""

    @engine.workflow("greet", trigger="Customer.created")
    async def greet(ctx: Context, customer: dict[str, Any]) -> str:
        executions[ctx.run_id] += 1
        return f"hello {customer['name']}"


async def two_workers(make_engine: MakeEngine, clock: VirtualClock) -> tuple[Engine, Engine]:
    first, second = (make_engine(clock=clock, poll_seconds=LONG_POLL) for _ in range(2))
    return first, second


async def test_an_event_starts_one_run_with_two_workers_running(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    executions: Counter[str] = Counter()
    a, b = await two_workers(make_engine, clock)
    for engine in (a, b):
        greeter(engine, executions)
        await engine.start_worker()

    event = await a.events.emit("default", "Customer.created", {"name": "Ada"})

    [run_id] = event.runs
    assert await a.handle(run_id).result(timeout=10) == "hello Ada"
    assert [r.id for r in await runs_of(b, "greet")] == [run_id]
    assert executions == {run_id: 1}


async def test_one_event_id_emitted_from_two_engines_starts_one_run(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    executions: Counter[str] = Counter()
    a, b = await two_workers(make_engine, clock)
    for engine in (a, b):
        greeter(engine, executions)
        await engine.start_worker()

    emitted = await asyncio.gather(
        *(e.events.emit("default", "Customer.created", {"name": "Ada"}, id="evt-signup-1")
          for e in (a, b, a, b))
    )  # fmt: skip

    assert sum(not e.duplicate for e in emitted) == 1
    [run] = await runs_of(a, "greet")
    assert {tuple(e.runs) for e in emitted} == {(run.id,)}  # duplicates answer the first's run
    assert await a.handle(run.id, org=run.organization).result(timeout=10) == "hello Ada"
    assert executions == {run.id: 1}


SYNC_CONTACT = {
    "name": "sync contact", "triggerEvent": "Contact.updated",
    "debounce": {"key": "contact.id", "delay": 30},
    "steps": [{"action": "log", "mapping": {"message": "contact.email"}}],
}  # fmt: skip


async def test_debounced_events_from_two_engines_collapse_into_one_run(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    a, b = await two_workers(make_engine, clock)
    created = await a.workflows.create("acme", SYNC_CONTACT)
    await a.workflows.activate("acme", created.id)
    for engine in (a, b):
        await engine.start_worker()

    started: set[str] = set()
    for round_ in range(3):  # events with one key, from both engines at once
        emitted = await asyncio.gather(
            *(e.events.emit("acme", "Contact.updated", {"id": 7, "email": f"{e_}{round_}@x"})
              for e_, e in (("a", a), ("b", b)))
        )  # fmt: skip
        started.update(run for e in emitted for run in e.runs)
        await clock.advance(10)
    last = await b.events.emit("acme", "Contact.updated", {"id": 7, "email": "last@x"})
    started.update(last.runs)
    await clock.advance(31)

    assert len(started) == 1
    [run_id] = started
    assert (await a.handle(run_id, org="acme").result(timeout=10))["step-1"] == "last@x"
    [run] = (await b.list_runs(workflow="sync contact", org="acme")).items
    assert run.id == run_id and run.replays == 1
    shown = await b.workflows.get("acme", created.id)
    assert (shown.run_count, shown.success_count) == (1, 1)


# -- wake-ups across processes (PostgreSQL's NOTIFY) -------------------------------------------


def postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("engines on one SQLite file share no wake-ups: only PostgreSQL notifies")


async def test_a_run_started_by_another_engine_wakes_an_idle_worker(
    make_engine: MakeEngine, db_url: str
) -> None:
    postgres_only(db_url)
    starter = make_engine()  # no worker: an API process, say
    worker = make_engine(clock=VirtualClock(), poll_seconds=LONG_POLL)
    for engine in (starter, worker):

        @engine.workflow("double")
        async def double(ctx: Context, n: int) -> int:
            return int(await ctx.step("twice", lambda: n * 2))

    await worker.start_worker()
    await asyncio.sleep(0)  # let the worker go idle
    handle = await starter.start("double", 21)

    assert await starter.handle(handle.id).result(timeout=5.0) == 42


async def test_a_run_released_by_a_stopping_worker_is_taken_at_once(
    make_engine: MakeEngine, db_url: str
) -> None:
    postgres_only(db_url)
    gate = Gate()
    stopping = make_engine(shutdown_seconds=0.1)
    taker = make_engine(clock=VirtualClock(), poll_seconds=LONG_POLL)

    @stopping.workflow("handoff")
    async def held(ctx: Context) -> str:
        return str(await ctx.step("work", gate))

    @taker.workflow("handoff")
    async def finished(ctx: Context) -> str:
        return str(await ctx.step("work", lambda: "done elsewhere"))

    await stopping.start_worker()
    handle = await stopping.start("handoff")
    await gate.reached()
    await taker.start_worker()

    await stopping.close()  # the step is still running: the run is released, not finished

    assert await taker.handle(handle.id).result(timeout=5.0) == "done elsewhere"
    assert (await taker.handle(handle.id).info()).replays == 2

    async def settled() -> bool:
        return gate.calls == 1

    await assert_eventually(settled)
