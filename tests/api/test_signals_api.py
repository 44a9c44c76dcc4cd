"""Signals and published state over the REST API and the CLI: delivery, and the 4xx answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from plait import Context, Engine
from plait.testing import assert_eventually
from tests.api.conftest import Keys, bearer


def register(engine: Engine) -> None:
    @engine.workflow("inbox")
    async def inbox(ctx: Context) -> Any:
        await ctx.set_state("phase", "listening")
        first = await ctx.receive("note")
        await ctx.set_state("phase", "got one")
        return [first, await ctx.receive("note")]


async def default_runner(engine: Engine) -> dict[str, str]:
    """Code workflows run in the ``default`` organization: a runner key of it."""
    return bearer((await engine.keys.create("default", "runner")).key)


async def test_signal_a_waiting_run_and_read_its_state(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    register(engine)
    await engine.start_worker()
    runner = await default_runner(engine)
    handle = await engine.start("inbox")

    async def listening() -> bool:
        got = (await client.get(f"/~default/runs/{handle.id}", headers=runner)).json()
        return bool(got["status"] == "waiting" and got["state"] == {"phase": "listening"})

    await assert_eventually(listening)
    sent = await client.post(f"/~default/runs/{handle.id}/signals/note", headers=runner,
                             json={"text": "hello"})  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert sent.json()["delivered"] is True and sent.json()["name"] == "note"
    second = await client.post(f"/~default/runs/{handle.id}/signals/note", headers=runner,
                               json=42)  # fmt: skip
    assert second.status_code == 202
    assert await handle.result(timeout=10) == [{"text": "hello"}, 42]
    got = (await client.get(f"/~default/runs/{handle.id}", headers=runner)).json()
    assert got["state"] == {"phase": "got one"} and got["parentRunId"] is None


async def test_signal_errors_are_problems_and_change_nothing(
    client: httpx.AsyncClient, engine: Engine, keys: Keys
) -> None:
    register(engine)
    runner = await default_runner(engine)
    unknown = await client.post("/~default/runs/run_missing/signals/note", headers=runner,
                                json=1)  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    handle = await engine.start("inbox")  # no worker: the run stays pending
    other_org = await client.post(f"/~acme/runs/{handle.id}/signals/note",
                                  headers=bearer(keys["acme"]["admin"]), json=1)  # fmt: skip
    assert other_org.status_code == 404
    viewer = bearer((await engine.keys.create("default", "viewer")).key)
    forbidden = await client.post(f"/~default/runs/{handle.id}/signals/note", headers=viewer,
                                  json=1)  # fmt: skip
    assert forbidden.status_code == 403
    await engine.handle(handle.id).cancel()
    ended = await client.post(f"/~default/runs/{handle.id}/signals/note", headers=runner,
                              json=1)  # fmt: skip
    assert ended.status_code == 409 and "has already ended" in ended.json()["detail"]


def test_plait_runs_signal_from_the_shell(tmp_path: Path) -> None:
    import asyncio

    db = f"sqlite:///{tmp_path / 'cli.db'}"

    async def start() -> str:
        engine = Engine(db)
        register(engine)
        try:
            return (await engine.start("inbox")).id
        finally:
            await engine.close()

    run_id = asyncio.run(start())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}

    def plait(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "plait", *args, "--db", db], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    done = plait("runs", "signal", run_id, "note", "--data", '{"n": 1}', "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] is False
    missing = plait("runs", "signal", "run_missing", "note")
    assert missing.returncode != 0 and "run_missing" in missing.stderr
