"""A secret as every interface shows it: its name and timestamps, never its value; pages of
them, and what a key rotation re-sealed."""

from __future__ import annotations

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp
from plait.store.records import SecretRecord


class Secret(Resource):
    """A secret of an organization (write-only: no resource carries its value)."""

    name: str = Field(description="Letters, digits and _: ``secrets.NAME`` reads it.")
    created_at: Stamp
    updated_at: Stamp

    @classmethod
    def of(cls, s: SecretRecord) -> Secret:
        return cls(name=s.name, created_at=required_stamp(s.created_at),
                   updated_at=required_stamp(s.updated_at))  # fmt: skip


class SecretPage(Page[Secret]):
    """Secrets by name, a page at a time."""


class Rotation(Resource):
    """What a key rotation re-sealed under the newest key."""

    secrets: int = Field(description="Secrets of every organization.")
    webhook_secrets: int = Field(description="Webhook signing secrets.")
