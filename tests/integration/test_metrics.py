"""Prometheus metrics (issue 13): a known workload, then ``/metrics`` parsed with
``prometheus_client``'s parser."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plait import Context, Engine, RetryPolicy, WorkflowFailed
from plait.api.app import create_app
from plait.testing import VirtualClock
from tests.integration.helpers import pump, wait_status

N_OK, M_FAILING = 3, 2
RETRIES = 2  # attempts per failing run: 1 + RETRIES


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def test_metrics_count_a_known_workload_exactly(
    make_engine: Callable[..., Engine], clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    async def ok() -> str:
        return "fine"

    async def broken() -> None:
        raise RuntimeError("down")

    @engine.workflow("billing")
    async def billing(ctx: Context, fail: bool) -> str:
        await ctx.step("prepare", ok)
        if fail:
            retry = RetryPolicy(max_attempts=1 + RETRIES, initial_delay=1)
            await ctx.step("charge", broken, retry=retry)
        return "done"

    async with engine:
        handles = [await engine.start(billing, False) for _ in range(N_OK)]
        handles += [await engine.start(billing, True) for _ in range(M_FAILING)]
        for handle in handles[:N_OK]:
            assert await pump(clock, handle.result(timeout=10), step=1) == "done"
        for handle in handles[N_OK:]:
            with pytest.raises(WorkflowFailed):
                await pump(clock, handle.result(timeout=10), step=1)
        app = create_app(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plait") as client:
            scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    got = samples(scraped.text)
    runs = N_OK + M_FAILING
    wf = ("workflow", "billing")
    assert got[("plait_runs_started_total", frozenset({wf, ("trigger", "api")}))] == runs
    ended = "plait_runs_ended_total"
    assert got[(ended, frozenset({wf, ("status", "succeeded"), ("outcome", "succeeded")}))] == N_OK
    assert got[(ended, frozenset({wf, ("status", "failed"), ("outcome", "failed")}))] == M_FAILING
    assert got[("plait_run_duration_seconds_count", frozenset({wf}))] == runs
    charge, prepare = frozenset({wf, ("step", "charge")}), frozenset({wf, ("step", "prepare")})
    assert got[("plait_step_attempts_total", prepare)] == runs
    assert got[("plait_step_attempts_total", charge)] == M_FAILING * (1 + RETRIES)
    assert got[("plait_step_retries_total", charge)] == M_FAILING * RETRIES
    assert got[("plait_step_failures_total", charge)] == M_FAILING
    assert ("plait_step_failures_total", prepare) not in got
    assert got[("plait_step_duration_seconds_count", charge)] == M_FAILING * (1 + RETRIES)
    commits = got[("plait_store_commit_seconds_count", frozenset())]
    assert commits >= runs and got[("plait_store_commits_total", frozenset())] == commits
    assert (
        got[("plait_store_commit_batch_size_sum", frozenset())]
        == (got[("plait_store_writes_total", frozenset())])
    )
    slots = engine.settings.concurrency
    assert got[("plait_worker_slots", frozenset({("state", "free")}))] == slots
    assert got[("plait_worker_slots", frozenset({("state", "used")}))] == 0


async def test_engines_in_one_process_count_apart(make_engine: Callable[..., Engine]) -> None:
    first, second = make_engine(), make_engine()

    @first.workflow("hello")
    async def hello(ctx: Context) -> str:
        return "hi"

    async with first:
        assert await (await first.start(hello)).result(timeout=10) == "hi"
    started = ("plait_runs_started_total", frozenset({("workflow", "hello"), ("trigger", "api")}))
    assert samples((await first.health.metrics()).decode())[started] == 1
    assert started not in samples((await second.health.metrics()).decode())


async def test_gauges_read_live_runs_and_open_tasks_from_the_store(
    make_engine: Callable[..., Engine], clock: VirtualClock
) -> None:
    engine = make_engine(clock=clock)

    @engine.workflow("signoff")
    async def signoff(ctx: Context) -> object:
        return await ctx.human_task("Sign off", "ann", choices=["ok"], due=60)

    async with engine:
        waiting = await engine.start(signoff)
        await wait_status(engine, waiting.id, "waiting")
    await engine.start(signoff)  # no worker now: it stays pending
    before = samples((await engine.health.metrics()).decode())
    await clock.advance(61)  # past the task's due time, with no worker to expire it
    after = samples((await engine.health.metrics()).decode())
    runs = {status: before[("plait_runs", frozenset({("status", status)}))]
            for status in ("pending", "running", "waiting")}  # fmt: skip
    assert runs == {"pending": 1, "running": 0, "waiting": 1}
    assert (
        before[("plait_tasks_open", frozenset())],
        before[("plait_tasks_overdue", frozenset())],
    ) == (1, 0)
    assert (
        after[("plait_tasks_open", frozenset())],
        after[("plait_tasks_overdue", frozenset())],
    ) == (1, 1)
