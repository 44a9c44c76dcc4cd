"""Where a declarative step's error is, in the author's definition.

The author of a definition cannot act on the engine's frames, so the error recorded for a
declarative step (``plait.values.error_info``) carries no traceback but the JSON path of what
failed in the source document: the step (``$.steps[2]``), or the field whose expression failed
(``$.steps[2].input.email``, ``$.steps[0].condition``). Paths name the fields as the author wrote
them (a dialect's ``mapping`` for ``input``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from plait import values
from plait.definitions.model import ActionStep, Step, WorkflowStep
from plait.definitions.validate import at, within
from plait.expressions import TemplateError

Locate = Callable[[BaseException], str]
"""Where in the definition an error is."""


def locator(step: Step, field: str | None = None) -> Locate:
    """Where an error of ``step`` is: in ``field`` (named canonically; the source's name is
    used) if given, else the step. A template that failed to render names its field inside
    ``field``, or inside the step's ``input``."""
    where = at(step, field) if field else step.path or "$"
    templated = field is not None or isinstance(step, ActionStep | WorkflowStep)
    template = where if field else at(step, "input")

    def locate(exc: BaseException) -> str:
        if templated and isinstance(exc, TemplateError):
            return within(template, exc.path)
        return where

    return locate


def at_path(path: str) -> Locate:
    """Every error is at ``path``."""
    return lambda exc: path


@contextmanager
def declared(locate: Locate) -> Iterator[None]:
    """While the body runs (a ``ctx.step`` of a declarative step), errors recorded for it carry
    their definition path (``locate(error)``) and no traceback."""
    token = values.STEP_LOCATION.set(locate)
    try:
        yield
    finally:
        values.STEP_LOCATION.reset(token)


def located_error(locate: Locate, exc: BaseException) -> dict[str, Any]:
    """The recorded form of ``exc`` for an error recorded directly (not raised by a step)."""
    with declared(locate):
        return values.error_info(exc)
