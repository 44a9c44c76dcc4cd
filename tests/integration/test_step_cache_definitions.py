"""Step-result caching of definitions (``cache: {key, ttl}`` on an action step, every dialect):
hits skip the action (counted calls), keys are templates over what the step's input sees,
organizations never share entries, and a bad ``cache`` is a problem at its JSON path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine
from plait.definitions.validate import InvalidDefinition
from plait.testing import VirtualClock

LIMIT = 30.0
MakeEngine = Callable[..., Engine]


@pytest.fixture
def calls() -> list[Any]:
    return []


@pytest.fixture
def engine(make_engine: MakeEngine, clock: VirtualClock, calls: list[Any]) -> Engine:
    engine = make_engine(clock=clock, poll_seconds=10**6, lease_seconds=10**7,
                         heartbeat_seconds=10**6)  # fmt: skip

    @engine.action("score")
    async def score(value: dict[str, Any]) -> dict[str, Any]:
        calls.append(value)
        return {"email": value["email"], "score": len(calls)}

    return engine


def canonical(name: str = "scoring", **cache: Any) -> dict[str, Any]:
    return {
        "name": name, "dialect": "canonical",
        "steps": [{"id": "score", "kind": "action", "action": "score",
                   "input": {"email": "{{ input.email }}", "note": "{{ input.note }}"},
                   "cache": cache or {"key": "{{ input.email }}", "ttl": "1h"}}],
    }  # fmt: skip


async def run(engine: Engine, clock: VirtualClock, workflow: str, value: Any) -> str:
    handle = await engine.start(workflow, value)
    await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
    return handle.id


async def test_a_cached_action_step_is_not_called_again_for_the_same_key(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    engine.define(canonical())
    async with engine:
        ids = [await run(engine, clock, "scoring", {"email": email, "note": n})
               for n, email in enumerate(["a@x.io", "a@x.io", "b@x.io", "a@x.io"])]  # fmt: skip
        runs = [await engine.runs.get("default", run_id) for run_id in ids]
        entries = await engine.step_cache.entries("default", workflow="scoring")
    assert [c["email"] for c in calls] == ["a@x.io", "b@x.io"]
    assert [r.output for r in runs] == [
        {"score": {"email": "a@x.io", "score": 1}}, {"score": {"email": "a@x.io", "score": 1}},
        {"score": {"email": "b@x.io", "score": 2}}, {"score": {"email": "a@x.io", "score": 1}},
    ]  # fmt: skip
    assert [r.steps[-1].cached for r in runs] == [False, True, False, True]
    assert sorted((e.scope, e.key, e.hits) for e in entries) == [
        ("scoring/score", "a@x.io", 2), ("scoring/score", "b@x.io", 0)]  # fmt: skip


async def test_the_brief_function_dialect_takes_cache_with_a_ttl_in_seconds(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    engine.define({
        "name": "fn", "steps": [
            {"id": "score", "function": "score", "input": {"email": "{{input.email}}"},
             "cache": {"key": "{{ input.email }}", "ttl": 30}},
        ],
    })  # fmt: skip
    async with engine:
        await run(engine, clock, "fn", {"email": "a@x.io"})
        await run(engine, clock, "fn", {"email": "a@x.io"})
        [entry] = await engine.step_cache.entries("default", workflow="fn")
    assert len(calls) == 1
    assert (entry.expires_at - entry.created_at).total_seconds() == 30


async def test_a_template_key_that_is_not_a_string_is_keyed_as_json(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    engine.define(canonical(key="{{ input }}", ttl="5m"))
    async with engine:
        await run(engine, clock, "scoring", {"email": "a@x.io", "note": 1})
        await run(engine, clock, "scoring", {"note": 1, "email": "a@x.io"})
        await run(engine, clock, "scoring", {"email": "a@x.io", "note": 2})
        entries = await engine.step_cache.entries("default")
    assert [c["note"] for c in calls] == [1, 2]
    assert {e.key for e in entries} == {'{"email":"a@x.io","note":1}',
                                        '{"email":"a@x.io","note":2}'}  # fmt: skip


async def test_organizations_never_share_entries(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    async with engine:
        for org in ("acme", "globex"):
            await engine.workflows.create(org, canonical())
        for org in ("acme", "globex", "acme", "globex"):
            run = await engine.workflows.trigger(org, "scoring", {"email": "a@x.io", "note": 0})
            handle = engine.handle(run.id, org=org)
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        acme = await engine.step_cache.entries("acme")
        globex = await engine.step_cache.entries("globex")
        cleared = await engine.step_cache.clear("acme", workflow="scoring")
        left = await engine.step_cache.entries("globex")
    assert len(calls) == 2  # once per organization
    assert [(e.key, e.hits) for e in acme] == [("a@x.io", 1)]
    assert [(e.key, e.hits) for e in globex] == [("a@x.io", 1)]
    assert acme[0].run_id != globex[0].run_id
    assert (cleared, len(left)) == (1, 1)


async def test_a_key_that_fails_to_render_fails_the_step_without_calling_it(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    engine.define(canonical(key="{{ input.customer.id }}", ttl=60))
    async with engine:
        handle = await engine.start("scoring", {"email": "a@x.io"})
        with pytest.raises(Exception, match="customer"):
            await asyncio.wait_for(clock.run_skipping(handle.result()), LIMIT)
        shown = await engine.runs.get("default", handle.id)
    assert calls == []
    [step] = shown.steps
    assert (step.status, step.attempts, step.cached) == ("failed", 0, False)


def test_bad_caches_are_problems_at_their_paths(engine: Engine) -> None:
    document = {
        "name": "bad", "dialect": "canonical",
        "steps": [
            {"id": "a", "kind": "action", "action": "score", "cache": "yes"},
            {"id": "b", "kind": "action", "action": "score", "cache": {"ttl": "soon"}},
            {"id": "c", "kind": "action", "action": "score",
             "cache": {"key": "{{ input.( }}", "ttl": 0, "size": 3}},
            {"id": "d", "kind": "sleep", "seconds": 5, "cache": {"key": "k", "ttl": 5}},
            {"id": "e", "kind": "action", "action": "score",
             "cache": {"key": "", "ttl": "1h", "namespace": 7}},
            {"id": "f", "kind": "action", "action": "score", "cache": {"key": "k"}},
        ],
    }  # fmt: skip
    with pytest.raises(InvalidDefinition) as invalid:
        engine.define(document)
    problems = {p.path: p.message for p in invalid.value.problems}
    assert problems["$.steps[0].cache"].startswith("expected an object {key, ttl}")
    assert problems["$.steps[1].cache.key"].startswith("required: a template")
    assert problems["$.steps[1].cache.ttl"] == (
        "ttl must be seconds (a number) or a duration like '90s', '30m', '1h', '7d', not 'soon'"
    )
    assert "$.steps[2].cache.key" in problems
    assert problems["$.steps[2].cache.ttl"] == "ttl must be more than 0 seconds, not 0"
    assert problems["$.steps[2].cache.size"].startswith("unknown key")
    assert problems["$.steps[3].cache"] == (
        "only an action step's result can be cached, not a sleep step's"
    )
    assert problems["$.steps[4].cache.key"].startswith("expected a non-empty string")
    assert problems["$.steps[4].cache.namespace"] == "expected a non-empty string"
    assert problems["$.steps[5].cache.ttl"].startswith("required: how long an entry lives")


def test_a_nested_step_is_checked_at_its_own_path(engine: Engine) -> None:
    document = {
        "name": "nested", "dialect": "canonical",
        "steps": [{"id": "p", "kind": "parallel", "steps": [
            {"id": "s", "kind": "action", "action": "score",
             "cache": {"key": "k", "ttl": "1x"}}]}],
    }  # fmt: skip
    with pytest.raises(InvalidDefinition) as invalid:
        engine.define(document)
    assert [(p.path, p.message) for p in invalid.value.problems] == [
        (
            "$.steps[0].steps[0].cache.ttl",
            "ttl must be seconds (a number) or a duration like '90s', '30m', '1h', '7d', not '1x'",
        )
    ]
