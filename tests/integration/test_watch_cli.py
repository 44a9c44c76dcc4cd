"""``plait runs watch ID`` through the real command line: it follows a live run that an engine
in another process moves (on SQLite, by polling the change feed) until it ends, and exits by the
run's outcome; on a run that has ended it prints the run's history, or nothing after --after."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from plait import Context, Engine, RetryPolicy
from plait.testing import assert_eventually

pytestmark = pytest.mark.timeout(90)


def register(engine: Engine) -> None:
    @engine.workflow("relay")
    async def relay(ctx: Context, n: int) -> int:
        first: int = await ctx.step("first", lambda: n + 1)
        go: int = await ctx.receive("go")
        return first + go

    def explode() -> None:
        raise RuntimeError("no")

    @engine.workflow("doomed")
    async def doomed(ctx: Context) -> None:
        await ctx.step("explode", explode, retry=RetryPolicy(max_attempts=1))


def brief(line: dict[str, object]) -> tuple[object, ...]:
    data = line["data"]
    assert isinstance(data, dict)
    if line["event"] == "run":
        return ("run", data["status"])
    return ("step", data["key"], data["status"])


async def watch(*args: str, cwd: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "plait", "runs", "watch", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_watch_follows_a_live_run_until_it_ends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = Engine(url)
    register(engine)
    async with engine:
        handle = await engine.start("relay", 1)

        async def waiting() -> bool:
            return (await handle.info()).status == "waiting"

        await assert_eventually(waiting)
        child = await watch(handle.id, "--db", url, "--json", cwd=tmp_path)
        assert child.stdout is not None
        lines = []
        while True:  # what happened so far, then the signal moves the run on
            lines.append(json.loads(await asyncio.wait_for(child.stdout.readline(), 30)))
            if brief(lines[-1]) == ("run", "waiting"):
                break
        await handle.signal("go", 2)
        out, err = await asyncio.wait_for(child.communicate(), 30)
    lines += [json.loads(line) for line in out.decode().splitlines()]
    assert child.returncode == 0, err.decode()
    assert [brief(line) for line in lines] == [
        ("run", "running"), ("step", "first", "completed"), ("step", "receive:go", "waiting"),
        ("run", "waiting"), ("step", "receive:go", "completed"), ("run", "pending"),
        ("run", "running"), ("run", "succeeded"),
    ]  # fmt: skip
    assert all(line["data"]["runId"] == handle.id for line in lines)
    assert [int(line["id"]) for line in lines] == sorted(int(line["id"]) for line in lines)


async def test_watch_of_an_ended_run_prints_its_history_and_exits_by_its_outcome(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'plait.db'}"
    engine = Engine(url)
    register(engine)
    async with engine:
        handle = await engine.start("doomed")
        await assert_eventually(lambda: _ended(handle))
    child = await watch(handle.id, "--db", url, cwd=tmp_path)
    out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 1
    shown = out.decode().splitlines()
    assert [line.split()[1:3] for line in shown] == [
        ["run", "running"], ["step", "explode"], ["run", "failed"],
    ]  # fmt: skip
    assert "explode failed (kind step, attempts 1)" in shown[1]
    assert err.decode().strip() == f"run {handle.id} ended: failed"
    last = shown[-1].split()[0]
    after = await watch(handle.id, "--after", last, "--db", url, "--json", cwd=tmp_path)
    out, err = await asyncio.wait_for(after.communicate(), 30)
    assert after.returncode == 1 and out == b""
    bad = await watch(handle.id, "--after", "x", "--db", url, cwd=tmp_path)
    out, err = await asyncio.wait_for(bad.communicate(), 30)
    assert bad.returncode == 2 and "'x' is not a stream cursor" in err.decode()
    missing = await watch("run_nope", "--db", url, cwd=tmp_path)
    out, err = await asyncio.wait_for(missing.communicate(), 30)
    assert missing.returncode == 3 and "run_nope" in err.decode()


async def _ended(handle: object) -> bool:
    return bool((await handle.info()).done)  # type: ignore[attr-defined]
