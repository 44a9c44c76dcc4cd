"""The records of the store: the dataclasses that cross the ``Store`` boundary, and the store's
constants. Pure data: no SQL, no I/O.

Values cross the boundary with JSON already encoded (``bytes``), so a backend never sees Python
objects it must serialise; documents are the exception (their verbs take and return dicts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

# Run statuses: ``pending`` (runnable), ``running`` (leased), ``waiting`` (suspended until
# ``wake_at``), and the terminal ``succeeded``, ``failed``, ``cancelled``.
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
RUN_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled")

# Fields of a document as workflows see it that the store computes; never stored in its data.
DOCUMENT_FIELDS = frozenset({"$id", "$type", "createdAt", "updatedAt"})

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def keyed_event_id(key: str) -> str:
    """The event id that a write made under idempotency ``key`` emits (``event_`` + base62).

    Derived, not random, so that a write retried under the same key finds its own event and is
    not applied twice. 16 base62 characters of a SHA-256 keep 95 bits, as random ids do.
    """
    raw = int.from_bytes(hashlib.sha256(key.encode()).digest()[:12], "big")
    chars = []
    for _ in range(16):
        raw, digit = divmod(raw, 62)
        chars.append(_BASE62[digit])
    return f"event_{''.join(chars)}"


def child_run_id(parent_id: str, step_key: str, attempt: int = 1) -> str:
    """The id of the child run that the parent's step ``step_key`` starts (deterministic).

    ``attempt`` counts the children that step has started: a step that runs again after its
    run was resumed starts attempt 2 (and so on) instead of finding the child that failed.
    """
    suffix = "" if attempt == 1 else f"#{attempt}"
    return "run_" + keyed_event_id(f"child:{parent_id}/{step_key}{suffix}").removeprefix("event_")


def iso_time(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC with milliseconds, as JavaScript prints dates."""
    text = datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else iso_time(stamp)


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create."""

    id: str
    workflow: str
    input: bytes
    created_at: float
    deadline_at: float | None = None
    org: str = "default"
    trigger: str = "api"
    workflow_id: str | None = None
    """The registry id of the workflow (stored definitions and registered code workflows)."""
    workflow_version: int | None = None
    """The stored definition version the run is pinned to (None for code workflows)."""
    event_id: str | None = None
    trace_context: str | None = None
    """The W3C trace context its replays continue (``plait.tracing.carrier``)."""
    actor: dict[str, Any] | None = None
    """Who started it by hand (``plait.service.audit.actor_data``), for the ``trigger`` of its
    ``Workflow.triggered``; not stored with the run."""
    flow: RunFlow | None = None
    """Its flow control (priority, concurrency key, singleton, debounce): None for a plain run,
    created by ``create_run``'s fast path (``plait.store.concurrency``)."""


@dataclass(frozen=True, slots=True)
class RunFlow:
    """What flow control decided for a new run (``plait.service.concurrency``)."""

    priority: int = 0
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    strategy: str = "queue"
    """Over the key's limit: ``queue``, ``cancel-newest`` (the store cancels the new run at
    once), ``cancel-in-progress`` (the service cancels the oldest live runs)."""
    singleton_key: str | None = None
    singleton_skip: bool = False
    """``skip``: a start while a run of its singleton key is live returns that run."""
    debounce_key: str | None = None
    wake_at: float | None = None
    """A debounced start's end of quiet: it waits until then (a later start pushes it)."""
    throttle: tuple[str, float, float] | None = None
    """Its workflow's start throttle (``plait.service.start_limits``): the rate limit's name,
    interval and tolerance; the run's turn is reserved in the transaction that creates it, and
    a turn later than now makes it wait until then (``plait.store.limits.start_turn``)."""


@dataclass(slots=True)
class StepRecord:
    """One recorded step of a run, keyed by name and occurrence (``charge#2``).

    ``status`` is ``completed``, ``failed`` (after its last attempt), ``retrying`` (an attempt
    failed, the next is due at ``wake_at``) or ``waiting`` (a sleep until ``wake_at``).
    """

    key: str
    position: int
    name: str
    kind: str
    status: str
    attempts: int = 0
    output: bytes | None = None
    error: bytes | None = None
    started_at: float | None = None
    finished_at: float | None = None
    wake_at: float | None = None
    cached: bool = False
    """Whether the step's output came from the step-result cache (its callable did not run)."""


@dataclass(slots=True)
class RunRecord:
    """A run as stored."""

    id: str
    org: str
    workflow: str
    status: str
    input: bytes
    output: bytes | None
    error: bytes | None
    trigger: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    wake_at: float | None
    deadline_at: float | None
    lease_owner: str | None
    lease_expires_at: float | None
    fence: int
    replays: int
    workflow_id: str | None = None
    workflow_version: int | None = None
    event_id: str | None = None
    parent_run_id: str | None = None
    """The run that started this one as a child (``trigger == "child"``)."""
    parent_step: str | None = None
    """The key of the parent's step that started it."""
    outcome: str | None = None
    """How it ended (succeeded, partial, failed, cancelled); None until it ends."""
    priority: int = 0
    """Claims take higher priorities first (read by ``get_run`` only; listings leave 0)."""
    concurrency_key: str | None = None
    """The value of its workflow's concurrency key (``get_run`` only)."""
    steps: list[StepRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What a cancel did: the run as it now is, and every run it cancelled."""

    run: RunRecord
    cancelled: tuple[str, ...]
    """The run itself (unless it had already ended) and its descendants that were still live,
    parents before children; empty when nothing in the tree was live."""


@dataclass(frozen=True, slots=True)
class NewChild:
    """A child run a parent's step starts; ``step`` is that step, recorded with it."""

    id: str
    """Derived from the parent's id and the step's key, so a replayed start finds it."""
    org: str
    ref: str
    """The workflow: a name or ``workflow_`` id in ``org`` (or a code workflow's name)."""
    input: bytes
    step: StepRecord
    deadline_at: float | None = None
    code_name: str | None = None
    """Set when the caller passed a code ``Workflow`` object: run it by this name."""
    max_depth: int = 32
    """``Settings.max_run_tree_depth``: the deepest the child may be below its tree's root."""
    max_runs: int = 10_000
    """``Settings.max_run_tree_runs``: the most runs its tree may hold, root included."""
    trace_context: str | None = None
    """The trace context of the parent's replay that started it; the child's replays continue it."""


@dataclass(frozen=True, slots=True)
class SignalSent:
    """A signal queued for a run; ``step`` is the waiting receive step it completed, if any."""

    run_id: str
    name: str
    seq: int
    step: str | None


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this worker now holds under ``fence``, with the steps recorded so far."""

    id: str
    workflow: str
    input: bytes
    fence: int
    created_at: float
    deadline_at: float | None
    steps: list[StepRecord]
    org: str = "default"
    workflow_id: str | None = None
    workflow_version: int | None = None
    ready_at: float | None = None
    """When it became runnable (created or made ``pending``, its wake time due, or its lease
    expired); ``None`` when leased at creation."""
    reclaimed: bool = False
    """Whether it was claimed from a lease that had expired (another worker's, or a lapsed
    one of this worker's)."""
    trace_context: str | None = None
    """The W3C trace context it was started in (``plait.tracing.carrier``), if any."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker: where it runs and until when its heartbeat holds."""

    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event. ``source`` says who emitted it (``action``, ``api``, ``record`` ...)."""

    id: str
    org: str
    type: str
    data: bytes
    source: str
    run_id: str | None
    created_at: float
    trace_context: str | None = field(default=None, compare=False)
    """The emitter's trace context, which the runs the event starts continue (not stored)."""


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A document of the built-in store: ``data`` holds its fields, without the computed ones."""

    org: str
    noun: str
    id: str
    data: dict[str, Any]
    created_at: float
    updated_at: float
    version: int

    def as_dict(self) -> dict[str, Any]:
        """The document as workflows see it: its fields plus ``$id``, ``$type``, ``createdAt``
        and ``updatedAt`` (ISO 8601)."""
        return {
            **self.data,
            "$id": self.id,
            "$type": self.noun,
            "createdAt": iso_time(self.created_at),
            "updatedAt": iso_time(self.updated_at),
        }


# -- workflow registry and event dispatch --------------------------------------------------------


@dataclass(slots=True)
class WorkflowRecord:
    """A stored workflow (its current version)."""

    org: str
    id: str
    name: str
    kind: str
    """``definition`` (stored document) or ``code`` (registered in Python; read-only)."""
    status: str
    version: int
    document: dict[str, Any]
    running: int
    run_count: int
    success_count: int
    failure_count: int
    last_run_at: float | None
    created_at: float
    updated_at: float
    triggers: list[str] = field(default_factory=list)
    """The event types that trigger it, in its definition's order, as stored when it was saved
    (reading a workflow never parses its definition)."""


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One immutable version: the document as written and its canonical definition."""

    org: str
    workflow_id: str
    version: int
    document: dict[str, Any]
    definition: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class TriggerCandidate:
    """An Activated workflow listening for the event's type."""

    workflow_id: str
    name: str
    kind: str
    version: int
    definition: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WaitCandidate:
    """A run waiting (``ctx.wait_for`` or a wait step) for the event's type."""

    run_id: str
    step_key: str
    match: str | None
    scope: dict[str, Any] | None = None
    """Run-local names the match reads, captured when the wait began."""


@dataclass(frozen=True, slots=True)
class RunToStart:
    """A run the event starts. With ``debounce_key`` it waits ``debounce_delay`` seconds for
    later events with the same key, which replace its input and push its start back."""

    run_id: str
    workflow_id: str
    name: str
    version: int | None
    input: bytes
    debounce_key: str | None = None
    debounce_delay: float | None = None
    flow: RunFlow | None = None
    """Its workflow's priority and concurrency key (``plait.store.concurrency.flow_started``)."""


@dataclass(frozen=True, slots=True)
class MachineDelivery:
    """An event for the state-machine instance ``key`` of a workflow. ``start`` is the run that
    creates the instance if it does not exist yet (None: the event cannot create one); the
    event is put in the instance's inbox unless it only creates it (``inbox`` false)."""

    workflow_id: str
    key: str
    start: RunToStart | None = None
    inbox: bool = True


@dataclass(slots=True)
class Decision:
    """What an event does."""

    starts: list[RunToStart] = field(default_factory=list)
    resolves: list[WaitCandidate] = field(default_factory=list)
    deliveries: list[MachineDelivery] = field(default_factory=list)


@dataclass(slots=True)
class Dispatched:
    """What an event did: the runs it started (or debounced into) and the waits it resolved."""

    runs: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


class EventRouter(Protocol):
    """Service rules applied to each stored event, inside its transaction (must not do I/O)."""

    def route(
        self,
        event: EventRecord,
        triggers: list[TriggerCandidate],
        waits: list[WaitCandidate],
    ) -> Decision: ...

    def announce(self, workflow: WorkflowRecord) -> dict[str, Any]:
        """The document of ``workflow`` that a ``Workflow.triggered`` or ``Workflow.finished``
        event carries (inside the transaction that starts or ends the run)."""
        ...

    def committed(self, announcements: list[Any]) -> None:
        """After a commit (on the event loop's thread): the runs it started and ended, as
        :class:`plait.store.announcements.Announcement` (the service runs its hooks)."""
        ...


TRIGGER_EVENT_KEY = "$event"
"""The key of the step that records a code workflow run's trigger event (``ctx.event``)."""


# -- human tasks --------------------------------------------------------------------------------

TASK_STATUSES = ("open", "completed", "expired", "cancelled")
APPROVING = frozenset({"approve", "approved", "yes", "accept", "accepted"})
"""Decisions whose result reads ``approved: true``."""


@dataclass(slots=True)
class NewTask:
    """A task to create (the ``id`` is ``task_`` + 8 base62)."""

    org: str
    id: str
    run_id: str
    step_key: str
    workflow: str
    title: str
    assignee: str
    created_at: float
    description: str | None = None
    choices: list[str] | None = None
    form: dict[str, Any] | None = None
    data: Any = None
    due_at: float | None = None
    escalate_at: float | None = None
    escalate_to: str | None = None


@dataclass(slots=True)
class TaskRecord:
    """A stored task; JSON columns decoded."""

    org: str
    id: str
    run_id: str
    step_key: str
    workflow: str
    title: str
    description: str | None
    assignee: str
    status: str
    choices: list[str] | None
    form: dict[str, Any] | None
    data: Any
    due_at: float | None
    escalate_at: float | None
    escalate_to: str | None
    escalated_at: float | None
    escalated_from: str | None
    decision: str | None
    comment: str | None
    response: Any
    completed_by: str | None
    completed_at: float | None
    created_at: float
    updated_at: float
    attempt: int = 1
    """1 for a step's first task; a resumed step that runs again opens attempt 2, and so on."""
    completed_via: str | None = None
    """The API key (``key:<id>``) through which the task was completed, if any."""

    def result(self) -> dict[str, Any]:
        """What the waiting step returns once the task is completed."""
        decision = self.decision
        return {
            "taskId": self.id, "decision": decision,
            "approved": decision is not None and decision.lower() in APPROVING,
            "comment": self.comment, "data": self.response, "completedBy": self.completed_by,
            "completedVia": self.completed_via, "completedAt": _iso(self.completed_at),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Completion:
    """A person's answer to a task."""

    decision: str | None
    comment: str | None
    response: Any
    by: str
    at: float
    via: str | None = None
    """The API key the answer came through (``key:<id>``), when it came through the API."""


# -- state machines -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MachineInstance:
    """A state-machine instance: its key, its run and how many events it was sent."""

    workflow_id: str
    key: str
    run_id: str
    status: str
    """The status of its run."""
    received: int
    created_at: float
    outcome: str | None = None
    """How its run ended (None while it runs)."""


@dataclass(frozen=True, slots=True)
class MachineEvent:
    """An event in an instance's inbox; ``n`` counts from 1."""

    n: int
    id: str
    type: str
    data: bytes
    source: str
    created_at: float


DeliveryStatus = Literal["created", "delivered", "duplicate", "unknown", "ended"]
"""``created`` (a new instance), ``delivered``, ``duplicate`` (that event id was delivered
before), ``unknown`` (no instance, and the event cannot create one) or ``ended`` (its run ended)."""


# -- run operations -----------------------------------------------------------------------------

COMPENSATED = "run.compensated"
"""Key of the record a definition run writes before its compensations run: the keys of the
steps they undo, in that order. A run that has it does not resume (``RunCompensated``)."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One operation on a run: what was done, by whom, when and why."""

    at: float
    action: str
    actor: str | None
    reason: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """Who performs an operation, when, and why (recorded in the run's history)."""

    now: float
    actor: str | None = None
    reason: str | None = None


# -- API keys ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored API key: never the key itself, only its SHA-256 (hex)."""

    org: str
    id: str
    role: str
    prefix: str
    """The part of the key that is not secret (``plait_<id>``), to recognise it in listings."""
    hash: str
    created_at: float
    revoked_at: float | None = None
    user: str | None = None
    """The person the key acts for, if it is bound to one (``plait keys create --user``)."""


# -- secrets and webhooks -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A stored secret as the service shows it: its name and timestamps, never its value."""

    org: str
    name: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A stored webhook (built and checked by ``plait.service.webhooks.new_webhook``). Exactly
    one of ``event_type`` and ``mapping`` is set.

    ``secret`` cannot be hashed: verifying an HMAC needs the key itself. When ``sealed`` it is
    encrypted (``plait.sealing``), as stored; else it is the key itself (a new webhook, or a row
    stored before sealing existed). It is left out of ``repr``, so that logs and tracebacks do
    not show it.
    """

    id: str
    org: str
    name: str
    scheme: str
    secret: str = field(repr=False)
    event_type: str | None
    mapping: str | None
    created_at: float
    sealed: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified webhook request, ready to store as an event (see ``emit_webhook_event``).

    Attributes:
        digest: the SHA-256 (hex) of the webhook's id and the content its signature covers.
        expires_at: until when the digest refuses replays, in Unix seconds.
    """

    event: EventRecord
    digest: str
    expires_at: float


# -- schedules ----------------------------------------------------------------------------------

DECLARED_SCHEDULE_PREFIX = "schedule_def_"
"""The id prefix of the schedules a workflow's document declares (random ids have no ``_``)."""


@dataclass(frozen=True, slots=True)
class ScheduleFireRecord:
    """A tick a schedule fired: when it fell, when it was fired, and the run it started (none
    when the workflow could not run then) with that run's status and outcome now."""

    tick_at: float
    fired_at: float
    run_id: str | None
    status: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A stored schedule (built and checked by ``plait.service.schedules.new_schedule``). Times
    are Unix seconds; ``input`` is decoded JSON."""

    id: str
    org: str
    workflow_id: str
    cron: str
    timezone: str
    catchup: Literal["skip", "all"]
    max_catchup: int
    input: Any
    enabled: bool
    next_fire_at: float
    created_at: float
    notifications: dict[str, list[str]] = field(default_factory=dict)
    """Who hears of its runs: ``{"onStart": [addresses], "onComplete": [addresses]}``."""

    @property
    def declared(self) -> bool:
        """Whether the workflow's document declares it (else it was created on its own)."""
        return self.id.startswith(DECLARED_SCHEDULE_PREFIX)


# -- idempotency keys ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A request's claim on an idempotency key of an organization (see
    ``reserve_idempotency_key``). Times are Unix seconds.

    Attributes:
        operation: what the request did, e.g. ``runs.cancel``.
        fingerprint: SHA-256 (hex) of the operation and its arguments.
        token: names the request that holds (or held) the reservation.
        result: what the request answered (JSON); ``None`` while it acts.
        locked_at: when it was reserved.
        expires_at: when the key may be used again for another request.
    """

    org: str
    key: str
    operation: str
    fingerprint: str
    token: str
    result: bytes | None
    locked_at: float
    expires_at: float
