"""Interpreting a ``workflow`` step: render its input, then run the child (``ctx.child``).

The input template reads only recorded outputs, so a replay renders the same input; the child's
id derives from the run's id and the step's key, so a replay never starts a second child. A
template that fails to render fails the step (its error policy applies), as does a child that
fails, is cancelled, or does not end within the step's ``timeout``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.definitions.model import WorkflowStep
from plait.expressions import EvaluationError
from plait.interpreter.located import locator

if TYPE_CHECKING:
    from plait.interpreter.frame import Frame
    from plait.interpreter.plan import Node
    from plait.interpreter.run import _Run


async def run_workflow_step(run: _Run, node: Node, frame: Frame, key: str) -> Any:
    """The child's output, or ``{runId, workflow}`` for ``wait: false``."""
    step = node.step
    assert isinstance(step, WorkflowStep)
    try:
        value = node.input.render(frame.scope()) if node.input is not None else None
    except EvaluationError as exc:
        await run.fail(key, exc, locator(step, "input"))
        raise  # unreachable: fail() raises StepFailed
    args = () if step.input is None else (value,)
    if not step.wait:
        handle = await run.ctx.start_child(step.workflow, *args, name=key)
        return {"runId": handle.id, "workflow": handle.workflow}
    return await run.ctx.child(step.workflow, *args, name=key, timeout=node.timeout)
