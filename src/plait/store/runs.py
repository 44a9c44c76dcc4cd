"""Runs: creating and reading them, and what every other feature does to a run's rows inside
its own transaction (fenced writes, steps, waking a run, inserting a run an event starts)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from plait import values
from plait.errors import LeaseLost
from plait.store.announcements import announce_start, announced
from plait.store.backend import Backend
from plait.store.counters import workflow_started
from plait.store.records import (
    TRIGGER_EVENT_KEY,
    EventRecord,
    MachineEvent,
    NewRun,
    RunRecord,
    RunToStart,
    StepRecord,
    iso_time,
)
from plait.store.session import Session


class RunVerbs(Backend):
    """Creating runs and reading them."""

    async def create_run(
        self, run: NewRun, owner: str | None = None, lease_until: float | None = None
    ) -> tuple[RunRecord, bool]:
        """Insert ``run`` unless a run with its id exists; return it and whether it was created.

        With ``owner`` the new run is created ``running`` under a lease held by that worker
        (fence 1), so the creating process can execute it without a claim round trip.
        Atomic: concurrent creates of one id create it once. A run with ``flow`` control is
        created by ``create_flow_run`` (``plait.store.concurrency``).
        """
        if run.flow is not None:
            return await self.create_flow_run(run, owner, lease_until)  # type: ignore[attr-defined, no-any-return]
        leased = owner is not None
        status = "running" if leased else "pending"
        started = run.created_at if leased else None
        lease = lease_until if leased else None
        fence = 1 if leased else 0
        params = {
            "id": run.id, "org": run.org, "workflow": run.workflow, "status": status,
            "input": run.input, "trigger": run.trigger, "created_at": run.created_at,
            "started_at": started, "deadline_at": run.deadline_at, "owner": owner,
            "lease_until": lease, "fence": fence, "executions": fence,
            "workflow_id": run.workflow_id, "workflow_version": run.workflow_version,
            "event_id": run.event_id, "trace_context": run.trace_context,
        }  # fmt: skip

        def op(db: Session) -> RunRecord | None:
            if db.run("insert_run", params).rowcount == 1:
                workflow_started(db, run.org, run.workflow_id)
                if run.workflow_id is not None and announced(run.workflow_id, run.trigger):
                    trigger: dict[str, Any] = {"kind": run.trigger}
                    if run.actor is not None:
                        trigger["actor"] = run.actor
                    announce_start(db, run.org, run.workflow_id, run.id, trigger, run.created_at)
                db.runnable = db.runnable or not leased
                return None
            return fetch_run(db, run.id, with_steps=False)

        existing: RunRecord | None = await self._submit(op)
        if existing is not None:
            return existing, False
        record = RunRecord(
            id=run.id, org=run.org, workflow=run.workflow, status=status, input=run.input,
            output=None, error=None, trigger=run.trigger, created_at=run.created_at,
            started_at=started, finished_at=None, updated_at=run.created_at, wake_at=None,
            deadline_at=run.deadline_at, lease_owner=owner, lease_expires_at=lease, fence=fence,
            replays=fence, workflow_id=run.workflow_id,
            workflow_version=run.workflow_version, event_id=run.event_id,
        )  # fmt: skip
        return record, True

    async def live_run_counts(self) -> dict[str, int]:
        """How many runs are pending, running and waiting (every organization)."""
        row = await self._one("live_run_counts")
        return dict(zip(("pending", "running", "waiting"), map(int, row), strict=True))

    async def run_state(self, run_id: str) -> tuple[str, int] | None:
        """The run's status and fence, read without locking."""
        row = await self._one("run_state", {"run_id": run_id})
        return None if row is None else (row[0], row[1])

    async def get_run(self, run_id: str, with_steps: bool = True) -> RunRecord | None:
        """The run (with its steps in call order unless ``with_steps`` is false), or ``None``."""
        record: RunRecord | None = await self._read(
            lambda db: fetch_run(db, run_id, with_steps=with_steps)
        )
        return record

    async def list_runs(
        self, workflow: str | None, status: str | None, limit: int, org: str | None = None
    ) -> list[RunRecord]:
        """Runs newest first, filtered by workflow, status and organization (no steps)."""
        params = {"workflow": workflow, "status": status, "limit": limit, "org": org}
        return [RunRecord(*row) for row in await self._all("list_runs", params)]

    async def page_runs(
        self, org: str, where: RunFilter, after: tuple[float, str] | None, limit: int,
        scan: int,
    ) -> RunsRead:  # fmt: skip
        """Up to ``limit`` runs of ``org`` that pass ``where``, newest first, after the keyset
        ``(created_at, id)`` of the previous page's last run (steps omitted); one read.

        Filters an index applies (organization, workflow, status, time range, ids) cost
        nothing more; the others (outcome, trigger, an input field) are checked on each run
        read, and at most ``scan`` runs are read: chunks from ``limit`` runs, four times larger
        each, so a filter that most runs pass reads about a page. Among ``ids``, every one of
        them is read.
        """
        name = _page_query(where)
        if where.ids is not None:
            scan = len(where.ids) + 1  # the ids bound the read: it ends before the bound
        elif where.outcome is None and where.trigger is None and where.path is None:
            scan = limit  # every run the index reads is a match
        params: dict[str, Any] = {"org": org, "workflow": where.workflow, "status": where.status,
                  "outcome": where.outcome, "trigger": where.trigger,
                  "since": -math.inf if where.since is None else where.since,
                  "ids": None if where.ids is None else orjson.dumps(where.ids).decode(),
                  "value": where.value}  # fmt: skip

        def op(db: Session) -> RunsRead:
            params["path"] = _json_path(db.dialect, where.path)
            key = after or (math.inf, "")
            hits: list[RunRecord] = []
            read, chunk = 0, limit
            while True:
                want = min(chunk, scan - read)
                found, last, count = _read_chunk(db, name, params, key, want, limit - len(hits))
                hits += found
                read += count
                if len(hits) >= limit or count < want or last is None:
                    return RunsRead(hits, None)
                if read >= scan:
                    return RunsRead(hits, last)
                key, chunk = (last.created_at, last.id), chunk * 4

        read: RunsRead = await self._read(op)
        return read

    async def run_ids_with_prefix(self, org: str, prefix: str, limit: int) -> list[str]:
        """The ids of ``org``'s runs that start with ``prefix``, in id order, at most ``limit``
        (a range of the primary key)."""
        params = {"org": org, "low": prefix, "high": prefix + "\U0010ffff", "limit": limit}
        return [str(row[0]) for row in await self._all("run_ids_with_prefix", params)]

    async def event_run_ids(self, org: str, event_id: str) -> list[str] | None:
        """The runs the stored event ``event_id`` of ``org`` started (or debounced into), then
        those it woke; ``None`` when ``org`` has no such event."""
        row = await self._one("event_run_ids", {"org": org, "id": event_id})
        if row is None:
            return None
        started, woken = (orjson.loads(v) if v else [] for v in row)
        return list(dict.fromkeys([*started, *woken]))


@dataclass(frozen=True)
class RunFilter:
    """Which runs a page keeps (``None``: any). ``since``: created at or after (a "created
    before" bound is the page's keyset). ``path``: keys and list indexes into the run's input
    as its workflow takes it, whose JSON must be ``value`` (JSON text); ``ids``: only these."""

    workflow: str | None = None
    status: str | None = None
    outcome: str | None = None
    trigger: str | None = None
    since: float | None = None
    path: tuple[str | int, ...] | None = None
    value: str | None = None
    ids: list[str] | None = None


@dataclass(frozen=True)
class RunsRead:
    """The runs a page read found, newest first (up to its ``limit``), and, when it stopped at
    its ``scan`` bound with fewer, the last run it read: where the next read starts."""

    runs: list[RunRecord]
    last: RunRecord | None


def _page_query(where: RunFilter) -> str:
    """The query that reads through the index of ``where``'s filters: ids, then workflow and
    status, workflow, status, the organization's runs."""
    if where.ids is not None:
        return "page_runs_among"
    if where.workflow is not None:
        return "page_runs_of_workflow_status" if where.status else "page_runs_of_workflow"
    return "page_runs_of_status" if where.status is not None else "page_runs"


def _json_path(dialect: str, path: tuple[str | int, ...] | None) -> str | list[str] | None:
    """``path`` as the dialect takes it: SQLite's ``."key"[0]`` text after the input's root,
    PostgreSQL's text array."""
    if path is None:
        return None
    if dialect == "postgres":
        return [str(part) for part in path]
    return "".join(f"[{part}]" if isinstance(part, int) else f'."{part}"' for part in path)


def _read_chunk(
    db: Session, name: str, params: dict[str, Any], key: tuple[float, str], scan: int,
    limit: int,
) -> tuple[list[RunRecord], RunRecord | None, int]:  # fmt: skip
    """One read of a page query: the hits, newest first, the last run read and how many."""
    chunk = {**params, "after_at": key[0], "after_id": key[1], "scan": scan, "limit": limit}
    hits: list[RunRecord] = []
    last, count = None, 0
    for row in db.run(name, chunk):
        if row[-1] is None:
            hits.append(RunRecord(*row[:-1]))
        else:
            last, count = RunRecord(*row[:-1]), int(row[-1])
    hits.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return hits, last, count


# -- inside a transaction -----------------------------------------------------------------------


def fenced(db: Session, query: str, params: dict[str, Any]) -> None:
    """Run a write that must change the one row of a run held under ``params["fence"]``."""
    if db.run(query, params).rowcount != 1:
        raise LeaseLost(params["run_id"])


def step_params(run_id: str, s: StepRecord) -> dict[str, Any]:
    """The parameters of the queries that write a step."""
    return {
        "run_id": run_id, "key": s.key, "position": s.position, "name": s.name,
        "kind": s.kind, "status": s.status, "attempts": s.attempts, "output": s.output,
        "error": s.error, "started_at": s.started_at, "finished_at": s.finished_at,
        "wake_at": s.wake_at,
    }  # fmt: skip


def steps_by_run(db: Session, run_ids: list[str]) -> dict[str, list[StepRecord]]:
    """The recorded steps of each run, in call order."""
    steps: dict[str, list[StepRecord]] = {}
    params = {"run_ids": orjson.dumps(run_ids).decode()}
    for row in db.run("steps_of_runs", params):
        steps.setdefault(row[0], []).append(StepRecord(*row[1:]))
    return steps


def fetch_run(db: Session, run_id: str, *, with_steps: bool) -> RunRecord | None:
    """The run, or ``None``."""
    row = db.run("get_run", {"run_id": run_id}).fetchone()
    if row is None:
        return None
    record = RunRecord(*row)
    if with_steps:
        record.steps = steps_by_run(db, [run_id]).get(run_id, [])
    return record


def wake(db: Session, run_id: str, now: float) -> None:
    """Make a waiting run runnable; a running one is reclaimed as soon as it suspends."""
    if db.run("wake_waiting_run", {"run_id": run_id, "now": now}).rowcount == 0:
        db.run("hint_running_run", {"run_id": run_id, "now": now})
    db.runnable = True


def wake_parent(db: Session, run_id: str, now: float) -> None:
    """``run_id`` ended: wake its parent, if it has one.

    The parent replays, and each of its steps waiting on a child reads that child's end.
    """
    row = db.run("child_parent", {"run_id": run_id}).fetchone()
    if row is not None and row[0] is not None:
        wake(db, row[0], now)


def insert_started_run(
    db: Session, event: EventRecord, start: RunToStart, status: str,
    wake_at: float | None, trigger: str = "event", detail: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Insert a run that ``event`` (or a schedule tick) starts, counted on its workflow and
    announced (``detail``: what its ``Workflow.triggered`` says started it, besides the
    event); a code workflow's run started by an event records that event as its first step."""
    params = {"id": start.run_id, "org": event.org, "workflow": start.name,
              "status": status, "input": start.input, "now": event.created_at,
              "wake_at": wake_at, "workflow_id": start.workflow_id,
              "version": start.version, "event_id": event.id or None,
              "trigger": trigger, "trace_context": event.trace_context}  # fmt: skip
    if db.run("insert_triggered_run", params).rowcount == 1:
        workflow_started(db, event.org, start.workflow_id)
        cause = {"kind": trigger, **(detail or {})}
        if event.id:
            cause.update(eventId=event.id, eventType=event.type)
        announce_start(db, event.org, start.workflow_id, start.run_id, cause, event.created_at,
                       event if event.id else None)  # fmt: skip
        if status == "pending":
            db.runnable = True
        if trigger == "event" and start.version is None and event.id:
            record_trigger_event(db, event, start.run_id)


def event_for_runs(event: EventRecord | MachineEvent) -> dict[str, Any]:
    """The event as runs see it: the output of a step that waited for it, a code workflow's
    trigger event, the event beside a definition run's input, an event a state machine took,
    the ``event`` of trigger filters. The store records it in the transaction that stores the
    event, so it is encoded here; the ``Event`` resource is built from it
    (``plait.resources.events``), so it is the one document of an event."""
    return {"$id": event.id, "$type": "Event", "type": event.type,
            "data": orjson.loads(event.data), "source": event.source,
            "createdAt": iso_time(event.created_at)}  # fmt: skip


def record_trigger_event(db: Session, event: EventRecord, run_id: str) -> None:
    """Record the event that started a code workflow's run with the run, as a completed step at
    position -1: durable, and never matched by a call of the workflow when it replays."""
    step = StepRecord(TRIGGER_EVENT_KEY, -1, "event", "event", "completed", 1,
                      values.encode(event_for_runs(event)), None, event.created_at,
                      event.created_at)  # fmt: skip
    db.run("insert_event_step", step_params(run_id, step))
