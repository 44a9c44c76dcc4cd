"""What a tool answers: the resource models rendered as JSON (as REST renders them, tracebacks
shown only to the roles that write workflows), or, when it fails, a tool error carrying the
REST API's problem document: the same status, detail and ``errors`` of ``{path, message}``.

A failure is never a protocol error or a traceback: the model reads the problem and can act on
it (fix the definition at the paths given, ask for a key with the role named).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from plait.api.problems import KINDS, TYPE_PREFIX, status_of
from plait.api.render import SEES_TRACEBACKS, without_tracebacks
from plait.mcp.access import RoleRefused, Unauthenticated
from plait.resources.base import Resource

log = logging.getLogger(__name__)

_STATUS = {RoleRefused: 403, Unauthenticated: 401}


def wire(value: Any, role: str) -> Any:
    """``value`` (a resource, a page, or JSON) as the wire shows it to ``role``."""
    data = value.wire() if isinstance(value, Resource) else value
    return data if role in SEES_TRACEBACKS else without_tracebacks(data)


def answer(value: Any, role: str) -> CallToolResult:
    """A tool's result: the JSON text, and the same as structured content when it is an
    object."""
    data = wire(value, role)
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2).decode()
    structured = data if isinstance(data, dict) else None
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured)  # fmt: skip


def problem(exc: BaseException, tool: str) -> CallToolResult:
    """A tool error carrying the problem document of ``exc`` (a server fault: a generic
    detail; its traceback goes to the log)."""
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), None)
    status = status or status_of(exc)
    if status == 503:
        log.warning("MCP tool %s: %s", tool, exc)
        document = _document(503, "The database is unreachable; retry shortly.")
    elif status >= 500:
        log.error("MCP tool %s failed", tool, exc_info=exc)
        document = _document(500, "The server failed to handle the call; the error is logged.")
    else:
        document = _document(status, str(exc), _kind(exc, status), _items(exc, "problems"),
                             _title(exc, status))  # fmt: skip
        warnings = _items(exc, "warnings")
        if warnings:
            document["warnings"] = warnings
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=document, is_error=True)  # fmt: skip


def invalid_arguments(exc: ValidationError, tool: str) -> CallToolResult:
    """A tool error for arguments that do not fit the tool's input schema: a 422 problem
    document with each problem at its JSON path into the arguments (``$.limit``)."""
    errors = [{"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                     for p in error["loc"]),
               "message": str(error["msg"])} for error in exc.errors()]  # fmt: skip
    document = _document(422, f"The arguments of {tool} are not valid.", "invalid-arguments",
                         errors, "Invalid arguments")  # fmt: skip
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=document, is_error=True)  # fmt: skip


def _document(
    status: int, detail: str, kind: str | None = None, errors: list[dict[str, str]] | None = None,
    title: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    default_kind, default_title = KINDS.get(status, ("error", "Error"))
    return {"type": TYPE_PREFIX + (kind or default_kind), "title": title or default_title,
            "status": status, "detail": detail, "errors": errors or []}  # fmt: skip


def _title(exc: BaseException, status: int) -> str | None:
    """As REST: the first line of the error class's docstring (a 404's is the status's)."""
    lines = (type(exc).__doc__ or "").strip().splitlines()
    return lines[0] if status != 404 and lines else None


def _kind(exc: BaseException, status: int) -> str:
    """The problem's kind: a missing resource's is ``not-found`` (or its own, as REST), a role
    refused is ``forbidden``, others the error's class in kebab case."""
    if status == 404:
        return str(getattr(exc, "problem_kind", None) or "not-found")
    if isinstance(exc, RoleRefused):
        return "forbidden"
    name = type(exc).__name__
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _items(exc: BaseException, attribute: str) -> list[dict[str, str]]:
    """``[{path, message}]`` of an error that says where the problems are: the paths are JSON
    paths into the tool's argument (a definition's ``$.steps[0].action``, a query's
    ``$.filter.status``)."""
    found = getattr(exc, attribute, None)
    if isinstance(found, list):
        return [{"path": str(p.path), "message": str(p.message)} for p in found]
    path = getattr(exc, "path", None)
    if attribute == "problems" and isinstance(path, str) and path:
        return [{"path": path, "message": str(getattr(exc, "reason", None) or exc)}]
    return []
