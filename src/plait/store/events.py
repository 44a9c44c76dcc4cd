"""Events: storing them once per id and dispatching them, in the transaction that stores them,
to the runs they start or resume; and the waits of runs for events.

When an event is stored (by ``emit``, a document write, a human task, a webhook), the store
calls the session's :class:`~plait.store.records.EventRouter` inside the same write transaction
with the candidates it found: the triggers of Activated workflows for that event type and the
runs waiting for it. The router decides (filters, matches, debounce keys: service rules, no
SQL) and the store applies the decision in that transaction, so an event and the runs it starts
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from plait import tracing
from plait.errors import SerializationError
from plait.ids import new_id
from plait.store.announcements import hook_may_start
from plait.store.backend import Backend
from plait.store.concurrency import flow_started, live_singleton
from plait.store.limits import not_before_turn, start_wake
from plait.store.machines import deliver_machine_event
from plait.store.records import (
    Dispatched,
    EventRecord,
    RunToStart,
    StepRecord,
    TriggerCandidate,
    WaitCandidate,
)
from plait.store.runs import (
    event_for_runs,
    fenced,
    insert_started_run,
    record_trigger_event,
    step_params,
    wake,
)
from plait.store.session import Session


class EventVerbs(Backend):
    """Emitting, reading and waiting for events."""

    async def emit(
        self, org: str, type: str, data: bytes, *, event_id: str | None, source: str,
        now: float, run_id: str | None = None,
    ) -> tuple[EventRecord, bool, Dispatched]:  # fmt: skip
        """Store an event unless ``org`` has one with ``event_id``, and dispatch it, in one
        transaction; without ``event_id`` a fresh ``event_…`` id is drawn.

        Returns the event (the stored one, with its data, for a repeated id), whether it is
        new, and the runs it started or resumed (for a repeated id: the runs the stored event
        started, and none resumed). Atomic: concurrent emits of one id store it once. ``data``
        that is not JSON raises ``SerializationError``.
        """
        try:  # checked here: an error inside the batch would fail the writes it carries
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SerializationError("an event's data", "bytes", f"not JSON: {exc}") from exc
        # The runs the event starts continue the emitter's trace.
        context = tracing.carrier()
        event = EventRecord(event_id or new_id("event"), org, type, data, source, run_id, now,
                            context)  # fmt: skip

        def op(db: Session) -> tuple[EventRecord, bool, Dispatched]:
            if not insert_event(db, event):
                runs = started_by(db, org, event.id)
                return fetch_event(db, org, event.id), False, Dispatched(runs)
            return event, True, dispatch(db, event, starts=hook_may_start(db, event))

        result: tuple[EventRecord, bool, Dispatched] = await self._submit(op)
        return result

    async def get_event(self, org: str, event_id: str) -> EventRecord | None:
        """One event of ``org`` by id."""
        row = await self._one("get_event", {"org": org, "id": event_id})
        return None if row is None else event_from_row(row)

    async def list_events(self, org: str, type: str | None, limit: int) -> list[EventRecord]:
        """Events of ``org`` (of one ``type``, if given), most recently stored first."""
        params = {"org": org, "type": type, "limit": limit}
        return [event_from_row(row) for row in await self._all("list_events", params)]

    async def page_events(
        self, org: str, type: str | None, after_seq: int | None, limit: int
    ) -> list[tuple[int, EventRecord]]:
        """Up to ``limit`` events of ``org`` with their ``seq``, newest first, before
        ``after_seq`` (the previous page's last); one read."""
        newest = 2**63 - 1  # the first page's cursor: a plain range an index serves
        params = {"org": org, "type": type, "limit": limit,
                  "after_seq": newest if after_seq is None else after_seq}  # fmt: skip
        rows = await self._all("page_events_typed" if type is not None else "page_events", params)
        return [(int(row[0]), event_from_row(row[1:])) for row in rows]

    # -- waits ----------------------------------------------------------------------------------

    async def record_wait(
        self, run_id: str, fence: int, step: StepRecord, org: str, event_type: str,
        match: str | None, scope: bytes | None = None,
    ) -> None:  # fmt: skip
        """Record a waiting step and register its wait for events, atomically (fenced)."""
        params = {**step_params(run_id, step), "fence": fence}
        wait = {"org": org, "event_type": event_type, "run_id": run_id, "step_key": step.key,
                "match": match, "scope": None if scope is None else scope.decode(),
                "now": step.started_at}  # fmt: skip

        def op(db: Session) -> None:
            fenced(db, "upsert_step", params)
            db.run("insert_wait", wait)

        await self._submit(op)

    async def remove_event_wait(self, run_id: str, step_key: str) -> None:
        """Forget a wait (it timed out)."""
        params = {"run_id": run_id, "step_key": step_key}
        await self._submit(lambda db: db.run("delete_wait", params))


# -- inside the transaction that stores an event ------------------------------------------------


def store_event(db: Session, event: EventRecord) -> bool:
    """Insert ``event``; if it is new, dispatch it. Whether it was new."""
    if not insert_event(db, event):
        return False
    dispatch(db, event)
    return True


def dispatch(
    db: Session, event: EventRecord, *, skip: str | None = None, starts: bool = True
) -> Dispatched:
    """Let the session's router decide what the stored ``event`` starts and resumes, and do it.
    An announcement (``plait.store.announcements``) starts no run of the workflow ``skip`` it
    announces, and none at all without ``starts``."""
    done = Dispatched()
    if db.router is None:
        return done
    params = {"org": event.org, "type": event.type}
    triggers = [TriggerCandidate(r[0], r[1], r[2], r[3], orjson.loads(r[4] or "{}"))
                for r in db.run("trigger_candidates", params)
                if r[0] != skip] if starts else []  # fmt: skip
    waits = [WaitCandidate(r[0], r[1], r[2], orjson.loads(r[3]) if r[3] else None)
             for r in db.run("wait_candidates", params)]  # fmt: skip
    if not triggers and not waits:
        return done
    decision = db.router.route(event, triggers, waits)
    for start in decision.starts:
        done.runs.append(_start_run(db, event, start))
    for wait in decision.resolves:
        if _resolve_wait(db, event, wait):
            done.resumed.append(wait.run_id)
    for delivery in decision.deliveries:
        status, run_id = deliver_machine_event(db, event, delivery)
        if status == "created" and run_id is not None:
            done.runs.append(run_id)
        elif status == "delivered" and run_id is not None:
            done.resumed.append(run_id)
    if done.runs:
        ids = {"org": event.org, "id": event.id, "runs": orjson.dumps(done.runs).decode()}
        db.run("set_event_runs", ids)
    if done.resumed:
        woken = {"org": event.org, "id": event.id, "woken": orjson.dumps(done.resumed).decode()}
        db.run("set_event_woken", woken)
    if done.runs or done.resumed:
        db.runnable = True
    return done


def _start_run(db: Session, event: EventRecord, start: RunToStart) -> str:
    """Start the run ``event`` triggers, or push the event into the run its debounce key
    already has, or (a singleton ``skip``) return the live run of its singleton key; return
    the run's id."""
    now = event.created_at
    if start.debounce_key is None:
        if (live := live_singleton(db, event.org, start.name, start.flow)) is not None:
            return live
        turn = start_wake(db, event.org, start.flow, now)  # its start throttle's, if later
        insert_started_run(db, event, start, "pending" if turn is None else "waiting", turn)
        flow_started(db, start.run_id, start.flow, event.created_at)
        return start.run_id
    delay = start.debounce_delay or 0.0
    key = {"org": event.org, "workflow_id": start.workflow_id, "key": start.debounce_key}
    db.run("lock_debounce", key)  # other processes' events with this key wait for ours
    row = db.run("get_debounce", key).fetchone()
    if row is not None:  # its wake moves, never before its start throttle's turn
        wake = not_before_turn(db, str(row[0]), start.flow, now + delay)
        params = {"run_id": row[0], "input": start.input, "wake_at": wake,
                  "event_id": event.id, "now": now}  # fmt: skip
        if db.run("push_debounced_run", params).rowcount == 1:
            if start.version is None:  # the run now answers to the last event
                record_trigger_event(db, event, str(row[0]))
            return str(row[0])
    if (live := live_singleton(db, event.org, start.name, start.flow)) is not None:
        return live
    turn = start_wake(db, event.org, start.flow, now)  # its start throttle's, if later
    insert_started_run(db, event, start, "waiting", max(now + delay, turn or now))
    db.run("upsert_debounce", {**key, "run_id": start.run_id})
    flow_started(db, start.run_id, start.flow, now)
    return start.run_id


def _resolve_wait(db: Session, event: EventRecord, wait: WaitCandidate) -> bool:
    now = event.created_at
    payload = orjson.dumps(event_for_runs(event)).decode()
    params = {"run_id": wait.run_id, "step_key": wait.step_key, "output": payload, "now": now}
    if db.run("resolve_wait_step", params).rowcount != 1:
        return False
    db.run("delete_wait", {"run_id": wait.run_id, "step_key": wait.step_key})
    wake(db, wait.run_id, now)
    return True


def insert_event(db: Session, e: EventRecord) -> bool:
    """Insert ``e`` unless its organization has an event with its id; whether it did."""
    params = {
        "org": e.org, "id": e.id, "type": e.type, "data": e.data.decode(), "source": e.source,
        "run_id": e.run_id, "now": e.created_at,
    }  # fmt: skip
    return bool(db.run("insert_event", params).rowcount)


def started_by(db: Session, org: str, event_id: str) -> list[str]:
    """The runs the stored event ``event_id`` started (or debounced into) when it was new."""
    row = db.run("event_runs", {"org": org, "id": event_id}).fetchone()
    return [] if row is None or row[0] is None else list(orjson.loads(row[0]))


def fetch_event(db: Session, org: str, event_id: str) -> EventRecord:
    """A stored event (it must exist)."""
    return event_from_row(db.run("get_event", {"org": org, "id": event_id}).fetchone())


def event_from_row(row: Sequence[Any]) -> EventRecord:
    """An event from the columns its queries select."""
    return EventRecord(row[0], row[1], row[2], row[3].encode(), row[4], row[5], row[6])
