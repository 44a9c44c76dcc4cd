"""A step that must run: `required: true` on a step whose condition skipped it fails the run,
naming the step (brief 003); a step without `required` may be skipped."""

from __future__ import annotations

from typing import Any

from plait import Engine
from plait.testing import VirtualClock
from tests.integration.test_interpreter import action, calls, engine, run

__all__ = ["calls", "engine"]  # fixtures used below


async def test_a_skipped_required_step_fails_the_run_naming_it(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("verify", "echo", "v", condition='input.plan == "business"', required=True),
        action("welcome", "echo", "w", depends_on=["verify"]),
    ], {"plan": "personal"}, on_error="continue")  # fmt: skip
    assert report["status"] == "failed"
    assert report["steps"]["verify"]["status"] == "failed"
    assert "welcome" not in report["steps"]
    [error] = report["errors"]
    assert error["step"] == "verify"
    assert error["type"] == "plait.errors.RequiredStepSkipped"
    assert error["message"] == "required step 'verify' was skipped: its condition is false"
    assert calls == []


async def test_a_step_without_required_may_be_skipped(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    report = await run(engine, clock, [
        action("verify", "echo", "v", condition='input.plan == "business"'),
        action("optional", "echo", "o", condition="false", required=False),
    ], {"plan": "personal"})  # fmt: skip
    assert report["status"] == "succeeded"
    assert report["steps"]["verify"]["status"] == "skipped"
    assert report["steps"]["optional"]["status"] == "skipped"


async def test_the_service_dialect_reads_required_as_the_brief_writes_it(
    engine: Engine, clock: VirtualClock, calls: list[Any]
) -> None:
    engine.define({"name": "svc", "steps": [
        {"id": "profile", "type": "function", "function": "echo", "required": True,
         "condition": "false"},
    ]})  # fmt: skip
    async with engine:
        handle = await engine.start("svc", {})
        await clock.run_skipping(_settle(handle))
        run_ = await handle.info()
    assert run_.status == "failed"
    assert "required step 'profile' was skipped" in str(run_.error)


async def _settle(handle: Any) -> None:
    try:
        await handle.result()
    except Exception:
        return
