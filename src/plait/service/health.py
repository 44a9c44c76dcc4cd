"""The health of the engine's database: whether it answers, its schema version, and the store's
counters that ``/metrics`` exports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.resources.health import Health, StoreCounters

if TYPE_CHECKING:
    from plait.service.deps import Deps

COUNTERS = {"commits": "transactions", "writes": "write operations"}
"""The store's counters (attribute: what it counts), where a backend keeps them."""


class HealthService:
    """``engine.health``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def check(self) -> Health:
        """Open the database if it is not yet (migrating it) and read its schema version.

        Raises:
            DatabaseUnavailable: the database does not answer.
        """
        store = await self.deps.store()
        return Health(schema_version=await store.schema_version())

    async def counters(self) -> StoreCounters:
        """The group-commit counters of the store (``commits``, ``writes``) it keeps."""
        store = await self.deps.store()
        found = {name: getattr(store, name, None) for name in COUNTERS}
        return StoreCounters(**{name: value for name, value in found.items()
                                if isinstance(value, int)})  # fmt: skip
