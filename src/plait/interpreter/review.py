"""``onError: human-review``: a step that failed after its retries asks a person what to do.

The review is a human task (``ctx.human_task``) named ``{key}.review`` (``{key}.review#2`` for
a second review of the same step), offered to the step's ``reviewer``, else the workflow's,
else the organization's shared inbox :data:`ANYONE`, with the choices ``retry``, ``skip`` and
``fail``. Its ``data`` shows the step (id, name, key), its input (the arguments as the step's
input renders them, secrets as ``[secret:NAME]``) and its error (type and message). The
decision is the task's recorded result: a replay reads it back and never asks twice, and the
step's recorded attempts are never run again.

- ``retry``: the step runs again with a fresh attempt count, recorded under its next key
  (``charge#2``); if it fails again, it is reviewed again.
- ``skip``: the run carries on as under ``continue``: the step counts as failed, and the run
  ends ``partial`` (or ``failed`` if no step succeeded).
- ``fail``: the run fails with the step's error, as under ``stop``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from plait.errors import StepFailed
from plait.expressions import EvaluationError, Template, compile_template
from plait.interpreter.located import at_path, locator
from plait.interpreter.secrets import EVERY, secret_names
from plait.runtime.human import ANYONE
from plait.secrets import SCOPE_NAME

if TYPE_CHECKING:
    from plait.interpreter.frame import Frame
    from plait.interpreter.plan import Node
    from plait.interpreter.run import _Run

CHOICES = ["retry", "skip", "fail"]


async def review_failure(
    run: _Run, node: Node, frame: Frame, key: str, failure: StepFailed
) -> tuple[bool, Any]:
    """``(True, output)`` once a retry succeeds; ``(False, None)`` when the reviewer skips the
    step; raises the step's failure when the reviewer fails the run."""
    while True:
        decision = await _ask(run, node, frame, key, failure)
        if decision == "skip":
            return False, None
        if decision != "retry":
            raise failure
        try:
            if node.condition is not None and not await run.holds(node, frame, key):
                return False, None  # cannot happen: the condition read what it read before
            return True, await run.run(node, frame, key)
        except StepFailed as again:
            failure = again


async def _ask(run: _Run, node: Node, frame: Frame, key: str, failure: StepFailed) -> str:
    step = node.step
    error = {"type": failure.error_type, "message": failure.message}
    data = {
        "workflow": run.plan.name,
        "step": {"id": step.id, "name": step.name, "key": failure.step},
        "input": _input(node, frame),
        "error": error,
    }
    label = step.name or step.id
    result = await run.ctx.human_task(
        f"Review failed step {label!r}", await _reviewer(run, node, frame, key), CHOICES,
        name=f"{key}.review", data=data,
        description=f"{error['type']}: {error['message']} - retry the step, skip it (the run "
        "carries on without it) or fail the run",
    )  # fmt: skip
    return str(result["decision"])


async def _reviewer(run: _Run, node: Node, frame: Frame, key: str) -> str:
    """Who reviews: the step's ``reviewer`` (a template), else the workflow's, else anyone. A
    reviewer that does not render to a name fails the review step, naming the field."""
    source = node.step.reviewer or run.plan.definition.reviewer
    if source is None:
        return ANYONE
    try:
        value = _compiled(source).render(frame.scope())
        if not isinstance(value, str) or not value.strip():
            raise EvaluationError(source, f"reviewer must give a person (a non-empty string), "
                                  f"got {value!r}")  # fmt: skip
    except EvaluationError as exc:
        own = node.step.reviewer is not None
        where = locator(node.step, "reviewer") if own else at_path("$.reviewer")
        await run.fail(f"{key}.review", exc, where)
        raise  # unreachable: fail() raises StepFailed
    return value.strip()


def _input(node: Node, frame: Frame) -> Any:
    """The step's input as it renders now, secrets shown by name; None if it does not render
    (its error says why) or reads secrets by computed names."""
    if node.input is None:
        return None
    names = secret_names(node.input)
    if names is EVERY:
        return None
    markers = {SCOPE_NAME: {name: f"[secret:{name}]" for name in names}} if names else None
    try:
        return node.input.render(frame.scope(markers))
    except EvaluationError:
        return None


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    return compile_template(text)
