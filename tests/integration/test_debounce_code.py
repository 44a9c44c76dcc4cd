"""Debounce in code (docs/flow-control.md), on both backends: a burst of starts with one key
collapses into one run, started ``delay`` after the last start with the last arguments, as a
trigger's debounce does."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from plait import Context, Engine
from plait.definitions.validate import InvalidDefinition
from plait.errors import InvalidArguments
from plait.testing import VirtualClock

MakeEngine = Callable[..., Engine]


async def test_a_burst_of_starts_collapses_into_one_run(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    executions: list[Any] = []

    @engine.workflow("reindex")
    async def reindex(ctx: Context, doc: str) -> str:
        executions.append(doc)
        started[doc] = clock.time()
        return doc

    started: dict[str, float] = {}
    t0 = clock.time()
    await engine.start_worker()
    handles = []
    for doc in ("v1", "v2", "v3"):  # at t0, t0 + 4, t0 + 8
        handles.append(await engine.start("reindex", doc, debounce=("doc-1", 10)))
        await clock.advance(4)  # each start within the delay of the one before
    assert clock.time() > t0 + 10  # past the end of quiet of the first start
    assert len({h.id for h in handles}) == 1
    other = await engine.start("reindex", "w1", debounce={"key": "doc-2", "delay": 10})
    assert other.id != handles[0].id
    assert (await engine.runs.get("default", handles[0].id)).status == "waiting"
    assert await clock.run_skipping(handles[-1].result(timeout=60)) == "v3"
    assert started["v3"] >= t0 + 8 + 10  # 10 s after the last start, not the first
    assert await clock.run_skipping(other.result(timeout=60)) == "w1"
    assert sorted(executions) == ["v3", "w1"]
    again = await engine.start("reindex", "v4", debounce=("doc-1", 10))  # the run has started
    assert again.id != handles[0].id


async def test_the_decorator_debounces_by_a_key_over_the_input(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)
    executions: list[Any] = []

    @engine.workflow("notify", debounce=("input.user", 30))
    async def notify(ctx: Context, change: dict[str, Any]) -> int:
        executions.append(change)
        return int(change["n"])

    await engine.start_worker()
    burst = [await engine.start("notify", {"user": "ada", "n": n}) for n in range(5)]
    assert len({h.id for h in burst}) == 1
    assert await clock.run_skipping(burst[0].result(timeout=120)) == 4
    assert executions == [{"user": "ada", "n": 4}]


def test_a_bad_debounce_names_its_path(make_engine: MakeEngine) -> None:
    engine = make_engine()

    async def wf(ctx: Context) -> None:
        return None

    with pytest.raises(InvalidDefinition, match=r"\$.debounce.delay"):
        engine.workflow("bad", debounce={"key": "input", "delay": 0})(wf)


@pytest.mark.parametrize(
    ("debounce", "error"),
    [
        (("k", float("inf")), "debounce delay must be a finite number of seconds above 0, not inf"),
        (("k", 0), "debounce delay must be a finite number of seconds above 0, not 0"),
        ("k", "debounce must be {key, delay} or (key, seconds)"),
    ],
)
async def test_a_bad_start_debounce_is_refused_naming_the_workflow(
    make_engine: MakeEngine, debounce: Any, error: str
) -> None:
    engine = make_engine()

    @engine.workflow("reindex")
    async def reindex(ctx: Context, doc: str) -> str:
        return doc

    with pytest.raises(InvalidArguments, match=re.escape(f"workflow 'reindex': {error}")):
        await engine.start("reindex", "v1", debounce=debounce)


async def test_a_start_debounce_takes_a_timedelta_in_either_form(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("reindex")
    async def reindex(ctx: Context, doc: str) -> str:
        return doc

    quiet = timedelta(seconds=10)
    first = await engine.start("reindex", "v1", debounce={"key": "doc-1", "delay": quiet})
    second = await engine.start("reindex", "v2", debounce=("doc-1", quiet))
    assert second.id == first.id
    run = await engine.runs.get("default", first.id)
    assert run.status == "waiting"
