"""A workflow's start throttle on every backend (virtual time): runs started per period per
key; a start past the limit creates the run waiting (queued, no slot held) until its turn;
another key has its own limit; a definition's top-level ``rateLimit`` does the same for a
stored workflow's runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Context, Engine, RateLimit
from plait.errors import ConfigurationError
from plait.testing import VirtualClock

LIMIT = 60.0
MakeEngine = Callable[..., Engine]


async def test_starts_past_the_limit_wait_for_their_turn_per_key(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    began: dict[str, list[float]] = {}

    async def note(customer: str) -> None:
        began.setdefault(customer, []).append(clock.time())

    @engine.workflow(name="sync_customer", rate_limit=RateLimit(2, period=1, key="input"))
    async def sync_customer(ctx: Context, customer: str) -> str:
        await ctx.step("note", note, customer)
        return customer

    async with engine:
        start = clock.time()
        handles = [await engine.start("sync_customer", c) for c in ["a"] * 4 + ["b"]]
        statuses = [(await engine.runs.get("default", h.id)).status for h in handles]
        assert statuses[1:4] == ["waiting"] * 3  # queued for their turns, no slot held
        waiting = await engine.runs.get("default", handles[3].id)
        assert waiting.wake_at is not None
        assert round(waiting.wake_at.timestamp() - start, 3) == 1.5
        results = await asyncio.wait_for(
            clock.run_skipping(asyncio.gather(*(h.result() for h in handles))), LIMIT
        )
    assert results == ["a", "a", "a", "a", "b"]
    assert [round(t - start, 3) for t in sorted(began["a"])] == [0.0, 0.5, 1.0, 1.5]
    assert [round(t - start, 3) for t in began["b"]] == [0.0]  # another key: its own limit


async def test_a_definition_s_rate_limit_throttles_its_stored_runs(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    document = {"name": "notify", "dialect": "canonical",
                "rateLimit": {"limit": 1, "period": 60},
                "steps": [{"kind": "action", "id": "say", "action": "log",
                           "input": {"message": "hi"}}]}  # fmt: skip
    async with engine:
        stored = await engine.workflows.create("acme", document)
        first = await engine.workflows.trigger("acme", stored.id, {})
        second = await engine.workflows.trigger("acme", stored.id, {})
        assert (await engine.runs.get("acme", second.id)).status == "waiting"
        other = await engine.workflows.create("globex", {**document})
        elsewhere = await engine.workflows.trigger("globex", other.id, {})
        assert (await engine.runs.get("globex", elsewhere.id)).status != "waiting"  # its own
        for org, run_id in (("acme", first.id), ("acme", second.id)):
            handle = engine.runs.handle(org, run_id)
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        ended = await engine.runs.get("acme", second.id)
    assert ended.status == "succeeded"
    assert ended.started_at is not None and ended.created_at is not None
    assert (ended.started_at - ended.created_at).total_seconds() >= 60


def test_a_bad_throttle_is_refused_with_its_path(make_engine: MakeEngine) -> None:
    engine = make_engine()
    with pytest.raises(ConfigurationError, match=r"rate_limit.key: must be a CEL expression"):
        engine.workflow(name="w", rate_limit={"limit": 1, "key": "input.("})(_noop)
    from plait.definitions.load import check_definition

    document = {"name": "w", "dialect": "canonical", "rateLimit": {"limit": 0, "key": 7},
                "steps": [{"kind": "action", "id": "a", "action": "log",
                           "rateLimit": {"limit": 1, "key": "input"}}]}  # fmt: skip
    assert sorted(str(p) for p in check_definition(document).errors) == [
        "$.rateLimit.key: must be a CEL expression over the input (text), not 7",
        "$.rateLimit.limit: must be a whole number >= 1, not 0",
        "$.steps[0].rateLimit.key: is not a key of this limit (expected: burst, limit, name, "
        "period)",
    ]


async def _noop(ctx: Context) -> Any:
    return None


async def test_runs_an_event_starts_are_throttled_too(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip
    document = {"name": "on-signup", "dialect": "canonical",
                "rateLimit": {"limit": 1, "period": 60}, "trigger": {"events": ["User.created"]},
                "steps": [{"kind": "action", "id": "say", "action": "log",
                           "input": {"message": "hi"}}]}  # fmt: skip
    async with engine:
        stored = await engine.workflows.create("acme", document)
        await engine.workflows.activate("acme", stored.id)
        for n in range(3):
            await engine.events.emit("acme", "User.created", {"n": n})
        runs = (await engine.runs.find("acme", workflow=stored.id)).items
    assert sorted(r.status for r in runs)[-2:] == ["waiting", "waiting"]  # two queued
    waits = sorted(r.wake_at.timestamp() - clock.time() for r in runs if r.wake_at is not None)
    assert [round(w) for w in waits] == [60, 120]


async def test_a_debounced_start_never_moves_a_throttled_run_before_its_turn(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)  # no worker: the runs stay as the starts left them

    @engine.workflow(name="digest", rate_limit=RateLimit(1, period=60))
    async def digest(ctx: Context, value: int) -> int:
        return value

    start = clock.time()
    await engine.start("digest", 0)  # takes the turn of now
    later = await engine.start("digest", 1, debounce=("x", 1))  # the next turn: in 60 s
    joined = await engine.start("digest", 2, debounce=("x", 1))  # joins it: due in 1 s
    assert joined.id == later.id
    run = await engine.runs.get("default", later.id)
    assert run.status == "waiting" and run.wake_at is not None
    assert round(run.wake_at.timestamp() - start, 3) == 60.0  # not moved before its turn


async def test_a_start_cancelled_at_once_takes_no_turn(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)  # no worker: the first run stays pending (live)

    @engine.workflow(
        name="job",
        rate_limit=RateLimit(1, period=60),
        concurrency={"key": "'all'", "limit": 1, "strategy": "cancel-newest"},
    )
    async def job(ctx: Context, value: int) -> int:
        return value

    start = clock.time()
    first = await engine.start("job", 0)
    dropped = await engine.start("job", 1)
    assert (await engine.runs.get("default", dropped.id)).status == "cancelled"
    await engine.runs.cancel("default", first.id)
    third = await engine.start("job", 2)
    run = await engine.runs.get("default", third.id)
    assert run.wake_at is not None  # the second turn is its: the cancelled start took none
    assert round(run.wake_at.timestamp() - start, 3) == 60.0


async def test_a_debounced_event_start_keeps_to_the_start_throttle(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)  # no worker: the runs stay as the events left them

    @engine.workflow(
        "notify", trigger="Ping.sent", debounce=("input.k", 1), rate_limit=RateLimit(1, period=60)
    )
    async def notify(ctx: Context, ping: dict[str, Any]) -> int:
        return int(ping["n"])

    start = clock.time()
    [first] = (await engine.events.emit("default", "Ping.sent", {"k": "a", "n": 0})).runs
    [second] = (await engine.events.emit("default", "Ping.sent", {"k": "b", "n": 1})).runs
    [joined] = (await engine.events.emit("default", "Ping.sent", {"k": "b", "n": 2})).runs
    assert joined == second != first
    waits = [(await engine.runs.get("default", r)).wake_at for r in (first, second)]
    assert [round(w.timestamp() - start, 3) for w in waits if w is not None] == [1.0, 60.0]
