"""The step-result cache's entries as interfaces show them (``GET /~{org}/cache``, ``plait cache
list``), and what clearing it deleted."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from plait.resources.base import Resource, Stamp
from plait.store.step_cache import CacheEntry as EntryRecord


class CacheEntry(Resource):
    """A live cached step output (without the output): ``scope`` is ``{workflow}/{step}`` or
    the namespace its steps named; ``key`` the cache key as computed (cut to 200 characters)."""

    scope: str
    key: str
    workflow: str = Field(description="The workflow whose run stored the entry.")
    step: str = Field(description="The step that stored it.")
    run_id: str = Field(description="The run that stored it.")
    created_at: Stamp
    expires_at: Stamp
    hits: int = Field(description="Steps this entry answered since it was stored.")

    @classmethod
    def of(cls, record: EntryRecord) -> CacheEntry:
        return cls(scope=record.scope, key=record.key_text, workflow=record.workflow,
                   step=record.step, run_id=record.run_id, created_at=_at(record.created_at),
                   expires_at=_at(record.expires_at), hits=record.hits)  # fmt: skip


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class CacheEntries(Resource):
    """Up to ``limit`` live entries, newest first."""

    items: list[CacheEntry]


class CacheCleared(Resource):
    """What clearing the cache deleted (live and expired entries)."""

    deleted: int
