"""JSON responses of the API: the service's resources, sent as they are (no re-validation), but
for what the caller's role may not see.

Error disclosure by role: a recorded error (a run's or a step's ``error``) carries its type and
message for everyone; its ``traceback`` (the frames of code-defined workflows) only for editor
and admin keys, who write workflows. Declarative steps record no traceback at all, but the
definition path at fault (``path``: ``$.steps[2].input.email``), which every role sees. The role
is set by the authentication dependency for the request; a response of a request without one
(or of a viewer or runner key) has its tracebacks removed.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import orjson
from starlette.responses import Response

SEES_TRACEBACKS = frozenset({"editor", "admin"})
"""Roles shown the tracebacks of recorded errors."""

# Values written by users or their systems: never rewritten, whatever keys they hold.
_USER_DATA = frozenset({"input", "output", "data", "payload", "result", "variables", "context",
                        "state", "event"})  # fmt: skip
_role: ContextVar[str | None] = ContextVar("plait_api_role", default=None)


def disclose_for(role: str) -> None:
    """Render this request's answers as ``role`` may see them (called once authenticated)."""
    _role.set(role)


class Json(Response):
    """``application/json`` serialised with orjson (datetimes as ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if _role.get() not in SEES_TRACEBACKS:
            content = without_tracebacks(content)
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def without_tracebacks(content: Any) -> Any:
    """``content`` with the ``traceback`` of every recorded error (an ``error`` object) left
    out, wherever resources nest them (pages, steps, machine views); user data is not visited.
    The error objects themselves are replaced, not changed. Iterative: any depth."""
    pending = [content]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, dict | list))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "error" and isinstance(value, dict):
                node[key] = _stripped(value)
            elif key not in _USER_DATA and isinstance(value, dict | list):
                pending.append(value)
    return content


def _stripped(error: dict[str, Any]) -> dict[str, Any]:
    """A copy of a recorded error without the ``traceback`` of it or of any ``cause`` it wraps
    (a failed child's error nests the child's under ``cause``)."""
    out = {k: v for k, v in error.items() if k != "traceback"}
    node = out
    while isinstance(node.get("cause"), dict):
        node["cause"] = {k: v for k, v in node["cause"].items() if k != "traceback"}
        node = node["cause"]
    return out


def items(found: list[dict[str, Any]]) -> Json:
    """An unpaged list in the shape of a page: ``{"items": [...], "nextCursor": null}``. For
    short lists only: a listing that can grow pages with ``limit`` and a cursor."""
    return Json({"items": found, "nextCursor": None})


def no_content() -> Response:
    return Response(status_code=204)
