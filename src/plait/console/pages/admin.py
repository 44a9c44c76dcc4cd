"""What the administration pages (schedules, webhooks, keys, secrets, state machines, audit)
share: a form's problems at their fields, the notice after a change, and JSON typed in a form.

Each page lives in its own module with its ``router``; this one has none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import RedirectResponse

from plait.api.problems import error_items
from plait.errors import PlaitError

GENERAL = "_"
"""The key of a form's problems that belong to no one field."""


class FieldProblem(Exception):
    """A value typed in a form cannot be read (before any service is called)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def problems_of(
    exc: PlaitError | FieldProblem, fields: tuple[str, ...], at: str = GENERAL
) -> dict[str, str]:
    """``{field: message}`` of an error: each problem at the form field its path names (the last
    segment of ``$.body.cron``); an error without a path at the field ``at``, else under
    :data:`GENERAL`."""
    if isinstance(exc, FieldProblem):
        return {exc.field if exc.field in fields else GENERAL: exc.message}
    found: dict[str, str] = {}
    for item in error_items(exc):
        name = item["path"].rsplit(".", 1)[-1]
        found.setdefault(name if name in fields else GENERAL, item["message"])
    return found or {at: str(exc)}


def json_field(text: str, field: str) -> Any:
    """The JSON value typed in ``field`` (an empty field is ``None``)."""
    if not text.strip():
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FieldProblem(field, f"This is not valid JSON: {exc}") from exc


def done(path: str, notice: str) -> RedirectResponse:
    """After a change: back to ``path`` (Post/Redirect/Get) with a short notice to show."""
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={quote(notice, safe='')}", status_code=303)


def text_field(values: dict[str, Any], name: str) -> str:
    """A text field of a posted form, stripped (an absent field is empty)."""
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""
