"""The step-result cache over the REST API and the CLI: a run's step shows the hit, the cache's
entries are listed and cleared per workflow or namespace, by the roles allowed to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from plait import Cache, Context, Engine
from tests.api.conftest import bearer

ADDRESSES = {"Main St 1": {"lat": 1.0}, "Side St 2": {"lat": 2.0}}


def register(engine: Engine, calls: list[str]) -> None:
    def geocode(address: str) -> dict[str, Any]:
        calls.append(address)
        return ADDRESSES[address]

    @engine.workflow("geo")
    async def geo(ctx: Context, address: str) -> Any:
        return await ctx.step("geocode", geocode, address, cache=Cache(ttl="1d"))

    @engine.workflow("fx")
    async def fx(ctx: Context) -> Any:
        shared = {"ttl": 60, "key": "today", "namespace": "fx-rates"}
        return await ctx.step("rates", lambda: {"eur": 1.1}, cache=shared)


async def run(engine: Engine, workflow: str, *args: Any) -> str:
    handle = await engine.start(workflow, *args)
    await handle.result(timeout=10)
    return handle.id


async def test_a_hit_shows_on_the_step_and_the_cache_is_listed_and_cleared(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    calls: list[str] = []
    register(engine, calls)
    viewer = bearer((await engine.keys.create("default", "viewer")).key)
    editor = bearer((await engine.keys.create("default", "editor")).key)
    await engine.start_worker()
    for address in ("Main St 1", "Side St 2", "Main St 1"):
        last = await run(engine, "geo", address)
    await run(engine, "fx")

    got = (await client.get(f"/~default/runs/{last}", headers=viewer)).json()
    [step] = got["steps"]
    assert (step["cached"], step["attempts"], step["output"]) == (True, 0, {"lat": 1.0})
    window = (await client.get(f"/~default/runs/{last}/steps", headers=viewer)).json()
    assert [s["cached"] for s in window["items"]] == [True]
    assert calls == ["Main St 1", "Side St 2"]

    listed = (await client.get("/~default/workflows/geo/cache", headers=viewer)).json()
    assert sorted((e["key"], e["hits"], e["scope"]) for e in listed["items"]) == [
        ('{"args":["Main St 1"],"kwargs":{}}', 1, "geo/geocode"),
        ('{"args":["Side St 2"],"kwargs":{}}', 0, "geo/geocode"),
    ]
    spaced = (await client.get("/~default/cache?namespace=fx-rates", headers=viewer)).json()
    assert [(e["key"], e["workflow"]) for e in spaced["items"]] == [("today", "fx")]

    refused = await client.delete("/~default/workflows/geo/cache", headers=viewer)
    assert refused.status_code == 403
    unnamed = await client.delete("/~default/cache", headers=editor)
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"] == [
        {"path": "$.query.workflow", "message": "workflow or namespace is required"}]  # fmt: skip
    cleared = await client.delete("/~default/workflows/geo/cache", headers=editor)
    assert cleared.json() == {"deleted": 2}
    left = (await client.get("/~default/cache", headers=viewer)).json()["items"]
    assert [e["scope"] for e in left] == ["fx-rates"]
    await run(engine, "geo", "Main St 1")
    assert calls == ["Main St 1", "Side St 2", "Main St 1"]
    other = (await client.get("/~acme/cache", headers=bearer(
        (await engine.keys.create("acme", "viewer")).key))).json()  # fmt: skip
    assert other == {"items": []}


def shell(*args: str) -> str:
    """What ``plait ARGS`` prints (it must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    done = subprocess.run([sys.executable, "-m", "plait", *args], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def cli(*args: str, db: str) -> Any:
    return orjson.loads(shell("cache", *args, "--db", db, "--json"))


async def test_the_cli_lists_and_clears_the_cache(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    calls: list[str] = []
    async with Engine(db) as engine:
        register(engine, calls)
        await engine.start_worker()
        await run(engine, "geo", "Main St 1")
        hit = await run(engine, "geo", "Main St 1")
        await run(engine, "fx")
    for command in (("runs", "get", hit), ("runs", "steps", hit)):
        shown = shell(*command, "--db", db)
        assert "completed (cached)" in shown, shown
    listed = cli("list", "--workflow", "geo", db=db)
    assert [(e["scope"], e["hits"]) for e in listed["items"]] == [("geo/geocode", 1)]
    assert cli("clear", "--namespace", "fx-rates", db=db) == {"deleted": 1}
    assert [e["scope"] for e in cli("list", db=db)["items"]] == ["geo/geocode"]
