"""The canonical form itself (``plait schema`` describes it): validated by the model directly.

A document is canonical when it says ``"dialect": "canonical"`` or its steps carry ``kind``.
Steps get their source ``path`` filled in when the document does not give one.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from plait.definitions.dialects import Normalised, loc_path, message
from plait.definitions.model import (
    ActionStep,
    ConditionStep,
    Definition,
    ForeachStep,
    ParallelStep,
    SleepStep,
    Step,
)
from plait.definitions.validate import Findings, join

_KINDS = frozenset(
    model.model_fields["kind"].default
    for model in (ActionStep, ParallelStep, ConditionStep, ForeachStep, SleepStep)
)


def normalise(document: dict[str, Any], findings: Findings) -> Normalised:
    """Validate a canonical document with the model; report pydantic's errors at their paths."""
    try:
        definition = Definition.model_validate(document, context={"draft": findings.draft})
    except ValidationError as exc:
        for error in exc.errors():
            findings.error(loc_path("$", _without_kind(error["loc"])), message(error))
        return Normalised(None)
    _fill_paths(definition.steps, "$.steps")
    return Normalised(definition)


def _without_kind(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the discriminator tag pydantic puts after a list index (``steps, 0, 'action'``)."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (part in _KINDS and index > 0 and isinstance(loc[index - 1], int))
    )


def _fill_paths(steps: list[Step], where: str) -> None:
    for index, step in enumerate(steps):
        path = step.path or join(where, index)
        step.path = path
        _fill_paths(step.fallback, join(path, "fallback"))
        if isinstance(step, ParallelStep | ForeachStep):
            _fill_paths(step.steps, join(path, "steps"))
        elif isinstance(step, ConditionStep):
            _fill_paths(step.then, join(path, "then"))
            _fill_paths(step.else_, join(path, "else"))
        compensation: list[Step] = list(step.compensation)
        _fill_paths(compensation, join(path, "compensation"))
