"""Where a declarative step's error is, in the author's definition.

The author of a definition cannot act on the engine's frames, so the error recorded for a
declarative step (``plait.values.error_info``) carries no traceback but the JSON path of what
failed in the source document: the step (``$.steps[2]``), or the field whose expression failed
(``$.steps[2].input.email``, ``$.steps[0].condition``). Paths name the fields as the author wrote
them (a dialect's ``mapping`` for ``input``).
"""

from __future__ import annotations

from collections.abc import Callable
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

    def locate(exc: BaseException) -> str:  # paths are built only when an error is recorded
        where = at(step, field) if field else step.path or "$"
        templated = field is not None or isinstance(step, ActionStep | WorkflowStep)
        if templated and isinstance(exc, TemplateError):
            return within(where if field else at(step, "input"), exc.path)
        return where

    return locate


def at_path(path: str) -> Locate:
    """Every error is at ``path``."""
    return lambda exc: path


class declared:
    """While the body runs (a ``ctx.step`` of a declarative step), errors recorded for it carry
    their definition path (``locate(error)``) and no traceback. (A class: it is entered for
    every step, and a generator-based context manager costs several times more.)"""

    __slots__ = ("locate", "token")

    def __init__(self, locate: Locate) -> None:
        self.locate = locate

    def __enter__(self) -> None:
        self.token = values.STEP_LOCATION.set(self.locate)

    def __exit__(self, *exc: object) -> None:
        values.STEP_LOCATION.reset(self.token)


def located_error(locate: Locate, exc: BaseException) -> dict[str, Any]:
    """The recorded form of ``exc`` for an error recorded directly (not raised by a step)."""
    with declared(locate):
        return values.error_info(exc)
