"""Check a workflow's contexts (brief 004): the workflow context every step reads and writes,
and each step's own context.

A workflow with a ``context`` (every node graph has one) gives its expressions two more names:
``context``, the workflow context as the earlier steps left it, and ``node``, the step's own
context. Its ``context`` is a template over the run's names (``input``, ``event``, ...) of the
object it starts as; a step's ``context`` is a template of an object too (it may read
``context``, not ``node``); a step's ``assign`` is a template of the object it merges into the
workflow context when it succeeds, and it also sees ``output``, the step's output.

Keys that a code action's ``context`` carries for the run (``runId``, ``workflow``, ``step``,
``node``) cannot be workflow context keys; a workflow without a context has no ``assign`` nor
step ``context``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plait.definitions.model import ActionStep
from plait.definitions.validate import CONTEXT_NAMES, RESERVED, at, join

if TYPE_CHECKING:
    from plait.definitions.validate import _Validation

RUN_KEYS = ("runId", "workflow", "step", "node")
"""What a code action's ``context`` carries besides the workflow context."""


def check_contexts(validation: _Validation) -> None:
    """Add every problem of the workflow's contexts to ``validation.findings``."""
    definition = validation.definition
    steps = [step for step in validation.all
             if isinstance(step, ActionStep) and validation.readable(step)]  # fmt: skip
    if definition.context is None:
        for step in steps:
            for field in ("context", "assign"):
                if getattr(step, field) is not None:
                    message = f"a step's {field} needs a workflow context: give the workflow one"
                    validation.findings.error(at(step, field), message)
        return
    where = validation.sources.get("context", "$.context")
    validation.template(definition.context, where, RESERVED | validation.nouns)
    _an_object(validation, definition.context, where)
    for any_step in validation.all:
        if any_step.id in CONTEXT_NAMES:
            validation.findings.error(at(any_step, "id"), f"step id {any_step.id!r} is "
                                      "reserved: expressions use it for a context")  # fmt: skip
    for step in steps:
        _check_step(validation, step)


def _check_step(validation: _Validation, step: ActionStep) -> None:
    if step.context is not None:
        where = at(step, "context")
        validation.template(step.context, where, validation.known - {"node"})
        _an_object(validation, step.context, where, run_keys=False)
    if step.assign is not None:
        where = at(step, "assign")
        validation.template(step.assign, where, validation.known | {"output"})
        _an_object(validation, step.assign, where)


def _an_object(validation: _Validation, value: Any, where: str, run_keys: bool = True) -> None:
    """``value`` must give an object: be one (without the run's keys), or be one expression
    (whose value is checked when it is rendered)."""
    findings = validation.findings
    if isinstance(value, dict):
        for key in value if run_keys else ():
            if key in RUN_KEYS:
                findings.error(join(where, key), f"{key!r} cannot be a workflow context key: "
                               "a code node's context carries the run's "
                               f"{', '.join(RUN_KEYS)}")  # fmt: skip
        return
    text = value.strip() if isinstance(value, str) else ""
    if not (text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1):
        findings.error(where, "expected an object (or one {{ expression }} giving one)")
