"""Store verbs of runs, steps, workers, events and documents, written once against a Session
(mixed into every backend)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from plait.errors import InvalidQuery, LeaseLost, SerializationError
from plait.ids import new_id
from plait.store.areas.base import Area
from plait.store.records import (
    RECORD_FIELDS,
    ClaimedRun,
    DocumentRecord,
    EventRecord,
    NewRun,
    Operation,
    RunRecord,
    StepRecord,
    WorkerInfo,
    keyed_event_id,
)
from plait.store.session import Session
from plait.values import encode, offending_type

log = logging.getLogger(__name__)


class CoreArea(Area):
    """Runs, steps, workers, events, documents."""

    # -- runs -------------------------------------------------------------------------------

    async def create_run(
        self, run: NewRun, owner: str | None = None, lease_until: float | None = None
    ) -> tuple[RunRecord, bool]:
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
            "event_id": run.event_id,
        }  # fmt: skip

        def op(db: Session) -> RunRecord | None:
            if db.run("insert_run", params).rowcount == 1:
                self._workflow_started(db, run.org, run.workflow_id)
                self._runnable = self._runnable or not leased
                return None
            return _fetch_run(db, run.id, with_steps=False)

        existing: RunRecord | None = await self._submit(op)
        if existing is not None:
            return existing, False
        record = RunRecord(
            id=run.id, org=run.org, workflow=run.workflow, status=status, input=run.input,
            output=None, error=None, trigger=run.trigger, created_at=run.created_at,
            started_at=started, finished_at=None, updated_at=run.created_at, wake_at=None,
            deadline_at=run.deadline_at, lease_owner=owner, lease_expires_at=lease, fence=fence,
            executions=fence, workflow_id=run.workflow_id,
            workflow_version=run.workflow_version, event_id=run.event_id,
        )  # fmt: skip
        return record, True

    async def claim_runs(
        self, owner: str, workflows: Sequence[str], limit: int, now: float, lease_until: float
    ) -> list[ClaimedRun]:
        params = {
            "owner": owner,
            "workflows": orjson.dumps(list(workflows)).decode(),
            "limit": limit,
            "now": now,
            "lease_until": lease_until,
        }

        def op(db: Session) -> list[ClaimedRun]:
            rows = db.run("claim_runs", params).fetchall()
            orphans = self._cancel_orphans(db, [r[0] for r in rows], now)
            rows = [r for r in rows if r[0] not in orphans]
            if not rows:
                return []
            steps = _steps_by_run(db, [r[0] for r in rows])
            return [
                ClaimedRun(
                    r[0], r[1], r[2], r[3], r[4], r[5], steps.get(r[0], []), r[6], r[7], r[8]
                )
                for r in rows
            ]

        result: list[ClaimedRun] = await self._submit(op)
        return result

    def record_step(self, run_id: str, fence: int, step: StepRecord) -> asyncio.Future[None]:
        params = _step_params(run_id, step)
        params["fence"] = fence
        return self._submit(lambda db: _fenced(db, "upsert_step", params))

    async def suspend_run(self, run_id: str, fence: int, wake_at: float | None, now: float) -> None:
        params = {"run_id": run_id, "fence": fence, "wake_at": wake_at, "now": now}
        await self._submit(lambda db: _fenced(db, "suspend_run", params))

    async def finish_run(
        self,
        run_id: str,
        fence: int,
        status: str,
        output: bytes | None,
        error: bytes | None,
        now: float,
    ) -> None:
        params = {
            "run_id": run_id, "fence": fence, "status": status, "output": output,
            "error": error, "now": now,
        }  # fmt: skip

        def op(db: Session) -> None:
            _fenced(db, "finish_run", params)
            self._run_ended(db, run_id, status, now)
            self._child_ended(db, run_id, now)  # wakes a parent waiting on it

        await self._submit(op)

    async def release_runs(self, owner: str, run_ids: Sequence[str], now: float) -> int:
        def op(db: Session) -> int:
            released = sum(
                db.run("release_run", {"run_id": r, "owner": owner, "now": now}).rowcount
                for r in run_ids
            )
            self._runnable = self._runnable or released > 0  # other workers take them at once
            return released

        released: int = await self._submit(op)
        return released

    async def run_state(self, run_id: str) -> tuple[str, int] | None:
        row = await self._one("run_state", {"run_id": run_id})
        return None if row is None else (row[0], row[1])

    async def get_run(self, run_id: str, with_steps: bool = True) -> RunRecord | None:
        record: RunRecord | None = await self._read(
            lambda db: _fetch_run(db, run_id, with_steps=with_steps)
        )
        return record

    async def list_runs(
        self, workflow: str | None, status: str | None, limit: int, org: str | None = None
    ) -> list[RunRecord]:
        params = {"workflow": workflow, "status": status, "limit": limit, "org": org}
        return [_run(row) for row in await self._all("list_runs", params)]

    async def next_wake_at(self, workflows: Sequence[str]) -> float | None:
        params = {"workflows": orjson.dumps(list(workflows)).decode()}
        row = await self._one("next_wake_at", params)
        return None if row is None else row[0]

    # -- workers ----------------------------------------------------------------------------

    async def register_worker(self, worker: WorkerInfo) -> None:
        params = {
            "id": worker.id, "host": worker.host, "pid": worker.pid,
            "started_at": worker.started_at, "heartbeat_at": worker.heartbeat_at,
        }  # fmt: skip
        await self._submit(lambda db: db.run("register_worker", params))

    async def heartbeat(
        self, worker_id: str, now: float, lease_until: float, run_ids: Sequence[str]
    ) -> set[str]:
        def op(db: Session) -> set[str]:
            db.run("worker_heartbeat", {"worker_id": worker_id, "now": now})
            params = {"worker_id": worker_id, "lease_until": lease_until,
                      "run_ids": orjson.dumps(list(run_ids)).decode()}  # fmt: skip
            return {row[0] for row in db.run("extend_leases", params).fetchall()}

        held: set[str] = await self._submit(op)
        return held

    async def list_workers(self) -> list[WorkerInfo]:
        return [WorkerInfo(*row) for row in await self._all("list_workers")]

    async def remove_worker(self, worker_id: str, now: float) -> int:
        def op(db: Session) -> int:
            params = {"worker_id": worker_id, "now": now}
            released = db.run("release_worker_runs", params).rowcount
            db.run("delete_worker", {"worker_id": worker_id})
            self._runnable = self._runnable or released > 0  # other workers take them at once
            return int(released)

        released: int = await self._submit(op)
        return released

    # -- events -----------------------------------------------------------------------------

    async def emit_event(
        self,
        org: str,
        type: str,
        data: bytes,
        *,
        event_id: str | None,
        source: str,
        run_id: str | None,
        now: float,
    ) -> tuple[EventRecord, bool]:
        try:  # checked here: an error inside the batch would fail the writes it carries
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SerializationError("an event's data", "bytes", f"not JSON: {exc}") from exc
        event = EventRecord(event_id or new_id("event"), org, type, data, source, run_id, now)

        def op(db: Session) -> EventRecord | None:
            return None if self._store_event(db, event) else _fetch_event(db, org, event.id)

        stored: EventRecord | None = await self._submit(op)
        return (event, True) if stored is None else (stored, False)

    async def list_events(self, org: str, type: str | None, limit: int) -> list[EventRecord]:
        params = {"org": org, "type": type, "limit": limit}
        return [_event(row) for row in await self._all("list_events", params)]

    # -- documents --------------------------------------------------------------------------

    async def create_document(
        self,
        org: str,
        noun: str,
        data: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord:
        text = _json(_fields(data), "a document")
        doc = DocumentRecord(org, noun, new_id(noun.lower()), orjson.loads(text), now, now, 1)
        params = {
            "org": org, "noun": noun, "id": doc.id, "data": text, "now": now,
            "idempotency_key": idempotency_key,
        }  # fmt: skip
        event = _document_event(doc, "created", doc.as_dict(), run_id, idempotency_key)

        def op(db: Session) -> DocumentRecord:
            if db.run("insert_document", params).rowcount == 0:
                row = db.run("document_by_idempotency_key", params).fetchone()
                return _document(row)
            self._store_event(db, event)
            return doc

        created: DocumentRecord = await self._submit(op)
        return created

    async def update_document(
        self,
        org: str,
        noun: str,
        id: str,
        patch: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord | None:
        # Normalised to decoded JSON here, so that the merge inside the batch cannot fail.
        changes = orjson.loads(_json(_fields(patch), "a document update"))
        key = {"org": org, "noun": noun, "id": id}

        def op(db: Session) -> DocumentRecord | None:
            row = db.run("get_document", key).fetchone()
            if row is None or _applied(db, org, idempotency_key):
                return None if row is None else _document(row)
            merged = orjson.dumps({**orjson.loads(row[3]), **changes}).decode()
            params = {**key, "data": merged, "now": now}
            doc = _document(db.run("update_document", params).fetchone())
            event = _document_event(doc, "updated", doc.as_dict(), run_id, idempotency_key)
            self._store_event(db, event)
            return doc

        updated: DocumentRecord | None = await self._submit(op)
        return updated

    async def delete_document(
        self,
        org: str,
        noun: str,
        id: str,
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        gone = DocumentRecord(org, noun, id, {}, now, now, 0)
        event = _document_event(gone, "deleted", {"$id": id}, run_id, idempotency_key)

        def op(db: Session) -> bool:
            if _applied(db, org, idempotency_key):
                return True
            if db.run("delete_document", {"org": org, "noun": noun, "id": id}).rowcount == 0:
                return False
            self._store_event(db, event)
            return True

        deleted: bool = await self._submit(op)
        return deleted

    async def get_document(self, org: str, noun: str, id: str) -> DocumentRecord | None:
        row = await self._one("get_document", {"org": org, "noun": noun, "id": id})
        return None if row is None else _document(row)

    async def find_documents(
        self,
        org: str,
        noun: str,
        where: Mapping[str, Any],
        sort: str | None,
        limit: int,
    ) -> list[DocumentRecord]:
        for name in where:
            _check_field(name, "filter on")
        field, descending = (sort[1:], True) if sort and sort.startswith("-") else (sort, False)
        if field is not None and field not in RECORD_FIELDS:
            _check_field(field, "sort by")
        params = {
            "org": org, "noun": noun, "where": _json(dict(where), "a filter"), "sort": field,
            "descending": descending, "limit": limit,
        }  # fmt: skip
        return [_document(row) for row in await self._all("find_documents", params)]


# -- helpers ------------------------------------------------------------------------------------


def _cancel_message(run_id: str, op: Operation) -> str:
    by = f" by {op.actor}" if op.actor else ""
    why = f": {op.reason}" if op.reason else ""
    return f"run {run_id} was cancelled{by}{why}"


def _fenced(db: Session, query: str, params: dict[str, Any]) -> None:
    if db.run(query, params).rowcount != 1:
        raise LeaseLost(params["run_id"])


def _step_params(run_id: str, s: StepRecord) -> dict[str, Any]:
    return {
        "run_id": run_id, "key": s.key, "position": s.position, "name": s.name,
        "kind": s.kind, "status": s.status, "attempts": s.attempts, "output": s.output,
        "error": s.error, "started_at": s.started_at, "finished_at": s.finished_at,
        "wake_at": s.wake_at,
    }  # fmt: skip


def _steps_by_run(db: Session, run_ids: list[str]) -> dict[str, list[StepRecord]]:
    steps: dict[str, list[StepRecord]] = {}
    params = {"run_ids": orjson.dumps(run_ids).decode()}
    for row in db.run("steps_of_runs", params):
        steps.setdefault(row[0], []).append(StepRecord(*row[1:]))
    return steps


def _json(value: Any, what: str) -> str:
    try:
        return encode(value).decode()
    except TypeError as exc:
        raise SerializationError(what, offending_type(value), str(exc)) from exc


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in RECORD_FIELDS}


def _check_field(name: str, verb: str) -> None:
    if name in RECORD_FIELDS or not name or '"' in name:
        raise InvalidQuery(f"cannot {verb} field {name!r}: name a top-level field of the data")


def _event(row: Sequence[Any]) -> EventRecord:
    return EventRecord(row[0], row[1], row[2], row[3].encode(), row[4], row[5], row[6])


def _fetch_event(db: Session, org: str, event_id: str) -> EventRecord:
    return _event(db.run("get_event", {"org": org, "id": event_id}).fetchone())


def _insert_event(db: Session, e: EventRecord) -> bool:
    params = {
        "org": e.org, "id": e.id, "type": e.type, "data": e.data.decode(), "source": e.source,
        "run_id": e.run_id, "now": e.created_at,
    }  # fmt: skip
    return bool(db.run("insert_event", params).rowcount)


def _document_event(
    doc: DocumentRecord, verb: str, data: Any, run_id: str | None, key: str | None
) -> EventRecord:
    event_id = keyed_event_id(key) if key is not None else new_id("event")
    payload = orjson.dumps(data)  # the document's data is decoded JSON, so this cannot fail
    return EventRecord(
        event_id, doc.org, f"{doc.noun}.{verb}", payload, "record", run_id, doc.updated_at
    )


def _applied(db: Session, org: str, key: str | None) -> bool:
    """Whether the write made under ``key`` already committed (its event is stored)."""
    if key is None:
        return False
    params = {"org": org, "id": keyed_event_id(key)}
    return db.run("event_exists", params).fetchone() is not None


def _document(row: Sequence[Any]) -> DocumentRecord:
    return DocumentRecord(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5], row[6])


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(*row)


def _fetch_run(db: Session, run_id: str, *, with_steps: bool) -> RunRecord | None:
    row = db.run("get_run", {"run_id": run_id}).fetchone()
    if row is None:
        return None
    record = _run(row)
    if with_steps:
        record.steps = _steps_by_run(db, [run_id]).get(run_id, [])
    return record
