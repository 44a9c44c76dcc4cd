"""Request bodies and query parameters of the REST API, as pydantic models (they make the
OpenAPI document). Requests forbid unknown fields. Responses are the resource models of
``plait.resources``, rendered with ``.wire()``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Header
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from plait.resources.keys import Role

MAX_LIMIT = 1000
_SORT_SCHEMA = {
    "anyOf": [
        {"type": "string"},
        {"type": "object", "minProperties": 1, "maxProperties": 1,
         "additionalProperties": {"enum": ["asc", "desc"]}},
        {"type": "null"},
    ]
}  # fmt: skip


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=255,
        description="Makes the request idempotent: a repeat with the same key answers the first "
        "request's result (a run as it is now) and does nothing again; the same key with another "
        "request is a 422. Keys are per organization and kept for `idempotency_seconds` "
        "(default 24 h). See docs/api.md, \"Idempotent requests\".",
    ),
]  # fmt: skip
"""The ``Idempotency-Key`` header of a trigger, an emit and the run operations."""


# -- requests -----------------------------------------------------------------------------------


class WorkflowBody(Strict):
    """A workflow definition in any dialect of the brief (platform entity, function steps,
    service steps, node graph, canonical), plus the service's ``schedule``, ``filter`` and
    ``debounce``. The top-level keys are those of every dialect (a test keeps the list equal to
    the dialect models); the definition validator checks what they hold and reports problems
    with their paths. On ``PATCH`` every field is optional and merged into the document."""

    # the brief's Workflow entity
    record_id: Any = Field(None, alias="$id", description="Ignored: the id is assigned.")
    record_type: Any = Field(None, alias="$type", description="Ignored.")
    name: str | None = Field(None, description="Display name, unique in the organization.")
    description: str | None = Field(None, description="What this workflow does.")
    organization: Any = Field(None, description="Ignored: the organization is the path's.")
    triggerEvent: Any = Field(None, description="The event type (or types) that trigger it.")
    steps: Any = Field(None, description="The steps: a list (or a JSON-encoded list).")
    retryPolicy: Any = Field(None, description="Default retry policy of the steps.")
    errorHandling: Any = Field(None, description="Stop, Continue or Fallback (or an object).")
    timeout: Any = Field(None, description="Longest run, in milliseconds.")
    status: Any = Field(None, description="Ignored: use the lifecycle verbs.")
    version: Any = Field(None, description="Ignored: each update adds a version.")
    lastRunAt: Any = None
    runCount: Any = None
    successCount: Any = None
    failureCount: Any = None
    # the other dialects
    dialect: Any = Field(None, description="entity, function, service, graph or canonical.")
    type: Any = None
    subtype: Any = None
    input: Any = None
    output: Any = None
    inputSchema: Any = None
    outputSchema: Any = None
    outputMapping: Any = Field(None, description="Function steps: the run's output, a template.")
    metrics: Any = None
    pricing: Any = None
    concurrency: Any = Field(None, description="{key, limit, strategy}: runs per key at once.")
    priority: Any = Field(None, description="Its runs' priority, -10 to 10 (default 0).")
    singleton: Any = Field(None, description="{key, mode}: one live run per key.")
    rateLimit: Any = Field(
        None, description="{limit, period, burst, key}: runs started per period (per key); "
        "a start past it waits, queued, until its turn.",
    )  # fmt: skip
    metadata: Any = None
    nodes: Any = None
    edges: Any = None
    context: Any = None
    trigger: Any = None
    retry: Any = None
    input_schema: Any = None
    output_schema: Any = None
    step_timeout: Any = None
    on_error: Any = None
    reviewer: Any = Field(None, description="Who reviews a failed step under human-review.")
    compensation_strategy: Any = None
    progress_events: Any = None
    progressEvents: Any = Field(
        None, description="Emit a WorkflowProgress.updated event as each top-level step ends."
    )
    # state machines
    states: Any = Field(None, description="A state machine's states (see docs/state-machines).")
    initial: Any = Field(None, description="A state machine's initial state.")
    initialState: Any = Field(None, description="Same as ``initial`` (the brief's spelling).")
    correlation: Any = Field(None, description="CEL over the event: the instance's key.")
    events: Any = Field(None, description="Event type -> the event name ``on`` uses.")
    start: Any = Field(None, description="Event types that only create an instance.")
    machine: Any = None
    # the service's options
    schedule: Any = Field(None, description="{cron, timezone?, ...}: a schedule of the workflow.")
    filter: Any = Field(None, description="A CEL condition on the trigger event.")
    debounce: Any = Field(None, description="Coalesce trigger events: {key, delay}.")
    tests: Any = Field(
        None,
        description="Test scenarios {scenarios: [...], required}: with required, "
        "activation runs them first and refuses (409) if one fails (docs/testing.md).",
    )


class TriggerBody(Strict):
    input: Any = Field(None, description="The run's input (checked against the input schema).")
    priority: int | None = Field(
        None, ge=-10, le=10, description="The run's priority, -10 to 10 (higher is claimed "
        "first); the workflow's (default 0) when left out (docs/flow-control.md).",
    )  # fmt: skip


class EventBody(Strict):
    type: str = Field(min_length=1, max_length=200, description="e.g. ``Deal.won``.")
    data: Any = Field(None, description="Any JSON value.")
    id: str | None = Field(
        None, min_length=1, max_length=255, description="Idempotency key: one event per id."
    )


class WebhookBody(Strict):
    name: str = Field(description="1 to 63 of a-z 0-9 . _ -; the URL's last segment.")
    secret: str = Field(description="The shared HMAC secret (never shown again).")
    scheme: Literal["hmac-sha256", "stripe", "github"] = "hmac-sha256"
    eventType: str | None = Field(None, description="The type of every event it emits.")
    mapping: str | None = Field(
        None, description="Or: a CEL expression of body and headers giving {type, data?, id?}."
    )


class NotificationsBody(Strict):
    onStart: list[str] = Field(default_factory=list, description="Addresses told of a start.")
    onComplete: list[str] = Field(
        default_factory=list, description="Addresses told of an end, with its outcome."
    )


class ScheduleBody(Strict):
    """A schedule; ``cron`` or the brief's ``cronExpression`` (one is required)."""

    workflow: str = Field(description="The workflow's id or name.")
    cron: str | None = Field(None, description="5 or 6 fields, e.g. ``0 9 * * 1-5``, or a macro.")
    cronExpression: str | None = Field(None, description="The brief's name for ``cron``.")
    timezone: str = "UTC"
    catchup: Literal["skip", "all"] = "skip"
    maxCatchup: int = Field(10, ge=0, description="Most missed ticks fired by catch-up.")
    input: Any = None
    notifications: NotificationsBody | None = None


class QueryBody(Strict):
    type: Literal["Workflow", "Run", "Event", "Task", "Schedule", "Webhook", "MachineInstance"]
    id: str | None = Field(
        None,
        min_length=1,
        description="One resource by its id (no filter, sort or cursor then); an instance's "
        "is ``workflow/key``.",
    )
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description="Equality on fields, as the type's list takes them: workflows on any "
        "field; runs as GET /runs (workflow, status, outcome, trigger, createdAfter, "
        "createdBefore, search); events on type; tasks on assignee and status; "
        "schedules on workflow; instances on workflow (required).",
    )
    sort: Annotated[str | None, WithJsonSchema(_SORT_SCHEMA)] = Field(
        None, description='``-lastRunAt`` or ``{"lastRunAt": "desc"}`` (workflows only).'
    )
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None

    @field_validator("sort", mode="before")
    @classmethod
    def _sort(cls, value: Any) -> Any:
        """Accept the brief's ``{"field": "asc" | "desc"}`` as well as ``-field``."""
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            raise ValueError("sort by exactly one field")
        ((field, order),) = value.items()
        if order not in ("asc", "desc"):
            raise ValueError(f"sort order must be 'asc' or 'desc', got {order!r}")
        return f"-{field}" if order == "desc" else str(field)


class KeyBody(Strict):
    role: Role
    user: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^\S(.*\S)?$",
        description="Bind the key to this person: human tasks completed with it are completed "
        "by them, and it cannot complete a task as anyone else.",
    )


class SecretBody(Strict):
    name: str = Field(
        min_length=1, description="Letters, digits and _ (``secrets.NAME`` reads it), e.g. TOKEN."
    )
    value: str = Field(description="The value: sealed at rest, never shown again.")


class PageQuery(Strict):
    """A page of a listing: at most ``limit`` items after ``cursor`` (a previous page's
    ``nextCursor``)."""

    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class ScheduleQuery(PageQuery):
    workflow: str | None = Field(None, description="Only this workflow's (id or name).")
