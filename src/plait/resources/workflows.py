"""A stored workflow as every interface shows it (the brief's ``Workflow`` entity, plus its
``kind`` and stored ``definition``), and pages of them.

Named ``StoredWorkflow`` in Python so as not to clash with :class:`plait.Workflow` (a code
workflow); its ``$type`` on the wire is ``Workflow``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp, stamp
from plait.store.records import WorkflowRecord

if TYPE_CHECKING:
    from plait.definitions.validate import Problem

WorkflowStatus = Literal["Draft", "Activated", "Paused", "Triggered", "Archived"]


class StoredWorkflow(Resource):
    """A workflow of the registry: a stored definition, or a code workflow registered in Python
    (``kind: code``, read-only). ``status`` reads ``Triggered`` while a run of an Activated
    workflow is executing (pending or running), not while its runs wait."""

    id: str = Field(alias="$id")
    type: Literal["Workflow"] = Field("Workflow", alias="$type")
    name: str
    description: str | None = None
    trigger_event: str | list[str] | None = Field(
        None, description="The event type (or types) that trigger it."
    )
    steps: Any = None
    retry_policy: Any = None
    error_handling: Any = None
    timeout: Any = Field(
        None, description="Longest run as written: milliseconds, or a duration such as '30s'."
    )
    organization: str
    status: WorkflowStatus
    version: int
    kind: Literal["definition", "code"]
    last_run_at: Stamp | None = None
    run_count: int
    success_count: int
    failure_count: int
    created_at: Stamp
    updated_at: Stamp
    definition: dict[str, Any] | None = Field(
        None, description="The stored document (definitions only)."
    )

    @classmethod
    def of(cls, record: WorkflowRecord, trigger_events: Sequence[str] = ()) -> StoredWorkflow:
        """The resource of ``record``; ``trigger_events`` stand in for a ``triggerEvent`` the
        document does not spell (another dialect's trigger, a code workflow's triggers)."""
        document = record.document
        status = record.status
        if status == "Activated" and record.running > 0:
            status = "Triggered"
        trigger = document.get("triggerEvent")
        if trigger is None and trigger_events:
            trigger = trigger_events[0] if len(trigger_events) == 1 else list(trigger_events)
        return cls(
            id=record.id, name=record.name, description=document.get("description"),
            trigger_event=trigger, steps=document.get("steps"),
            retry_policy=document.get("retryPolicy"),
            error_handling=document.get("errorHandling"), timeout=document.get("timeout"),
            organization=record.org, status=status,  # type: ignore[arg-type]
            version=record.version, kind=record.kind,  # type: ignore[arg-type]
            last_run_at=stamp(record.last_run_at), run_count=record.run_count,
            success_count=record.success_count, failure_count=record.failure_count,
            created_at=required_stamp(record.created_at),
            updated_at=required_stamp(record.updated_at),
            definition=document if record.kind == "definition" else None,
        )  # fmt: skip


class Finding(Resource):
    """A problem validation found, at the JSON path of the document where the author wrote it
    (``$.steps[0].mapping.type``)."""

    path: str
    message: str


class SavedWorkflow(StoredWorkflow):
    """What creating or updating a workflow answers: the workflow as stored, and the warnings
    its validation found (what ``plait validate`` shows; empty when there are none)."""

    warnings: list[Finding] = Field(
        default_factory=list, description="Validation warnings: the document is stored anyway."
    )

    @classmethod
    def saved(cls, workflow: StoredWorkflow, warnings: Sequence[Problem]) -> SavedWorkflow:
        findings = [Finding(path=problem.path, message=problem.message) for problem in warnings]
        return cls(**dict(workflow), warnings=findings)


class WorkflowPage(Page[StoredWorkflow]):
    """Stored workflows, a page at a time."""


class VersionEntry(Resource):
    """One immutable version of a stored workflow, without its document."""

    version: int
    created_at: Stamp


class WorkflowVersions(Resource):
    """The versions of a stored workflow, newest first (every version is kept)."""

    type: Literal["WorkflowVersions"] = Field("WorkflowVersions", alias="$type")
    workflow: str = Field(description="The workflow's id.")
    name: str
    current: int = Field(description="The version in force.")
    versions: list[VersionEntry]


class WorkflowRevision(Resource):
    """One version of a stored workflow: the document as written and its canonical definition
    (``{}`` for a Draft saved without steps)."""

    type: Literal["WorkflowVersion"] = Field("WorkflowVersion", alias="$type")
    workflow: str = Field(description="The workflow's id.")
    version: int
    document: dict[str, Any]
    definition: dict[str, Any]
    created_at: Stamp


class Validation(Resource):
    """What checking a workflow document found without storing it: the errors that would
    refuse it (``valid`` is false when there is any) and the warnings it would be saved with,
    each at its JSON path. The same rules as creating (or updating) it."""

    type: Literal["Validation"] = Field("Validation", alias="$type")
    valid: bool
    errors: list[Finding] = Field(default_factory=list)
    warnings: list[Finding] = Field(default_factory=list)

    @classmethod
    def of(cls, errors: Sequence[Problem], warnings: Sequence[Problem]) -> Validation:
        def found(problems: Sequence[Problem]) -> list[Finding]:
            return [Finding(path=p.path, message=p.message) for p in problems]

        return cls(valid=not errors, errors=found(errors), warnings=found(warnings))
