"""Queue wait, lease reclaims and the events runs emit, as ``/metrics`` shows them (issue 13).

Every figure is exact: the engines run on a virtual clock, so a run claimed after N virtual
seconds in the queue waited N seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from plait import Context, Engine, Workflow
from plait.testing import VirtualClock, assert_eventually
from tests.integration.helpers import wait_status

MakeEngine = Callable[..., Engine]
Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]
WAIT = "plait_run_queue_wait_seconds"


async def figures(engine: Engine) -> Figures:
    text = (await engine.health.metrics()).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def waited(got: Figures, workflow: str) -> tuple[float, float]:
    """How many runs of ``workflow`` were claimed, and the seconds they waited in all."""
    labels = frozenset({("workflow", workflow)})
    return got[(f"{WAIT}_count", labels)], got[(f"{WAIT}_sum", labels)]


async def queued(ctx: Context) -> str:
    return "ran"


async def waiter(ctx: Context) -> Any:
    return await ctx.wait_for("Go.now")


async def sleeper(ctx: Context) -> str:
    await ctx.sleep(10)
    return "rested"


def register(engine: Engine) -> dict[str, Workflow]:
    return {fn.__name__: engine.workflow(fn.__name__)(fn) for fn in (queued, waiter, sleeper)}


async def test_queue_wait_runs_from_creation_wake_or_due_time_to_the_claim(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    first = make_engine(clock=clock)
    flows = register(first)
    async with first:  # started with a free slot: leased at creation, they never queued
        woken = await first.start(flows["waiter"])
        rested = await first.start(flows["sleeper"])
        for handle in (woken, rested):
            await wait_status(first, handle.id, "waiting")
    started = await first.start(flows["queued"])  # no worker now: it stays pending from T0
    await clock.advance(5)
    await first.events.emit("default", "Go.now", {"go": True})  # runnable from T0 + 5
    await clock.advance(20)  # T0 + 25: the sleeper's timer fell due at T0 + 10
    second = make_engine(clock=clock)
    register(second)
    async with second:
        assert await started.result(timeout=10) == "ran"
        assert (await woken.result(timeout=10))["data"] == {"go": True}
        assert await rested.result(timeout=10) == "rested"
    before, after = await figures(first), await figures(second)
    assert waited(before, "waiter") == (1, 0.0) and waited(before, "sleeper") == (1, 0.0)
    assert waited(after, "queued") == (1, 25.0)
    assert waited(after, "waiter") == (1, 20.0)
    assert waited(after, "sleeper") == (1, 15.0)
    buckets = {labels: value for (name, labels), value in after.items()
               if name == f"{WAIT}_bucket" and ("workflow", "sleeper") in labels}  # fmt: skip
    sleeper_le = {dict(labels)["le"]: value for labels, value in buckets.items()}
    assert (sleeper_le["10"], sleeper_le["30"], sleeper_le["+Inf"]) == (0, 1, 1)
    assert not any(name == "plait_lease_reclaims_total" for name, _ in {**before, **after})


async def test_a_run_reclaimed_from_an_expired_lease_is_counted_once(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, lease_seconds=30)
    handle = await engine.start(register(engine)["queued"])
    store = await engine.deps.store()
    now = clock.time()
    # A worker that claimed it and then vanished (crashed, or stalled past its lease).
    [claim] = await store.claim_runs("worker_gone", ["queued"], 1, now, now + 30)
    assert (claim.ready_at, claim.reclaimed) == (now, False)
    await clock.advance(42)  # the lease expired 12 s ago
    async with engine:
        assert await handle.result(timeout=10) == "ran"
    got = await figures(engine)
    assert got[("plait_lease_reclaims_total", frozenset({("workflow", "queued")}))] == 1
    assert waited(got, "queued") == (1, 12.0)  # from the lease's expiry to the reclaim
    info = await engine.handle(handle.id).info()
    assert info.status == "succeeded"


async def test_events_a_run_emits_are_counted_by_source(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("report", progress_events=True)
    async def report(ctx: Context) -> str:
        ctx.progress(1, 2)
        ctx.progress(2, 2)
        return "reported"

    notify = {
        "name": "notify",
        "triggerEvent": "Order.placed",
        "steps": [{"id": "confirm", "action": "emit", "mapping": {"type": "'Order.confirmed'"}}],
    }
    follow = {"name": "follow", "triggerEvent": "Order.confirmed", "steps": [
        {"action": "log", "mapping": {"message": "'confirmed'"}}]}  # fmt: skip
    for body in (notify, follow):
        created = await engine.workflows.create("acme", body)
        await engine.workflows.activate("acme", created.id)
    async with engine:
        placed = await engine.events.emit("acme", "Order.placed", {"order": 7})
        assert await (await engine.start(report)).result(timeout=10) == "reported"

        async def counted() -> bool:
            got = await figures(engine)
            return got.get(("plait_events_emitted_total", frozenset({("source", "run")}))) == 2

        await assert_eventually(counted)  # progress events are stored beside the run's writes

        async def followed() -> bool:
            runs = await engine.runs.find("acme", workflow="follow")
            return [run.status for run in runs.items] == ["succeeded"]

        await assert_eventually(followed)
    [run_id] = placed.runs
    assert (await engine.runs.get("acme", run_id)).status == "succeeded"
    got = await figures(engine)
    emitted = {dict(labels)["source"]: value for (name, labels), value in got.items()
               if name == "plait_events_emitted_total"}  # fmt: skip
    # Creating and activating the two workflows emitted Workflow.created and .activated.
    assert emitted == {"api": 1, "action": 1, "run": 2, "workflow": 4}
    # Order.placed started notify; the Order.confirmed its step emitted started follow.
    assert got[("plait_event_runs_total", frozenset({("effect", "started")}))] == 2
