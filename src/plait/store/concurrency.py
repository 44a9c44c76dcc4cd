"""Flow control of runs in the store: concurrency slots, priority, singletons and debounced
starts (docs/flow-control.md).

A run of a workflow with a concurrency key holds one of its key's slots while it is
``running``. The claim takes the slot under the key's slot row lock (``take_slots``), so
concurrent claimers in many processes never exceed the limit; the trigger
``concurrency_slot_freed`` (migration 026) gives it back on every way out of ``running`` (a
suspend, an end, a cancel, a crashed worker's release) and unparks the next run of the key. A
run whose lease expired is reclaimed with the slot it holds: the slot belongs to the run, not
to the worker, so a crash leaks none. Runs found over their key's limit are parked
(``slot_wait``), a full key's whole pending backlog at once, and the claim's indexes skip them,
so they block no other key or workflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from plait.store.announcements import announce_start, announced
from plait.store.backend import Backend
from plait.store.counters import run_ended, workflow_started
from plait.store.limits import give_back_turn, not_before_turn, start_turn
from plait.store.records import NewRun, RunFlow, RunRecord
from plait.store.runs import fetch_run
from plait.store.session import Session


class ConcurrencyVerbs(Backend):
    """Starting runs under flow control, and the slots their keys hold."""

    async def create_flow_run(
        self, run: NewRun, owner: str | None = None, lease_until: float | None = None
    ) -> tuple[RunRecord, bool]:
        """Insert ``run`` (whose ``flow`` is set) as ``create_run`` does, in one transaction
        with what its flow control decides; ``(record, created)``.

        A debounced start joins the live debounced run of its key (its input and wake time
        replaced: the record of that run comes back, not created) or is stored ``waiting``
        until ``flow.wake_at``. A singleton start with ``skip`` returns the live run of its key
        instead of creating one. With ``owner``, a keyed run is leased at once only if it gets
        a slot of its key (else it is stored ``pending``, parked until a slot frees).
        """
        flow = run.flow
        assert flow is not None

        def op(db: Session) -> tuple[RunRecord, bool]:
            known = fetch_run(db, run.id, with_steps=False)  # an idempotent start: it is done
            if known is not None:
                return known, False
            existing = _joined(db, run, flow)
            if existing is not None:
                return _fetch(db, existing), False
            over = _over_limit(db, run, flow)
            # Its start throttle's turn, if it has one (not for a run cancelled at once).
            timed = flow if over else start_turn(db, run, flow)
            params = _insert_params(db, run, timed, None if over else owner, lease_until)
            if db.run("insert_flow_run", params).rowcount != 1:  # a concurrent start of the id
                _give_back(db, run, params)
                if not over:  # no run was created: its turn is not taken
                    give_back_turn(db, run.org, flow)
                return _fetch(db, run.id), False
            if flow.debounce_key is not None:
                key = {"org": run.org, "workflow_id": _debounced(run), "key": flow.debounce_key}
                db.run("upsert_debounce", {**key, "run_id": run.id})
            workflow_started(db, run.org, run.workflow_id)
            if run.workflow_id is not None and announced(run.workflow_id, run.trigger):
                trigger: dict[str, Any] = {"kind": run.trigger}
                if run.actor is not None:
                    trigger["actor"] = run.actor
                announce_start(db, run.org, run.workflow_id, run.id, trigger, run.created_at)
            db.runnable = db.runnable or params["status"] != "running"
            if over:
                _cancel_newest(db, run.id, flow, run.created_at)
                return _fetch(db, run.id), True
            return _record(run, params), True

        result: tuple[RunRecord, bool] = await self._submit(op)
        return result

    async def live_runs_of_key(
        self, org: str, workflow: str, key: str, *, singleton: bool = False
    ) -> list[str]:
        """The ids of the live runs (pending, running, waiting) of ``workflow`` whose
        concurrency key (or, with ``singleton``, singleton key) is ``key``, oldest first."""
        query = "live_singleton" if singleton else "live_keyed"
        rows = await self._all(query, {"org": org, "workflow": workflow, "key": key})
        return [row[0] for row in rows]

    async def slots_used(self, org: str, workflow: str) -> dict[str, int]:
        """The slots each concurrency key of ``workflow`` holds (keys holding none left out)."""
        rows = await self._all("slots_used", {"org": org, "workflow": workflow})
        return {row[0]: int(row[1]) for row in rows}


def take_slots(db: Session, held: Sequence[Sequence[Any]]) -> tuple[set[str], list[str]]:
    """Give slots to the runs of ``held`` (rows ``(id, org, workflow, key, limit)`` in claim
    order), each key's slot row locked until COMMIT (keys in sorted order, so that claimers
    never wait on each other in a cycle). Returns the ids that got one and the ids parked.
    A key found full has every pending run of it parked at once (``park_key``), so that its
    backlog, however long, holds back no later claim of other runs."""
    by_key: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    for run_id, org, workflow, key, limit in held:
        by_key.setdefault((org, workflow, key), []).append((run_id, int(limit)))
    granted: set[str] = set()
    parked: list[str] = []
    full: list[dict[str, Any]] = []
    for (org, workflow, key), runs in sorted(by_key.items()):
        slot = {"org": org, "workflow": workflow, "key": key}
        if len(runs) == 1:  # the common case: one statement
            ((run_id, limit),) = runs
            if _take_one(db, slot, limit):
                granted.add(run_id)
            else:
                parked.append(run_id)
                full.append(slot)
            continue
        used = int(db.run("lock_slot", slot).fetchone()[0])
        taken = 0
        for run_id, limit in runs:
            if used + taken < limit:
                taken += 1
                granted.add(run_id)
            else:
                parked.append(run_id)
        if taken:
            db.run("take_slots", {**slot, "taken": taken})
        if taken < len(runs):
            full.append(slot)
    if parked:
        db.run("park_runs", {"ids": orjson.dumps(parked).decode()})
    leased = orjson.dumps(sorted(granted)).decode()  # still pending until the claim leases them
    for slot in full:
        db.run("park_key", {**slot, "granted": leased})
    return granted, parked


def flow_started(db: Session, run_id: str, flow: RunFlow | None, now: float) -> None:
    """Give a run an event (or a tick) just started its priority, concurrency key and
    singleton key; one whose ``cancel-newest`` key is full is cancelled at once. (An event
    start's singleton ``cancel`` and ``cancel-in-progress`` are not applied; its singleton
    ``skip`` is, by ``live_singleton`` before the run is inserted: docs/flow-control.md.)"""
    if flow is None:
        return
    params = {"id": run_id, "priority": flow.priority, "concurrency_key": flow.concurrency_key,
              "concurrency_limit": flow.concurrency_limit,
              "singleton_key": flow.singleton_key}  # fmt: skip
    db.run("set_run_flow", params)
    if flow.strategy == "cancel-newest" and flow.concurrency_key is not None:
        row = db.run("run_scope", {"id": run_id}).fetchone()
        key = {"org": row[0], "workflow": row[1], "key": flow.concurrency_key}
        db.run("lock_flow", {**key, "key": "concurrency/" + flow.concurrency_key})
        others = [r for r in db.run("live_keyed", key).fetchall() if r[0] != run_id]
        if len(others) >= (flow.concurrency_limit or 1):
            _cancel_newest(db, run_id, flow, now)


def slot_freed(db: Session, run_id: str) -> None:
    """After ``run_id`` left ``running``: on SQLite, wake this process's worker if it held a
    slot, whose trigger may have unparked a run (PostgreSQL's trigger notifies every worker)."""
    if db.dialect == "sqlite" and db.run("keyed_run", {"run_id": run_id}).fetchone():
        db.runnable = True


def _joined(db: Session, run: NewRun, flow: RunFlow) -> str | None:
    """The live run a debounced or singleton (``skip``) start joins instead of being created,
    under the lock of its key; a debounced one takes the new input and wake time."""
    if flow.debounce_key is not None:
        key = {"org": run.org, "workflow_id": _debounced(run), "key": flow.debounce_key}
        db.run("lock_debounce", key)  # the lock of an event's debounce: they join each other
        row = db.run("get_debounce", key).fetchone()
        if row is not None:
            wake = flow.wake_at  # never before the throttle's turn the run was given
            wake = None if wake is None else not_before_turn(db, str(row[0]), flow, wake)
            params = {"run_id": row[0], "input": run.input, "wake_at": wake,
                      "event_id": None, "now": run.created_at}  # fmt: skip
            if db.run("push_debounced_run", params).rowcount == 1:
                return str(row[0])
    return live_singleton(db, run.org, run.workflow, flow)


def live_singleton(db: Session, org: str, workflow: str, flow: RunFlow | None) -> str | None:
    """The live run a singleton ``skip`` start of ``workflow`` returns instead of creating
    one (None: none, or no such singleton), under the lock of its key until COMMIT."""
    if flow is None or flow.singleton_key is None or not flow.singleton_skip:
        return None
    key = {"org": org, "workflow": workflow, "key": flow.singleton_key}
    db.run("lock_flow", {**key, "key": "singleton/" + flow.singleton_key})
    row = db.run("live_singleton", key).fetchone()
    return None if row is None else str(row[0])


def _over_limit(db: Session, run: NewRun, flow: RunFlow) -> bool:
    """Whether a ``cancel-newest`` start finds its key's limit reached by live runs (pending,
    running or waiting), decided under the key's lock so that concurrent starts count each
    other."""
    if flow.strategy != "cancel-newest" or flow.concurrency_key is None:
        return False
    key = {"org": run.org, "workflow": run.workflow, "key": flow.concurrency_key}
    db.run("lock_flow", {**key, "key": "concurrency/" + flow.concurrency_key})
    return len(db.run("live_keyed", key).fetchall()) >= (flow.concurrency_limit or 1)


def _cancel_newest(db: Session, run_id: str, flow: RunFlow, now: float) -> None:
    """End the new run ``cancelled`` at once: its key has its limit of live runs."""
    reason = (f"concurrency limit {flow.concurrency_limit} of key {flow.concurrency_key!r} "
              "reached (strategy cancel-newest)")  # fmt: skip
    error = {"type": "RunCancelled", "message": f"run {run_id} was cancelled: {reason}",
             "reason": reason, "by": None}  # fmt: skip
    db.run("cancel_run", {"run_id": run_id, "now": now, "error": orjson.dumps(error)})
    run_ended(db, run_id, "cancelled", now)


def _insert_params(
    db: Session, run: NewRun, flow: RunFlow, owner: str | None, lease_until: float | None
) -> dict[str, Any]:
    """The row of a new flow-controlled run: ``waiting`` when debounced, leased to ``owner``
    when given and (for a keyed run) a slot of its key is free and no run of its key of at
    least its priority is queued (runs of a key start in order: those go to the claim), else
    ``pending`` (parked when the key is full)."""
    status, parked = "pending", 0
    if flow.wake_at is not None:
        status, owner = "waiting", None
    elif owner is not None and flow.concurrency_key is not None:
        slot = {"org": run.org, "workflow": run.workflow, "key": flow.concurrency_key}
        if db.run("key_queued", {**slot, "priority": flow.priority}).fetchone() is not None:
            used = int(db.run("lock_slot", slot).fetchone()[0])
            return _row(run, flow, "pending", None, lease_until,
                        int(used >= (flow.concurrency_limit or 1)))  # fmt: skip
        granted = _take_one(db, slot, flow.concurrency_limit or 1)
        status, parked = ("running", 0) if granted else ("pending", 1)
    elif owner is not None:
        status = "running"
    return _row(run, flow, status, owner, lease_until, parked)


def _row(
    run: NewRun, flow: RunFlow, status: str, owner: str | None, lease_until: float | None,
    parked: int,
) -> dict[str, Any]:  # fmt: skip
    leased = status == "running"
    return {
        "id": run.id, "org": run.org, "workflow": run.workflow, "status": status,
        "input": run.input, "trigger": run.trigger, "created_at": run.created_at,
        "started_at": run.created_at if leased else None, "deadline_at": run.deadline_at,
        "owner": owner if leased else None, "lease_until": lease_until if leased else None,
        "fence": int(leased), "executions": int(leased), "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version, "event_id": run.event_id,
        "trace_context": run.trace_context, "wake_at": flow.wake_at, "priority": flow.priority,
        "concurrency_key": flow.concurrency_key, "concurrency_limit": flow.concurrency_limit,
        "slot_wait": parked, "singleton_key": flow.singleton_key,
    }  # fmt: skip


def _give_back(db: Session, run: NewRun, params: dict[str, Any]) -> None:
    """Return the slot ``_insert_params`` took for a run whose insert then found its id
    taken (by a concurrent start of the same id)."""
    if params["status"] == "running" and params["concurrency_key"] is not None:
        slot = {"org": run.org, "workflow": run.workflow, "key": params["concurrency_key"]}
        db.run("give_slot_back", slot)


def _take_one(db: Session, slot: dict[str, Any], limit: int) -> bool:
    """Whether a slot of ``slot``'s key was free and is now taken (its row locked either way)."""
    return db.run("take_slot", {**slot, "limit": limit}).fetchone() is not None


def _record(run: NewRun, p: dict[str, Any]) -> RunRecord:
    """The run just inserted with ``p``, as ``get_run`` would read it."""
    return RunRecord(
        id=run.id, org=run.org, workflow=run.workflow, status=p["status"], input=run.input,
        output=None, error=None, trigger=run.trigger, created_at=run.created_at,
        started_at=p["started_at"], finished_at=None, updated_at=run.created_at,
        wake_at=p["wake_at"], deadline_at=run.deadline_at, lease_owner=p["owner"],
        lease_expires_at=p["lease_until"], fence=p["fence"], replays=p["executions"],
        workflow_id=run.workflow_id, workflow_version=run.workflow_version,
        event_id=run.event_id, priority=p["priority"], concurrency_key=p["concurrency_key"],
    )  # fmt: skip


def _debounced(run: NewRun) -> str:
    """What a debounced code start is keyed by in ``debounces``: its workflow's registry id
    (or name, before the registry knows it)."""
    return run.workflow_id or run.workflow


def _fetch(db: Session, run_id: str) -> RunRecord:
    record = fetch_run(db, run_id, with_steps=False)
    assert record is not None
    return record
