"""Code the sandbox refuses can never succeed: it is a ``CodeRefused`` and never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plait import Engine, WorkflowFailed
from plait.actions.code import CodeActionError, CodePool, CodeRefused
from plait.resources.reports import RunReport


@pytest.fixture
async def pool() -> AsyncIterator[CodePool]:
    async with CodePool(size=1, timeout=2) as pool:
        yield pool


@pytest.mark.parametrize(
    "code",
    ["import os\nreturn 1", "return ().__class__.__bases__", "return '{0}'.format(1)",
     "return (", "class A:\n    pass"],
    ids=["import", "private-attribute", "str-format", "syntax-error", "class"],
)  # fmt: skip
async def test_refusals_are_code_refused(pool: CodePool, code: str) -> None:
    with pytest.raises(CodeRefused):
        await pool.run(code)


async def test_a_runtime_error_is_not_a_refusal(pool: CodePool) -> None:
    with pytest.raises(CodeActionError) as caught:
        await pool.run("return 1 / 0")
    assert not isinstance(caught.value, CodeRefused)


async def test_a_refused_import_runs_once_despite_the_retry_policy(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'code.db'}")
    workflow = engine.define({
        "name": "refused", "dialect": "canonical",
        "steps": [
            {"kind": "action", "id": "sneaky", "action": "code",
             "input": {"code": "import os\nreturn os.getcwd()"},
             "retry": {"max_attempts": 3, "initial_delay": 0}},
            {"kind": "action", "id": "broken", "action": "code", "on_error": "continue",
             "input": {"code": "return 1 / 0"},
             "retry": {"max_attempts": 3, "initial_delay": 0}},
        ],
        "on_error": "continue",
    })  # fmt: skip
    async with engine:
        handle = await engine.start(workflow)
        with pytest.raises(WorkflowFailed, match="NoStepSucceeded"):  # both steps failed
            await handle.result(timeout=30)
        report = RunReport.of(await engine.handle(handle.id).info()).wire()
    sneaky = report["steps"]["sneaky"]
    assert (sneaky["status"], sneaky["attempts"]) == ("failed", 1)
    assert sneaky["error"]["type"] == "plait.actions.code.pool.CodeRefused"
    assert "import" in sneaky["error"]["message"]
    # A failure of the code itself may be transient: it is retried as the policy says.
    assert (report["steps"]["broken"]["status"], report["steps"]["broken"]["attempts"]) == (
        "failed", 3,
    )  # fmt: skip
