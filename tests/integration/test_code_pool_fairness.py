"""The code pool is shared fairly between organizations: one organization's busy code steps
queue behind each other, never in front of another organization's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.actions.code import CodeActionError, CodePool
from plait.errors import ConfigurationError
from plait.settings import Settings
from plait.testing import assert_eventually


def busy(seconds: float) -> str:
    """Code that keeps a CPU busy for ``seconds`` of wall-clock time."""
    return (
        "start = datetime.datetime.now().timestamp()\n"
        f"while datetime.datetime.now().timestamp() - start < {seconds}:\n"
        "    pass\n"
        "return 'done'"
    )


def code_workflow(name: str, code: str) -> dict[str, Any]:
    return {
        "name": name, "dialect": "canonical",
        "steps": [{"kind": "action", "id": "run", "action": "code", "input": {"code": code}}],
    }  # fmt: skip


async def test_another_orgs_code_step_does_not_wait_behind_a_busy_org(tmp_path: Path) -> None:
    """With the default pool (two workers), six CPU-bound steps of acme leave globex's
    ``return 1`` a worker: before, it waited behind all six."""
    engine = Engine(f"sqlite:///{tmp_path / 'fair.db'}", shutdown_seconds=0.5)
    async with engine:
        crunch = await engine.workflows.create("acme", code_workflow("crunch", busy(2)))
        quick = await engine.workflows.create("globex", code_workflow("quick", "return 1"))
        for _ in range(6):
            await engine.workflows.trigger("acme", crunch.id)

        async def acme_is_computing() -> bool:
            pool = engine.catalog.clients.get("code_pool")
            running = (await engine.list_runs(org="acme", status="running", limit=10)).items
            return pool is not None and len(pool.pids) == 2 and len(running) == 6

        await assert_eventually(acme_is_computing, timeout=30)
        started = time.monotonic()
        run = await engine.workflows.trigger("globex", quick.id)
        output = await engine.handle(run.id, org=run.organization).result(timeout=30)
        elapsed = time.monotonic() - started
    assert output == {"run": 1}
    assert elapsed < 1.5, f"globex's step took {elapsed:.1f}s behind acme's busy steps"


# -- the pool's scheduling, call by call -------------------------------------------------------


@pytest.fixture
async def pool() -> AsyncIterator[CodePool]:
    """Two workers, no per-organization cap: only the order of waiting calls is fair."""
    async with CodePool(size=2, timeout=10) as pool:
        yield pool


async def started(pool: CodePool, org: str, count: int) -> None:
    async def running() -> bool:
        return pool.running.get(org, 0) == count

    await assert_eventually(running, timeout=20)


async def test_a_freed_worker_goes_to_the_next_organization_in_turn(pool: CodePool) -> None:
    finished: list[str] = []

    async def call(org: str, seconds: float) -> None:
        await pool.run(busy(seconds), org=org)
        finished.append(org)

    acme = [asyncio.create_task(call("acme", 0.5)) for _ in range(6)]
    await started(pool, "acme", 2)
    globex = asyncio.create_task(call("globex", 0))
    await globex
    # globex ran on the first worker to free, before acme's four queued calls.
    assert finished.count("acme") <= 2, finished
    await asyncio.gather(*acme)


async def test_an_org_cap_keeps_a_worker_for_other_organizations() -> None:
    async with CodePool(size=2, timeout=10, org_workers=1) as pool:
        acme = [asyncio.create_task(pool.run(busy(2), org="acme")) for _ in range(3)]
        await started(pool, "acme", 1)
        began = time.monotonic()
        assert await pool.run("return 1", org="globex") == 1
        assert time.monotonic() - began < 1.5
        assert pool.running == {"acme": 1}  # the cap held while acme had calls waiting
        for task in acme:
            task.cancel()
        await asyncio.gather(*acme, return_exceptions=True)


async def queued(pool: CodePool, org: str) -> None:
    async def waiting() -> bool:
        return pool.waiting.get(org, 0) == 1

    await assert_eventually(waiting, timeout=20)


async def test_one_organization_alone_uses_the_whole_pool_without_a_cap(pool: CodePool) -> None:
    calls = [asyncio.create_task(pool.run(busy(0.5), org="acme")) for _ in range(2)]
    await started(pool, "acme", 2)
    assert await asyncio.gather(*calls) == ["done", "done"]


async def test_a_waiting_call_that_is_cancelled_gives_up_its_turn(pool: CodePool) -> None:
    holding = [asyncio.create_task(pool.run(busy(0.5), org="acme")) for _ in range(2)]
    await started(pool, "acme", 2)
    waiting = asyncio.create_task(pool.run("return 'never'", org="globex"))
    await queued(pool, "globex")
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.gather(*holding)
    assert await pool.run("return 2", org="globex") == 2
    assert pool.running == {}


async def test_closing_the_pool_fails_the_calls_that_wait() -> None:
    pool = CodePool(size=1, timeout=10)
    await pool.start()
    holding = asyncio.create_task(pool.run(busy(5), org="acme"))
    await started(pool, "acme", 1)
    waiting = asyncio.create_task(pool.run("return 1", org="globex"))
    await queued(pool, "globex")
    await pool.close()
    for call in (holding, waiting):
        with pytest.raises(CodeActionError, match="closed"):
            await call


def test_the_org_cap_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="org_workers"):
        CodePool(size=2, org_workers=0)


def test_the_org_workers_setting_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="code_org_workers"):
        Settings.load(code_org_workers=-1)
