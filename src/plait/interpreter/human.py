"""Interpreting a ``human-task`` step: render who and what, then ``ctx.human_task``.

The templates (``title``, ``description``, ``assign_to``, ``escalate_to``, ``data``) are
rendered against the step's scope on every replay; they read only recorded outputs, so a
replay renders the same task. A template that fails, or an assignee that is not a non-empty
string, fails the step with the field named, and the step's error policy applies; so does an
expired task (``TaskExpired``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from plait.definitions.model import HumanTaskStep
from plait.expressions import EvaluationError, Template, compile_template, shared_budget
from plait.interpreter.located import locator
from plait.runtime.human import Escalation, TaskSpec

if TYPE_CHECKING:
    from plait.interpreter.frame import Frame
    from plait.interpreter.plan import Node
    from plait.interpreter.run import _Run


async def run_human_task(run: _Run, node: Node, frame: Frame, key: str) -> Any:
    """The task's result (``{taskId, decision, approved, ...}``)."""
    step = node.step
    assert isinstance(step, HumanTaskStep)
    try:
        fields = _render(step, frame)
        escalation = None
        if step.escalate_after is not None and fields.get("escalate_to") is not None:
            escalation = Escalation(_person(fields, "escalate_to", step), step.escalate_after)
        spec = TaskSpec.of(
            str(fields.get("title") or step.name or step.id), _person(fields, "assign_to", step),
            step.choices, step.form, step.timeout, escalation, _text(fields.get("description")),
            fields.get("data"),
        )  # fmt: skip
    except (EvaluationError, ValueError, TypeError) as exc:
        await run.fail(key, exc, locator(step))
        raise  # unreachable: fail() raises StepFailed
    return await run.ctx.human_task(
        spec.title, spec.assignee, spec.choices, spec.form, spec.due, spec.escalation,
        name=key, description=spec.description, data=spec.data,
    )  # fmt: skip


def _render(step: HumanTaskStep, frame: Frame) -> dict[str, Any]:
    scope = frame.scope()
    rendered: dict[str, Any] = {}
    with shared_budget(f"the expressions of human task {step.id!r} together"):
        for name, value in step.templates():
            template = _compiled(value) if isinstance(value, str) else compile_template(value)
            rendered[name] = template.render(scope)
    return rendered


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template:
    return compile_template(text)


_FIELDS = {"assign_to": "assignTo", "escalate_to": "escalationPolicy.escalateTo"}
"""The definition's names of the fields that name a person."""


def _person(fields: dict[str, Any], name: str, step: HumanTaskStep) -> str:
    value = fields.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()  # as a person's key names them (no surrounding spaces)
    source = getattr(step, name)
    field = _FIELDS.get(name, name)
    raise EvaluationError(source, f"{field} must give a person (a non-empty string), got {value!r}")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
