"""Backend-neutral types of the workflow registry and of event dispatch.

When an event is stored (by ``emit``, a record action, a webhook), the store calls the engine's
:class:`EventRouter` inside the same write transaction with the candidates it found: the
triggers of Activated workflows for that event type and the runs waiting for it. The router
decides (filters, matches, debounce keys: service rules, no SQL) and the store applies the
decision in that transaction, so an event and the runs it starts commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from plait.store.base import EventRecord


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
