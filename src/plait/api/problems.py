"""Every error the API answers is an RFC 9457 problem document (``application/problem+json``):
``{type, title, status, detail, errors: [{path, message}]}``.

This module is the one place that maps plait's errors to HTTP statuses. The table names error
classes rather than importing them: they live in every layer (``plait.service.webhooks``,
``plait.service.cron``, ``plait.definitions``), and a subclass inherits its base's status (the
lookup walks the class's MRO). A ``PlaitError`` not in the table is a server fault: 500, with a
generic detail; its traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from plait.definitions.dialects import loc_path, message
from plait.errors import PlaitError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:plait:problem:"

STATUS_BY_ERROR: dict[str, int] = {
    "NotFound": 404, "UnknownWorkflow": 404,
    "IllegalTransition": 409, "HookVetoed": 409, "RunConflict": 409, "DuplicateWorkflow": 409,
    "ReadOnlyWorkflow": 409, "RunNotResumable": 409, "WebhookExists": 409, "WorkflowNameTaken": 409,
    "RunEnded": 409, "ScenariosFailed": 409,
    "InstanceEnded": 409, "NotAStateMachine": 409, "WorkflowNotActive": 409,
    "InvalidDefinition": 422, "InvalidArguments": 422, "SchemaViolation": 422,
    "SerializationError": 422, "InvalidText": 422, "ScheduleInvalid": 422, "WebhookInvalid": 422,
    "WebhookMappingError": 422, "InvalidRole": 422, "InvalidUser": 422, "ExpressionError": 422,
    "UnknownAction": 422, "LimitExceeded": 422, "SecretKeyMissing": 409, "SecretUnreadable": 409,
    "SecretInvalid": 422,
    "InvalidQuery": 400, "InvalidParameter": 422, "InvalidMetric": 422,
    "TaskForbidden": 403, "TaskNotOpen": 409, "InvalidDecision": 422,
    "SignatureRejected": 401,
    "TooManyStreams": 429, "InvalidStreamRequest": 400,
    "IdempotencyKeyInvalid": 422, "IdempotencyKeyReused": 422, "IdempotencyKeyInProgress": 409,
    "DatabaseUnavailable": 503, "ArchiveUnwritable": 503,
}  # fmt: skip
"""HTTP status of each client error class (and its subclasses)."""

# The kind (``type`` is its URN) and title of each status. Fixed here rather than taken from
# ``http.HTTPStatus``, whose phrases change between Python versions (413, 422 in 3.13).
KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    409: ("conflict", "Conflict"),
    413: ("content-too-large", "Content Too Large"),
    415: ("unsupported-media-type", "Unsupported Media Type"),
    422: ("validation-error", "Unprocessable Content"),
    429: ("too-many-requests", "Too Many Requests"),
    500: ("internal-error", "Internal Server Error"),
    503: ("unavailable", "Service Unavailable"),
}

# Errors whose every problem is a path into the request's body.
_BODY_PATHS = ("InvalidDefinition", "WebhookInvalid", "ScheduleInvalid", "QueryInvalid")
_KEBAB = re.compile(r"(?<!^)(?=[A-Z])")


class ProblemItem(BaseModel):
    path: str = Field(description="A JSON path into the request, e.g. ``$.body.steps[0].id``.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(
        description="A URN naming the kind of problem, e.g. ``urn:plait:problem:not-found``."
    )
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] = Field(default_factory=list)


class ApiProblem(Exception):
    """Raised by the API's own checks (auth, limits, query parameters) to answer a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    errors: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem response; ``kind`` and ``title`` default to the status's (``not-found``)."""
    default_kind, default_title = KINDS.get(status) or ("error", HTTPStatus(status).phrase)
    document = {
        "type": TYPE_PREFIX + (kind or default_kind),
        "title": title or default_title,
        "status": status,
        "detail": detail,
        "errors": [{"path": e["path"], "message": e["message"]} for e in errors],
        **extra,
    }
    return Response(orjson.dumps(document), status, headers=headers, media_type=MEDIA_TYPE)


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error: its class's (or a base class's) entry, else 500."""
    for cls in type(exc).__mro__:
        if cls.__name__ in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls.__name__]
    return 500


def error_items(exc: BaseException) -> list[dict[str, str]]:
    """``[{path, message}]`` of an error that says where in the request the problems are."""
    body = any(cls.__name__ in _BODY_PATHS for cls in type(exc).__mro__)
    found = getattr(exc, "problems", None)
    if isinstance(found, list):
        return [{"path": _rooted(p.path, body), "message": p.message} for p in found]
    path = getattr(exc, "path", None)
    if isinstance(path, str) and path:
        reason = getattr(exc, "reason", None)
        return [{"path": _rooted(path, body), "message": str(reason or exc)}]
    return []


def _rooted(path: str, body: bool) -> str:
    if not body:
        return path
    if path == "$" or path.startswith(("$.", "$[")):
        return "$.body" + path[1:]
    return f"$.body.{path}"


def _kebab(name: str) -> str:
    return _KEBAB.sub("-", name).lower()


# -- exception handlers -------------------------------------------------------------------------


async def on_plait_error(request: Request, exc: Exception) -> Response:
    status = status_of(exc)
    if status == 503:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        if any(cls.__name__ == "DatabaseUnavailable" for cls in type(exc).__mro__):
            return problem(503, "The database is unreachable; retry shortly.",
                           headers={"Retry-After": "2"})  # fmt: skip
        return problem(503, str(exc), kind=_kebab(type(exc).__name__))  # the operator fixes it
    if status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(500, "The server failed to handle the request; the error is logged.")
    # A missing resource answers like a missing route or another organization's resource.
    # A 404 of its own kind (a workflow without tests: NoTests) names it.
    kind = getattr(exc, "problem_kind", None) if status == 404 else _kebab(type(exc).__name__)
    title = None if status == 404 else (type(exc).__doc__ or "").strip().splitlines()[0]
    headers = {"WWW-Authenticate": 'Signature realm="webhook"'} if status == 401 else None
    extra: dict[str, Any] = {}
    warnings = getattr(exc, "warnings", None)
    if isinstance(warnings, list) and warnings:
        extra["warnings"] = [
            {"path": _rooted(w.path, True), "message": w.message} for w in warnings
        ]
    return problem(status, str(exc), kind=kind, title=title, errors=error_items(exc),
                   headers=headers, **extra)  # fmt: skip


async def on_api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem(exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
        at = broken["loc"][-1] if len(broken["loc"]) > 1 else None
        where = f" at character {at}" if isinstance(at, int) else ""
        detail = f"The request body is not valid JSON: {reason}{where}."
        body = [{"path": "$.body", "message": reason}]
        return problem(400, detail, kind="invalid-json", errors=body)
    if any(tuple(e["loc"]) == ("body",) and isinstance(e.get("input"), bytes) for e in errors):
        detail = "The request body must be JSON, sent with 'Content-Type: application/json'."
        return problem(415, detail, errors=[{"path": "$.body", "message": "not JSON"}])
    items = [{"path": loc_path("$", _located(e["loc"])), "message": _message(e)} for e in errors]
    count = f"{len(items)} problem" + ("" if len(items) == 1 else "s")
    listing = "; ".join(f"{i['path']}: {i['message']}" for i in items[:5])
    return problem(422, f"The request is invalid ({count}): {listing}", kind="validation-error",
                   errors=items)  # fmt: skip


def _located(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """A pydantic error location, with FastAPI's ``header`` named ``headers`` as every path
    into a request's headers is (``$.headers["Idempotency-Key"]``)."""
    return ("headers", *loc[1:]) if loc[:1] == ("header",) else tuple(loc)


def _message(error: Any) -> str:
    if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
        return "a JSON body is required"
    return message(error)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = f"Nothing at {request.url.path}."
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers = {name: value for name, value in headers.items() if name.lower() != "allow"}
        headers["Allow"] = ", ".join(allowed)
        detail = (
            f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}."
        )
    else:
        detail = str(exc.detail)
    return problem(exc.status_code, detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (the router reports only the first
    route's, and FastAPI makes one route per method)."""
    methods: set[str] = set()
    for pattern, served in request.app.state.route_methods:
        if pattern.match(request.url.path):
            methods |= served
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Answer every error ``app`` raises with a problem document."""
    app.add_exception_handler(PlaitError, on_plait_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_exception)


def described(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem documents of these statuses."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {s: {"description": KINDS[s][1], "content": {MEDIA_TYPE: {"schema": schema}}}
            for s in statuses}  # fmt: skip


PROBLEM_RESPONSES = described(400, 401, 403, 404, 422)
"""What every operation under ``/~{org}`` may answer."""
WITH_BODY = described(413, 415)
"""What an operation that reads a body may answer too."""
CONFLICTS = described(409)
"""What a lifecycle verb may answer too."""
