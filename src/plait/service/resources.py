"""How the service shows its records: the brief's camelCase resources."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plait.store.records import WorkflowRecord

WORKFLOW_FIELDS = ("description", "triggerEvent", "steps", "retryPolicy", "errorHandling",
                   "timeout")  # fmt: skip


def iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def workflow_resource(record: WorkflowRecord, trigger_events: list[str]) -> dict[str, Any]:
    """A workflow as the brief's Workflow entity; ``status`` reads ``Triggered`` while a run of
    an Activated workflow is executing (pending or running: ``record.running`` counts those, as
    the store reads it), not while its runs wait (a debounce delay, a timer, an event). Finds
    filtering on ``Activated`` match ``Triggered`` workflows too."""
    document = record.document
    status = record.status
    if status == "Activated" and record.running > 0:
        status = "Triggered"
    resource: dict[str, Any] = {"$id": record.id, "$type": "Workflow", "name": record.name}
    for field in WORKFLOW_FIELDS:
        resource[field] = document.get(field)
    if resource["triggerEvent"] is None and trigger_events:
        events = trigger_events
        resource["triggerEvent"] = events[0] if len(events) == 1 else events
    resource.update({
        "organization": record.org, "status": status, "version": record.version,
        "kind": record.kind, "lastRunAt": iso(record.last_run_at), "runCount": record.run_count,
        "successCount": record.success_count, "failureCount": record.failure_count,
        "createdAt": iso(record.created_at), "updatedAt": iso(record.updated_at),
    })  # fmt: skip
    if record.kind == "definition":
        resource["definition"] = document
    return resource
