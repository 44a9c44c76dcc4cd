"""The health of an engine's database, as ``/healthz`` and ``plait migrate`` show it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plait.resources.base import Resource


class Health(Resource):
    """The database answers, migrated to ``schemaVersion``."""

    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"
    schema_version: int = Field(description="The last migration applied to the database.")


class StoreCounters(Resource):
    """What the store group-committed since it opened (``/metrics``); None where a backend
    does not count."""

    commits: int | None = Field(None, description="Transactions committed.")
    writes: int | None = Field(None, description="Write operations they carried.")
