"""A run as every interface shows it: its status, input, output or error, timestamps, steps,
the operations done on it, its children and what it published; pages of runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import Field, ValidationError

from plait import values
from plait.resources.audit import AuditEntry
from plait.resources.base import Page, Resource, Stamp, required_stamp, stamp
from plait.resources.business_metrics import Measurement
from plait.resources.costs import RunCost
from plait.resources.events import Event
from plait.resources.progress import Progress
from plait.store.records import TERMINAL, TRIGGER_EVENT_KEY, RunRecord, StepRecord
from plait.store.records import HistoryEntry as HistoryRecord


class Step(Resource):
    """One recorded step of a run. ``status``: completed, failed (after its last attempt),
    retrying (the next attempt is due at ``wakeAt``), waiting (a sleep, an event, a person),
    skipped."""

    key: str = Field(description="The step's name and occurrence: ``charge``, ``charge#2``.")
    name: str
    kind: str
    status: str
    attempts: int
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: Stamp | None = None
    finished_at: Stamp | None = None
    wake_at: Stamp | None = None
    cached: bool = Field(False, description="Whether the output came from the step-result "
                         "cache (the step was not run: ``attempts`` is 0).")  # fmt: skip

    @classmethod
    def of(cls, s: StepRecord) -> Step:
        return cls(
            key=s.key, name=s.name, kind=s.kind, status=s.status, attempts=s.attempts,
            output=values.decode(s.output), error=values.decode(s.error),
            started_at=stamp(s.started_at), finished_at=stamp(s.finished_at),
            wake_at=stamp(s.wake_at), cached=bool(s.cached),
        )  # fmt: skip


class SkippedStep(Resource):
    """A step that did not run, and why: ``condition`` (its condition was false) or
    ``dependency`` (a step it depends on failed, or was itself skipped for that reason)."""

    step: str
    reason: str
    failed: list[str] | None = Field(
        None, description="With reason dependency: the steps it depends on that failed."
    )

    @classmethod
    def of(cls, key: str, output: Any) -> SkippedStep:
        if isinstance(output, dict) and output.get("reason") == "dependency":
            return cls(step=key, reason="dependency", failed=list(output.get("failed") or []))
        return cls(step=key, reason="condition")


_ENDS = frozenset({"step", "group", "branch", "child", "child-result", "task", "sleep", "wait",
                   "receive"})  # fmt: skip
"""Kinds of records that are the end of a step; the others (recorded values, deadlines, a
race's winner, a machine's transitions) belong to one."""


def _step_lists(steps: Sequence[Step]) -> tuple[list[str], list[str], list[SkippedStep]]:
    """The keys of the steps that completed and failed, and the steps skipped, in the order
    recorded. A child waited for is one step: its result (``key.result``) ends it."""
    results = {s.key.removesuffix(".result") for s in steps if s.kind == "child-result"}
    completed: list[str] = []
    failed: list[str] = []
    skipped: list[SkippedStep] = []
    for s in steps:
        key = s.key.removesuffix(".result") if s.kind == "child-result" else s.key
        if s.status == "skipped":
            skipped.append(SkippedStep.of(key, s.output))
        elif s.status == "failed":
            failed.append(key)
        elif s.status == "completed" and s.kind in _ENDS:
            completed += [] if s.kind == "child" and key in results else [key]
    return completed, failed, skipped


class HistoryEntry(Resource):
    """An operation done on a run (cancel, resume, fork, retry, forked-from, retried-from):
    when, by whom, why, and what it did."""

    at: Stamp
    action: str
    by: str | None = None
    reason: str | None = None
    run_id: str | None = Field(None, description="The other run of a fork or retry.")
    step: str | int | None = Field(None, description="The step a fork executes from.")
    reused: int | None = Field(None, description="How many recorded steps the new run reuses.")
    rerun: list[str] | None = Field(None, description="The steps a resume executes again.")
    version: int | None = Field(None, description="The workflow version it moved the run to.")
    descendants: int | None = Field(None, description="Live descendants a cancel stopped.")

    @classmethod
    def of(cls, entry: HistoryRecord) -> HistoryEntry:
        return cls.model_validate(
            {
                "at": required_stamp(entry.at),
                "action": entry.action,
                "by": entry.actor,
                "reason": entry.reason,
                **entry.detail,
            }
        )


class MachineView(Resource):
    """What a state machine's run shows: its state and context, the transitions it took and
    the events it rejected."""

    state: str | None = None
    attempt: int = Field(1, description="How many times in a row ``state`` was entered.")
    context: Any = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    rejected: list[Any] = Field(default_factory=list)

    @classmethod
    def of(cls, steps: Iterable[Step]) -> MachineView | None:
        """None for a run that is not a state machine's."""
        view: dict[str, Any] | None = None
        for step in steps:
            if step.kind == "machine" and isinstance(step.output, dict):
                view = {"state": step.output.get("state"), "context": step.output.get("context"),
                        "history": [], "rejected": []}  # fmt: skip
            elif view is not None and step.kind == "transition" and isinstance(step.output, dict):
                entry = dict(step.output)
                view["context"] = entry.pop("context", view["context"])
                view["state"] = entry.get("to")
                view["attempt"] = entry.get("attempt", 1)
                view["history"].append(entry)
            elif view is not None and step.kind == "rejected":
                view["rejected"].append(step.output)
        return None if view is None else cls.model_validate(view)


class Run(Resource):
    """A run of a workflow. A definition's run has the definition's ``input`` and, when an
    event started it, that ``event``; a code workflow's run has its arguments as ``input``."""

    id: str = Field(alias="$id")
    type: Literal["Run"] = Field("Run", alias="$type")
    organization: str
    workflow: str
    workflow_id: str | None = None
    workflow_version: int | None = None
    status: Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]
    input: Any = None
    event: Event | None = Field(
        None,
        description="The event that started the run (``eventId``), on a run read by itself; "
        "listings leave it out, as they leave out ``steps``.",
    )
    output: Any = None
    error: dict[str, Any] | None = None
    trigger: str = Field(description="manual, api, event, schedule, webhook or child.")
    event_id: str | None = None
    created_at: Stamp
    started_at: Stamp | None = None
    finished_at: Stamp | None = None
    updated_at: Stamp
    wake_at: Stamp | None = None
    replays: int = Field(description="Passes of the workflow over the run's recorded steps.")
    outcome: Literal["succeeded", "partial", "failed", "cancelled"] | None = Field(
        None,
        description="How the run ended (null until it ends): ``partial`` when it ended normally "
        "(status ``succeeded``, its output there) past steps that failed and were continued.",
    )
    success: bool = Field(False, description="Whether the outcome is ``succeeded``.")
    priority: int = Field(0, description="Claims take higher priorities first (-10 to 10); "
                          "on a run read by itself (listings show 0).")  # fmt: skip
    concurrency_key: str | None = Field(
        None, description="The value of its workflow's concurrency key (docs/flow-control.md), "
        "on a run read by itself.",
    )  # fmt: skip
    completed_steps: list[str] = Field(
        default_factory=list, description="Keys of the steps that completed; as ``steps``, "
        "on a run read by itself (listings leave the three step lists out).",
    )  # fmt: skip
    failed_steps: list[str] = Field(
        default_factory=list, description="Keys of the steps that failed after their retries, "
        "whether the run carried on past them or a fallback saved them.",
    )  # fmt: skip
    skipped_steps: list[SkippedStep] = Field(default_factory=list)
    steps: list[Step] = Field(
        default_factory=list, description="On a run read by itself; listings leave them out."
    )
    history: list[HistoryEntry] = Field(default_factory=list)
    parent_run_id: str | None = None
    children: list[str] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)
    machine: MachineView | None = None
    context: Any = Field(
        None,
        description="A node graph's workflow context (brief 004) as recorded: its start merged "
        "with every node's writes so far; null for a workflow without one, and in listings.",
    )
    progress: Progress | None = Field(
        None, description="How far the run has got (on a run read by itself; null in listings)."
    )
    metrics: list[Measurement] | None = Field(
        None,
        description="The business metric values it recorded, with include=metrics (else null).",
    )
    audit: list[AuditEntry] | None = Field(
        None, description="The audit entries that concern it, with include=audit (else null)."
    )
    cost: RunCost | None = Field(
        None,
        description="What it cost by its workflow's pricing, once it ended (null: not "
        "priced, and in listings): currency, total and line items (docs/costs.md).",
    )

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(
        cls,
        r: RunRecord,
        *,
        history: Sequence[HistoryRecord] = (),
        state: dict[str, Any] | None = None,
        children: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> Run:
        steps = [Step.of(s) for s in r.steps if s.position >= 0]
        given, event = _input(r)
        completed, failed, skipped = _step_lists(steps)
        outcome = r.outcome or (r.status if r.status in TERMINAL else None)
        return cls(
            id=r.id, organization=r.org, workflow=r.workflow, workflow_id=r.workflow_id,
            workflow_version=r.workflow_version, status=r.status,  # type: ignore[arg-type]
            input=given, event=event, output=values.decode(r.output),
            error=values.decode(r.error), trigger=r.trigger, event_id=r.event_id,
            created_at=required_stamp(r.created_at), started_at=stamp(r.started_at),
            finished_at=stamp(r.finished_at), updated_at=required_stamp(r.updated_at),
            wake_at=stamp(r.wake_at), replays=r.replays,
            outcome=outcome,  # type: ignore[arg-type]
            success=outcome == "succeeded", completed_steps=completed, failed_steps=failed,
            skipped_steps=skipped, steps=steps,
            history=[HistoryEntry.of(h) for h in history], parent_run_id=r.parent_run_id,
            children=list(children), state=state or {}, machine=MachineView.of(steps),
            context=_workflow_context(steps), progress=progress, priority=r.priority,
            concurrency_key=r.concurrency_key,
        )  # fmt: skip

    @classmethod
    def listed(cls, r: RunRecord) -> Run:
        """The run as listings show it: without its steps and its event (``eventId`` names
        it), whether the record holds them or not, so that every run is listed alike."""
        left_out: dict[str, Any] = {"steps": [], "event": None, "machine": None, "context": None,
                                    "completed_steps": [], "failed_steps": [],
                                    "skipped_steps": [], "progress": None}  # fmt: skip
        return cls.of(r).model_copy(update=left_out)


def _workflow_context(steps: Sequence[Step]) -> dict[str, Any] | None:
    """The workflow context as recorded (``plait.interpreter.contexts``): its start, then each
    node's write merged in, in the order recorded; None when the run recorded none."""
    context: dict[str, Any] | None = None
    for step in steps:
        if step.kind == "context" and isinstance(step.output, dict):
            start = step.key == "run.context"
            context = dict(step.output) if start else {**(context or {}), **step.output}
    return context


def _input(r: RunRecord) -> tuple[Any, Event | None]:
    """The run's input as its workflow takes it, and the event that started it.

    A definition's run is stored with the arguments ``[input]``, or ``[input, event]`` when an
    event started it; a code workflow's with its positional arguments, and its trigger event as
    a step before the first. Other arguments (a code workflow may start a definition's child
    with several) are shown as stored, with no event: what a run was given never keeps it from
    being shown.
    """
    args = values.decode(r.input)
    if r.workflow_version is not None and isinstance(args, list):
        if len(args) <= 1:
            return (args[0] if args else None), None
        event = _event(args[1]) if r.event_id is not None and len(args) == 2 else None
        return (args[0], event) if event is not None else (args, None)
    for s in r.steps:
        if s.key == TRIGGER_EVENT_KEY and r.event_id is not None:
            return args, _event(values.decode(s.output))
    return args, None


def _event(document: Any) -> Event | None:
    """The event document a run was given (``plait.store.runs.event_for_runs``) as a resource;
    None for anything else."""
    try:
        return Event.model_validate(document)
    except ValidationError:
        return None


class RunPage(Page[Run]):
    """Runs, newest first, a page at a time."""


class Signal(Resource):
    """A signal sent to a run."""

    run_id: str
    name: str
    seq: int = Field(description="The signal's place in the run's queue.")
    delivered: bool = Field(description="Whether a waiting receive took it at once.")
