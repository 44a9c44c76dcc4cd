"""The workflow registry: stored workflows (definitions and registered code workflows), their
immutable versions, the event types that trigger them, and their run counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from plait.errors import WorkflowNameTaken
from plait.store.backend import Backend
from plait.store.records import WorkflowRecord, WorkflowVersion
from plait.store.session import Conflict, Session


class WorkflowVerbs(Backend):
    """The stored workflows of each organization."""

    async def create_workflow(
        self, record: WorkflowRecord, definition: dict[str, Any], triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Insert a workflow with its version 1 and its triggers, atomically.

        Raises ``WorkflowNameTaken`` if the organization already has a workflow of that name.
        """
        params = _record_params(record)

        def op(db: Session) -> None:
            if db.run("insert_workflow", params).rowcount != 1:
                raise WorkflowNameTaken(record.name)
            _insert_version(db, record, definition)
            _set_triggers(db, record.org, record.id, triggers)

        await self._submit(op)
        return record

    async def update_workflow(
        self,
        org: str,
        workflow_id: str,
        expected_version: int,
        document: dict[str, Any],
        definition: dict[str, Any],
        triggers: Sequence[str],
        now: float,
    ) -> WorkflowRecord | None:
        """Store a new immutable version if the current one is still ``expected_version``.

        Returns the workflow as updated, or ``None`` when it changed meanwhile (or is gone).
        """
        name = str(definition.get("name"))

        def op(db: Session) -> WorkflowRecord | None:
            params = {"org": org, "id": workflow_id, "expected": expected_version, "name": name,
                      "document": _dumps(document), "now": now}  # fmt: skip
            try:
                row = db.run("update_workflow", params).fetchone()
            except Conflict as exc:
                raise WorkflowNameTaken(name) from exc
            if row is None:
                return None
            record = _fetch(db, org, workflow_id)
            assert record is not None
            _insert_version(db, record, definition)
            _set_triggers(db, org, workflow_id, triggers)
            return record

        updated: WorkflowRecord | None = await self._submit(op)
        return updated

    async def set_workflow_status(
        self, org: str, workflow_id: str, from_statuses: Sequence[str], to: str, now: float
    ) -> tuple[WorkflowRecord | None, bool]:
        """Compare-and-set the status (atomic: from one of ``from_statuses`` to ``to``);
        return the workflow and whether it changed."""
        params = {"org": org, "id": workflow_id, "to_status": to, "now": now,
                  "from_statuses": _dumps(list(from_statuses))}  # fmt: skip

        def op(db: Session) -> tuple[WorkflowRecord | None, bool]:
            changed = db.run("set_status", params).rowcount == 1
            return _fetch(db, org, workflow_id), changed

        result: tuple[WorkflowRecord | None, bool] = await self._submit(op)
        return result

    async def upsert_code_workflow(
        self, record: WorkflowRecord, triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Register (or refresh) a code workflow: read-only, no versions, its triggers, in one
        transaction (concurrent registrations of one name store it once)."""

        def op(db: Session) -> WorkflowRecord:
            existing = _fetch(db, record.org, record.name)
            if existing is None:
                db.run("insert_workflow", _record_params(record))
                _set_triggers(db, record.org, record.id, triggers)
                return record
            if existing.kind == "code":
                _set_triggers(db, record.org, existing.id, triggers)
            return existing

        stored: WorkflowRecord = await self._submit(op)
        return stored

    async def delete_workflow(self, org: str, workflow_id: str) -> bool:
        """Delete a workflow with its versions, triggers and debounces (its runs stay), in
        one transaction; ``False`` if there was none."""
        params = {"org": org, "id": workflow_id}

        def op(db: Session) -> bool:
            for query in ("delete_triggers", "delete_versions", "delete_debounces"):
                db.run(query, params)
            return bool(db.run("delete_workflow", params).rowcount)

        deleted: bool = await self._submit(op)
        return deleted

    async def get_workflow(self, org: str, ref: str) -> WorkflowRecord | None:
        """A workflow by id or name."""
        found: WorkflowRecord | None = await self._read(lambda db: _fetch(db, org, ref))
        return found

    async def get_workflow_version(
        self, org: str, workflow_id: str, version: int
    ) -> WorkflowVersion | None:
        """One immutable version of a workflow (its definition as stored), or ``None``."""
        params = {"org": org, "id": workflow_id, "version": version}
        row = await self._one("get_version", params)
        if row is None:
            return None
        return WorkflowVersion(row[0], row[1], row[2], orjson.loads(row[3]),
                               orjson.loads(row[4]), row[5])  # fmt: skip

    async def list_workflow_versions(self, org: str, workflow_id: str) -> list[tuple[int, float]]:
        """``(version, created_at)`` of each version of a workflow, newest first."""
        rows = await self._all("list_versions", {"org": org, "id": workflow_id})
        return [(int(row[0]), float(row[1])) for row in rows]

    async def list_workflows(self, org: str) -> list[WorkflowRecord]:
        """Every workflow of ``org``, oldest first (the service filters, sorts and pages)."""
        return [_workflow(row) for row in await self._all("list_workflows", {"org": org})]


# -- helpers -----------------------------------------------------------------------------------


def _insert_version(db: Session, record: WorkflowRecord, definition: dict[str, Any]) -> None:
    db.run("insert_version", {
        "org": record.org, "workflow_id": record.id, "version": record.version,
        "document": _dumps(record.document), "definition": _dumps(definition),
        "now": record.updated_at,
    })  # fmt: skip


def _set_triggers(db: Session, org: str, workflow_id: str, types: Sequence[str]) -> None:
    db.run("set_trigger_list", {"org": org, "id": workflow_id, "triggers": _dumps(list(types))})
    db.run("delete_triggers", {"org": org, "id": workflow_id})
    for event_type in types:
        db.run("insert_trigger", {"org": org, "event_type": event_type, "id": workflow_id})


def _record_params(r: WorkflowRecord) -> dict[str, Any]:
    return {"org": r.org, "id": r.id, "name": r.name, "kind": r.kind, "status": r.status,
            "version": r.version, "document": _dumps(r.document), "now": r.created_at}  # fmt: skip


def _fetch(db: Session, org: str, ref: str) -> WorkflowRecord | None:
    row = db.run("get_workflow", {"org": org, "ref": ref}).fetchone()
    return None if row is None else _workflow(row)


def _workflow(row: Sequence[Any]) -> WorkflowRecord:
    values = list(row)
    values[6] = orjson.loads(values[6])
    if len(values) > 14:
        values[14] = orjson.loads(values[14])
    return WorkflowRecord(*values)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
