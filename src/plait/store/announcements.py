"""Announcements: every start and every end of a run of a stored workflow is an event, stored
and dispatched in the transaction that starts or ends the run (so it is never lost, and
commits with the run or not at all).

``Workflow.triggered`` announces a start, ``Workflow.finished`` an end. Their data is the
workflow's document (the event router renders it: a service rule), with its counters as the
transaction leaves them, plus ``run``: the run's id, what started it and, for an end, its
status and outcome. The router also hears of them once the transaction has committed
(``EventRouter.committed``), to run the Python hooks of this process.

Announced runs are the runs of the registry's workflows (stored definitions and mirrored code
workflows) except those started by ``engine.start`` (trigger ``api``): a direct call of a code
workflow in Python is not a start of a stored workflow, and it stays on the hot path unchanged.

Loops: an announcement never starts a run of the workflow it announces, and each run carries
its *cascade*: 0, or, when an announcement or an event emitted by a hook (``ctx.emit``, which
names the run the hook fired for) started it, that run's cascade + 1. Runs are started up to a
cascade of ``MAX_CASCADE``: an announcement or a hook's event of a run already there is stored
but starts nothing, so that workflows triggered by each other's announcements, or by events
their hooks emit, stop instead of multiplying.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from plait.errors import PlaitError
from plait.ids import new_id
from plait.store.records import EventRecord, WorkflowRecord, iso_time
from plait.store.session import Session

log = logging.getLogger(__name__)

TRIGGERED = "Workflow.triggered"
FINISHED = "Workflow.finished"
ANNOUNCEMENTS = frozenset({TRIGGERED, FINISHED})

MAX_CASCADE = 1
"""The most announcements (or hooks' events) in a row that start runs: a monitor that
``Workflow.finished`` starts runs, and its own announcements start nothing."""

UNANNOUNCED = "api"
"""The trigger of the runs not announced: ``engine.start`` of a code workflow."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """A start (``verb`` ``trigger``) or end (``finish``) of a run of a stored workflow, as its
    committed transaction announced it: the workflow as it left it, the ``run`` part of the
    event's data, and the event's id."""

    verb: str
    workflow: WorkflowRecord
    run: dict[str, Any]
    event_id: str


def announced(workflow_id: str | None, trigger: str) -> bool:
    """Whether a run of ``workflow_id`` started by ``trigger`` is announced."""
    return workflow_id is not None and trigger != UNANNOUNCED


def announce_start(
    db: Session, org: str, workflow_id: str, run_id: str, trigger: dict[str, Any],
    now: float, cause: EventRecord | None = None,
) -> None:  # fmt: skip
    """A run of ``workflow_id`` started (``trigger``: ``{"kind": ..., ...}``), by the event
    ``cause`` if an event started it: store and dispatch its ``Workflow.triggered``."""
    run = {"$id": run_id, "trigger": trigger, "cascade": _cascade_after(db, cause)}
    _announce(db, "trigger", org, workflow_id, run, now)


def announce_end(
    db: Session, run_id: str, org: str, workflow_id: str, status: str, outcome: str, now: float
) -> None:
    """A run of ``workflow_id`` ended: store and dispatch its ``Workflow.finished``."""
    row = db.run("announced_run", {"run_id": run_id}).fetchone()
    if row is None:
        return
    kind, event_id, parent, created_at, started_at, cause_type, cause_data, hooked = row
    if kind == UNANNOUNCED:
        return
    trigger: dict[str, Any] = {"kind": kind}
    if event_id:
        trigger.update(eventId=event_id, eventType=cause_type)
    if parent:
        trigger["parentRunId"] = parent
    began = started_at if started_at is not None else created_at
    run = {
        "$id": run_id, "trigger": trigger, "status": status, "outcome": outcome,
        "startedAt": iso_time(began), "finishedAt": iso_time(now),
        "durationMs": max(0, round((now - began) * 1000)),
        "cascade": _cascade_from(db, cause_data, hooked),
    }  # fmt: skip
    _announce(db, "finish", org, workflow_id, run, now)


def _announce(
    db: Session, verb: str, org: str, workflow_id: str, run: dict[str, Any], now: float
) -> None:
    if db.router is None:
        return
    workflow = _workflow(db, org, workflow_id)
    if workflow is None:
        return
    data = {**db.router.announce(workflow), "run": run}
    event_type = TRIGGERED if verb == "trigger" else FINISHED
    event = EventRecord(new_id("event"), org, event_type, orjson.dumps(data), "workflow",
                        run["$id"], now)  # fmt: skip
    from plait.store.events import insert_event  # events import runs, which import this

    insert_event(db, event)
    db.counters.announce(Announcement(verb, workflow, run, event.id))  # before what it starts
    starts = run["cascade"] < MAX_CASCADE
    if not starts:
        log.warning("%s %s of workflow %s starts no runs: it is the announcement of a run that "
                    "%d announcements in a row led to (the most, MAX_CASCADE, is %d)",
                    event_type, event.id, workflow.name, run["cascade"], MAX_CASCADE)  # fmt: skip
    _dispatch(db, event, workflow_id, starts=starts)


def _dispatch(db: Session, event: EventRecord, workflow_id: str, *, starts: bool) -> None:
    """Dispatch an announcement, never to the workflow it announces. A dispatch that fails (a
    filter over the expression cost limit) is undone, and the announcement stays stored: the
    run's start or end must not fail for it."""
    from plait.store.events import dispatch

    db.execute("SAVEPOINT announce")
    mark = db.counters.mark()
    try:
        dispatch(db, event, skip=workflow_id, starts=starts)
    except PlaitError as exc:
        db.execute("ROLLBACK TO SAVEPOINT announce")
        db.counters.undo(mark)
        log.warning("%s %s started nothing: %s", event.type, event.id, exc)
    db.execute("RELEASE SAVEPOINT announce")


def _workflow(db: Session, org: str, workflow_id: str) -> WorkflowRecord | None:
    """The workflow with the counter deltas of this transaction so far."""
    row = db.run("announced_workflow", {"org": org, "id": workflow_id}).fetchone()
    if row is None:
        return None
    values = list(row)
    values[6] = orjson.loads(values[6])
    values[14] = orjson.loads(values[14]) if values[14] else []
    record = WorkflowRecord(*values)
    delta = db.counters.pending(org, workflow_id)
    if delta is not None:
        record.running = max(record.running + delta.running, 0)
        record.run_count += delta.runs
        record.success_count += delta.succeeded
        record.failure_count += delta.failed
        record.last_run_at = delta.last_run_at or record.last_run_at
    return record


def _cascade_after(db: Session, cause: EventRecord | None) -> int:
    """The cascade of a run ``cause`` started."""
    if cause is None:
        return 0
    announced = cause.data if cause.type in ANNOUNCEMENTS else None
    return _cascade_from(db, announced, cause.run_id if cause.source == "hook" else None)


def _cascade_from(db: Session, announcement: Any, hooked: str | None, depth: int = 0) -> int:
    """The cascade of a run started by an announcement (its data), or by an event a hook of
    run ``hooked`` emitted, or by neither (0)."""
    if announcement is not None:
        return _cascade_of(announcement) + 1
    if hooked is None:
        return 0
    if depth >= MAX_CASCADE:  # far enough to know it starts nothing
        return MAX_CASCADE + 1
    row = db.run("announced_run", {"run_id": hooked}).fetchone()
    return 1 + (0 if row is None else _cascade_from(db, row[6], row[7], depth + 1))


def hook_may_start(db: Session, event: EventRecord) -> bool:
    """Whether an event may start runs: any but one a hook emitted for a run whose cascade
    is already ``MAX_CASCADE``."""
    if event.source != "hook" or event.run_id is None:
        return True
    return _cascade_from(db, None, event.run_id) <= MAX_CASCADE


def _cascade_of(data: Any) -> int:
    """The cascade an announcement's data carries (0 for one emitted by hand without it)."""
    try:
        value = orjson.loads(data)["run"]["cascade"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return 0
    return value if isinstance(value, int) and value >= 0 else 0
