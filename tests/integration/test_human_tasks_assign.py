"""A ``human-task`` step whose ``assignTo`` does not give a person fails, naming the field, and
opens no task (both backends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine, WorkflowFailed

MakeEngine = Callable[..., Engine]

SIGN: dict[str, Any] = {"name": "sign-off", "steps": [
    {"id": "sign", "type": "human-task", "assignTo": "input.owner", "timeout": "1h"},
]}  # fmt: skip


@pytest.mark.parametrize("owner", [42, "", None, ["ann"]], ids=["number", "empty", "null", "list"])
async def test_an_assignee_that_is_not_a_person_fails_the_step(
    make_engine: MakeEngine, owner: Any
) -> None:
    engine = make_engine()
    engine.define(SIGN)
    async with engine:
        handle = await engine.start("sign-off", {"owner": owner})
        with pytest.raises(WorkflowFailed) as failure:
            await handle.result(timeout=10)
        run = await engine.handle(handle.id).info()
        assert (await engine.tasks.find("default")).items == []
    message = failure.value.error["message"]
    assert "assignTo must give a person (a non-empty string)" in message
    assert f"got {owner!r}" in message
    [step] = run.steps
    assert step.key == "sign" and step.status == "failed"
