"""An audit entry as every interface shows it, and pages of them."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp
from plait.store.audit import AuditRecord

Interface = Literal["api", "cli", "python", "console", "mcp"]
"""Where a change was made."""

Result = Literal["ok", "denied", "failed"]
"""How a change ended: made, refused (a role, an assignee, a hook's veto), or failed."""


class AuditActor(Resource):
    """Who made a change, and from where."""

    name: str = Field(description="The key's person, else the key's id, else the local caller's "
                      "name (``local`` if it gave none).")  # fmt: skip
    key: str | None = Field(None, description="The id of the API key, for a request with one.")
    user: str | None = Field(None, description="The person the key is bound to, if any.")
    role: str | None = Field(None, description="The key's role when it acted.")
    interface: Interface
    address: str | None = Field(None, description="Where from: the client's address over "
                                "HTTP, the host's name from the shell.")  # fmt: skip


class AuditResource(Resource):
    """What a change was made to."""

    type: str = Field(description="``workflow``, ``run``, ``task``, ``key``, ``secret``, "
                      "``schedule``, ``webhook``, ...")  # fmt: skip
    id: str


class AuditEntry(Resource):
    """One change made on a caller's behalf, or refused: who, what, when, where, the result."""

    id: str = Field(alias="$id")
    type: Literal["AuditEntry"] = Field("AuditEntry", alias="$type")
    organization: str
    at: Stamp = Field(description="When, by the engine's clock.")
    actor: AuditActor
    verb: str = Field(description="``create``, ``update``, ``activate``, ``cancel``, ...")
    resource: AuditResource
    run: str | None = Field(None, description="The run the change concerns, if any.")
    version_before: int | None = Field(None, description="The resource's version before.")
    version_after: int | None = Field(None, description="The resource's version after.")
    result: Result
    error: str | None = Field(None, description="The error type of a denied or failed change.")
    details: dict[str, Any] = Field(default_factory=dict,
                                    description="What else the change is known by (never a "
                                    "secret's value).")  # fmt: skip

    @classmethod
    def of(cls, r: AuditRecord) -> AuditEntry:
        actor = AuditActor(
            name=r.actor, key=r.key_id, user=r.user, role=r.role,
            interface=r.interface, address=r.address,  # type: ignore[arg-type]
        )  # fmt: skip
        return cls(
            id=r.id, organization=r.org, at=required_stamp(r.at), actor=actor, verb=r.verb,
            resource=AuditResource(type=r.resource_type, id=r.resource_id), run=r.run_id,
            version_before=r.version_before, version_after=r.version_after,
            result=r.result, error=r.error, details=orjson.loads(r.details),  # type: ignore[arg-type]
        )  # fmt: skip


class AuditPage(Page[AuditEntry]):
    """Audit entries, newest first, a page at a time."""
