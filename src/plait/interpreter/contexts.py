"""The workflow context and each step's own context while a run executes (brief 004).

The workflow context starts as the definition's ``context`` rendered over the run's names, and
changes only by a step's ``assign``, merged in when the step succeeds. Both are recorded (kind
``context``: the start under ``run.context``, each write under ``<step key>.context``), so a
replay rebuilds the context from the record rather than from memory, and the run resource shows
it (``Run.context``). A step's own context (``node``) is rendered as the step starts and is seen
by that step only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.expressions import EvaluationError, Template, TemplateError
from plait.interpreter.located import locator

if TYPE_CHECKING:
    from plait.interpreter.frame import Frame
    from plait.interpreter.plan import Node
    from plait.interpreter.run import _Run

START = "run.context"
"""Key of the recorded start of the workflow context."""
KIND = "context"
RUN_KEYS = ("runId", "workflow", "step", "node")
"""What a code action's ``context`` carries besides the workflow context."""


def start_context(run: _Run) -> None:
    """Render the workflow context's start into ``run.context`` (recorded on the first replay;
    a template that fails fails the run)."""
    template = run.plan.context
    if template is None:
        return
    value = _object(template, template.render(run.root.scope()), "the workflow context")
    started = run.ctx.recorded(START, lambda: value, kind=KIND)
    run.context.clear()
    run.context.update(started)


async def own_context(run: _Run, node: Node, frame: Frame, key: str) -> dict[str, Any] | None:
    """Step ``key``'s own context (None: it has none); one that cannot be rendered fails the
    step, at its ``context``."""
    if node.context is None:
        return None
    try:
        return _object(node.context, node.context.render(frame.scope()), "a node's context")
    except EvaluationError as exc:
        await run.fail(key, exc, locator(node.step, "context"))
        raise  # unreachable: fail() raises StepFailed


async def assign(run: _Run, node: Node, frame: Frame, key: str, output: Any) -> None:
    """Merge what step ``key`` writes (its ``assign`` over its ``output``) into the workflow
    context. A write that cannot be rendered fails the run, recorded as ``<key>.context``."""
    if node.assign is None:
        return
    name = f"{key}.{KIND}"
    try:  # its own context rendered as when it started (it rendered then: it does now)
        own = {} if node.context is None else node.context.render(frame.scope())
        scope = frame.scope({"output": output, "node": own})
        value = _object(node.assign, node.assign.render(scope), "what a node assigns")
        taken = [k for k in value if k in RUN_KEYS]
        if taken:
            reason = f"{taken[0]!r} cannot be written to the workflow context: a code node's "
            raise TemplateError("", _source(node.assign), reason + "context carries it")
    except EvaluationError as exc:
        await run.fail(name, exc, locator(node.step, "assign"))
        raise  # unreachable: fail() raises StepFailed
    run.context.update(run.ctx.recorded(name, lambda: value, kind=KIND))


def code_context(run: _Run, key: str, own: dict[str, Any] | None) -> dict[str, Any]:
    """What a code action sees as ``context``: the workflow context now, the run's ``runId``,
    ``workflow`` and ``step``, and its own context as ``node``."""
    ids = {"runId": run.ctx.run_id, "workflow": run.plan.name, "step": key}
    if run.plan.context is None:
        return ids
    return {**run.context, **ids, "node": own if own is not None else {}}


def _object(template: Template, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        shown = "null" if value is None else type(value).__name__
        raise TemplateError("", _source(template), f"{what} must be an object, not {shown}")
    return value


def _source(template: Template) -> str:
    return " ".join(e.source for _, e in template.expressions) or "(literal)"
