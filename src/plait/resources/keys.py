"""An API key as every interface shows it (never the key itself, nor its hash), the answer to
creating one (which carries the key, that once), and pages of them."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field

from plait.resources.base import Page, Resource, Stamp, required_stamp, stamp
from plait.store.records import KeyRecord

Role = Literal["viewer", "runner", "editor", "admin"]
"""What a key may do; each role may do what the roles before it may do."""

ROLES: tuple[Role, ...] = get_args(Role)
"""Every role, least privileged first."""


class Key(Resource):
    """An API key of an organization: its id, role, and the person it is bound to, if any."""

    id: str = Field(alias="$id", description="The 8 characters after ``plait_``.")
    type: Literal["ApiKey"] = Field("ApiKey", alias="$type")
    organization: str
    role: Role
    prefix: str = Field(description="The part of the key that is not secret: ``plait_<id>``.")
    user: str | None = Field(None, description="The person the key is bound to, if any.")
    created_at: Stamp
    revoked_at: Stamp | None = None

    @classmethod
    def of(cls, k: KeyRecord) -> Key:
        return cls(**_fields(k))


class NewKey(Key):
    """A key just created, with the key itself: shown this once, never stored."""

    key: str = Field(description="The API key itself: shown this once, never stored.")

    @classmethod
    def issued(cls, k: KeyRecord, key: str) -> NewKey:
        return cls(**_fields(k), key=key)


def _fields(k: KeyRecord) -> dict[str, Any]:
    return {
        "id": k.id, "organization": k.org, "role": k.role, "prefix": k.prefix, "user": k.user,
        "created_at": required_stamp(k.created_at), "revoked_at": stamp(k.revoked_at),
    }  # fmt: skip


class KeyPage(Page[Key]):
    """API keys, oldest first, a page at a time."""
