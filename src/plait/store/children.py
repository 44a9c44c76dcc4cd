"""Child runs, the signals sent to one run, and the state a run publishes."""

from __future__ import annotations

from typing import Any

import orjson

from plait.errors import LimitExceeded, RunEnded, RunNotFound
from plait.store.announcements import announce_start
from plait.store.backend import Backend
from plait.store.counters import workflow_started
from plait.store.records import TERMINAL, NewChild, SignalSent, StepRecord, child_run_id
from plait.store.runs import fenced, step_params, wake
from plait.store.session import Session
from plait.store.trees import TreePlace, refusal, take_place


class ChildVerbs(Backend):
    """Child runs, signals to one run, and the state a run publishes."""

    # -- child runs -------------------------------------------------------------------------

    async def start_child(self, parent_id: str, fence: int, child: NewChild) -> StepRecord:
        """Resolve ``child.ref`` in the parent's organization and, in one fenced transaction,
        record the parent's start step and insert the child run (``pending``, trigger
        ``child``) unless a run with the child's id exists.

        Returns the recorded step: ``completed`` with ``{"runId", "workflow"}``, or ``failed``
        when the reference names no workflow, a Paused or Archived one (which start no runs),
        or when the child would take its run tree over ``child.max_depth`` or
        ``child.max_runs`` (``plait.LimitExceeded``, see :mod:`plait.store.trees`). If
        the run ``child.id`` exists although the step was not recorded, the step runs again
        after a resume: the child is its next attempt (:func:`child_run_id`), and the earlier
        one is kept.
        """

        def op(db: Session) -> StepRecord:
            # An op runs in a savepoint: a fenced write that raises undoes the tree's count too.
            step = child.step
            target = _target(db, child)
            if isinstance(target, dict):
                return _record_start(db, parent_id, fence, step, error=target)
            run_id = _attempt_id(db, parent_id, child)
            started = {"runId": run_id, "workflow": target[0]}
            if db.run("child_exists", {"id": run_id}).fetchone() is not None:
                return _record_start(db, parent_id, fence, step, output=started)  # a replay
            place = take_place(db, parent_id, child)
            if isinstance(place, LimitExceeded):
                return _record_start(db, parent_id, fence, step, error=refusal(place))
            _record_start(db, parent_id, fence, step, output=started)
            _insert_child(db, parent_id, child, run_id, target, place)
            return step

        recorded: StepRecord = await self._submit(op)
        return recorded

    async def child_outcome(self, run_id: str) -> tuple[str, bytes | None, bytes | None] | None:
        """The child run's status, output and error (``None`` if there is no such run)."""
        row = await self._one("child_outcome", {"run_id": run_id})
        return None if row is None else (row[0], _bytes(row[1]), _bytes(row[2]))

    async def child_runs(self, run_id: str) -> list[str]:
        """Ids of the runs that ``run_id`` started as children, oldest first."""
        return [row[0] for row in await self._all("child_runs_of", {"run_id": run_id})]

    # -- signals ----------------------------------------------------------------------------

    async def send_signal(self, run_id: str, name: str, payload: bytes, now: float) -> SignalSent:
        """Queue a signal for a run, in one transaction: if a receive step of the run waits for
        ``name``, the signal completes that step (the oldest waiting) and wakes the run.

        Raises ``RunNotFound`` for an unknown run and ``RunEnded`` for one that has ended.
        """
        text = payload.decode()

        def op(db: Session) -> SignalSent:
            row = db.run("signal_run_status", {"run_id": run_id}).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] in TERMINAL:
                raise RunEnded(run_id, row[0])
            params = {"run_id": run_id, "name": name, "payload": text, "now": now}
            seq = int(db.run("signal_insert", params).fetchone()[0])
            waiting = db.run("signal_waiting_receive", params).fetchone()
            if waiting is None:
                return SignalSent(run_id, name, seq, None)
            _deliver(db, run_id, waiting[0], seq, payload, now)
            return SignalSent(run_id, name, seq, waiting[0])

        sent: SignalSent = await self._submit(op)
        return sent

    async def take_signal(self, run_id: str, fence: int, step: StepRecord) -> bytes | None:
        """In one fenced transaction: consume the oldest unconsumed signal named ``step.name``
        and record the receive ``step`` completed with its payload (returned); or, with none
        queued, record the step ``waiting`` and return ``None``."""
        params = step_params(run_id, step)

        def op(db: Session) -> bytes | None:
            fenced(db, "signal_hold_run", {"run_id": run_id, "fence": fence})
            row = db.run("signal_oldest", {"run_id": run_id, "name": step.name}).fetchone()
            if row is not None:
                db.run("signal_consume", {"seq": row[0], "step_key": step.key})
                payload = str(row[1]).encode()
                done = {**params, "status": "completed", "attempts": 1, "output": payload,
                        "finished_at": step.started_at}  # fmt: skip
                fenced(db, "upsert_step", {**done, "fence": fence})
                return payload
            fenced(db, "upsert_step", {**params, "fence": fence})
            return None

        taken: bytes | None = await self._submit(op)
        return taken

    async def expire_receive(self, run_id: str, fence: int, step_key: str, now: float) -> bytes:
        """A receive step's timeout passed: record it completed with ``null`` unless a signal
        completed it first (fenced); return its output either way."""
        key = {"run_id": run_id, "step_key": step_key}

        def op(db: Session) -> bytes:
            fenced(db, "signal_hold_run", {"run_id": run_id, "fence": fence})
            db.run("signal_complete_receive", {**key, "output": b"null", "now": now})
            row = db.run("signal_receive_output", key).fetchone()
            return b"null" if row is None else _bytes(row[0]) or b"null"

        output: bytes = await self._submit(op)
        return output

    # -- published state --------------------------------------------------------------------

    async def set_run_value(
        self, run_id: str, fence: int, step: StepRecord, key: str, value: bytes
    ) -> None:
        """Publish ``value`` (JSON) under ``key`` for a held run and record the ``step`` that
        did it, in one fenced transaction (a replay then skips the write)."""
        params = {**step_params(run_id, step), "fence": fence}
        entry = {"run_id": run_id, "key": key, "value": value.decode(), "now": step.started_at}

        def op(db: Session) -> None:
            fenced(db, "upsert_step", params)
            db.run("state_upsert", entry)

        await self._submit(op)

    async def run_values(self, run_id: str) -> dict[str, Any]:
        """Every value the run has published, by key (decoded JSON)."""
        rows = await self._all("state_of_run", {"run_id": run_id})
        return {row[0]: orjson.loads(row[1]) for row in rows}

    async def run_published(self, run_id: str) -> tuple[dict[str, Any], list[str]]:
        """What the run resource adds: the run's published values and its children's ids."""

        def op(db: Session) -> tuple[dict[str, Any], list[str]]:
            rows = db.run("state_of_run", {"run_id": run_id}).fetchall()
            children = db.run("child_runs_of", {"run_id": run_id}).fetchall()
            return {r[0]: orjson.loads(r[1]) for r in rows}, [str(r[0]) for r in children]

        found: tuple[dict[str, Any], list[str]] = await self._read(op)
        return found


def _insert_child(
    db: Session,
    parent_id: str,
    child: NewChild,
    run_id: str,
    target: tuple[str, str | None, int | None],
    place: TreePlace,
) -> None:
    name, workflow_id, version = target
    params = {
        "id": run_id, "org": child.org, "workflow": name, "input": child.input,
        "now": child.step.started_at, "deadline_at": child.deadline_at,
        "workflow_id": workflow_id, "workflow_version": version,
        "parent_run_id": parent_id, "parent_step": child.step.key,
        "root_run_id": place.root_run_id, "depth": place.depth,
        "trace_context": child.trace_context,
    }  # fmt: skip
    if db.run("child_insert_run", params).rowcount == 1:
        workflow_started(db, child.org, workflow_id)
        if workflow_id is not None:
            trigger = {"kind": "child", "parentRunId": parent_id}
            now = child.step.started_at or 0.0  # a start step is recorded with its time
            announce_start(db, child.org, workflow_id, run_id, trigger, now)
        db.runnable = True


def _target(db: Session, child: NewChild) -> tuple[str, str | None, int | None] | dict[str, Any]:
    """``(name, workflow id, pinned version)`` of the child's workflow, or the start step's
    error when there is none or it starts no runs (Paused or Archived, as for events and
    schedules; runs of it already under way go on)."""
    if child.code_name is not None:  # a Workflow object: code, registered in org default
        row = db.run("get_workflow_head", {"org": "default", "ref": child.code_name}).fetchone()
        known = row is not None and row[3] == "code"
        if known and row[4] in ("Paused", "Archived"):
            return _not_active(row[2], row[4])
        return child.code_name, (str(row[1]) if known else None), None
    row = db.run("get_workflow_head", {"org": child.org, "ref": child.ref}).fetchone()
    if row is None and child.org != "default":
        row = db.run("get_workflow_head", {"org": "default", "ref": child.ref}).fetchone()
        row = row if row is not None and row[3] == "code" else None
    if row is None:
        message = f"no workflow {child.ref!r} in organization {child.org!r}"
        return {"type": "plait.UnknownWorkflow", "message": message}
    if row[4] == "Archived":
        message = f"workflow {row[2]!r} is archived and starts no runs"
        return {"type": "plait.UnknownWorkflow", "message": message}
    if row[4] == "Paused":
        return _not_active(row[2], row[4])
    return str(row[2]), str(row[1]), (int(row[5]) if row[3] == "definition" else None)


def _not_active(name: str, status: str) -> dict[str, Any]:
    message = (f"workflow {name!r} is {status} and starts no new runs, child runs included"
               + (": activate it to start runs" if status == "Paused" else ""))  # fmt: skip
    return {"type": "plait.WorkflowNotActive", "message": message, "workflow": name,
            "status": status}  # fmt: skip


def _record_start(
    db: Session,
    parent_id: str,
    fence: int,
    step: StepRecord,
    *,
    output: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> StepRecord:
    """Record the parent's start step (fenced): ``completed`` with ``output``, or ``failed``."""
    if error is not None:
        step.status, step.error = "failed", orjson.dumps(error)
    else:
        step.status, step.output = "completed", orjson.dumps(output)
    fenced(db, "upsert_step", {**step_params(parent_id, step), "fence": fence})
    return step


def _attempt_id(db: Session, parent_id: str, child: NewChild) -> str:
    """The child's id: the one the step recorded already (a start replayed), else ``child.id``,
    or the id of the step's next attempt when a child already has that id (a resumed step)."""
    run_id = child.id
    key = child.step.key
    started = db.run("child_start_of", {"run_id": parent_id, "key": key}).fetchone()
    if started is not None and started[0] is not None:
        return str(orjson.loads(_bytes(started[0]) or b"{}")["runId"])
    if db.run("child_exists", {"id": run_id}).fetchone() is None:
        return run_id
    row = db.run("child_attempts", {"parent_run_id": parent_id, "parent_step": key}).fetchone()
    attempt = int(row[0]) + 1
    while db.run("child_exists", {"id": child_run_id(parent_id, key, attempt)}).fetchone():
        attempt += 1
    return child_run_id(parent_id, key, attempt)


def _deliver(db: Session, run_id: str, step_key: str, seq: int, payload: bytes, now: float) -> None:
    db.run("signal_consume", {"seq": seq, "step_key": step_key})
    params = {"run_id": run_id, "step_key": step_key, "output": payload, "now": now}
    db.run("signal_complete_receive", params)
    wake(db, run_id, now)


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return str(value).encode()
