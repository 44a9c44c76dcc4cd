"""The step-result cache of each organization (``engine.step_cache``): list its live entries,
clear a workflow's or a namespace's, and the worker's pruning of expired ones.

Steps read and write the cache themselves (``plait.runtime.step_cache``); this service is what
operators and interfaces use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import InvalidQuery
from plait.service.audit import audited
from plait.store.step_cache import PRUNE_BATCH

if TYPE_CHECKING:
    from plait.resources.step_cache import CacheEntry
    from plait.service.deps import Deps

PRUNE_SECONDS = 60.0
"""How often the worker prunes expired entries (sooner while a backlog remains)."""
PRUNE_PASSES = 5
"""Batches of :data:`PRUNE_BATCH` deleted by one pass at most."""
LIST_LIMIT = 1000


class StepCacheService:
    """Lists, clears and prunes cached step outputs."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._next_prune = 0.0

    async def entries(
        self, org: str, *, workflow: str | None = None, namespace: str | None = None,
        limit: int = 100,
    ) -> list[CacheEntry]:  # fmt: skip
        """Up to ``limit`` live entries of ``org`` (stored by ``workflow``'s runs, in the
        ``namespace`` scope), newest first."""
        from plait.resources.step_cache import CacheEntry

        if not 1 <= limit <= LIST_LIMIT:
            raise InvalidQuery(f"limit must be from 1 to {LIST_LIMIT}, not {limit}")
        store = await self.deps.store()
        now = self.deps.clock.time()
        found = await store.cache_entries(org, now, workflow=workflow, scope=namespace,
                                          limit=limit)  # fmt: skip
        return [CacheEntry.of(record) for record in found]

    async def clear(
        self, org: str, *, workflow: str | None = None, namespace: str | None = None
    ) -> int:
        """Delete the entries of ``org`` stored by ``workflow``'s runs and/or in the scope
        ``namespace`` (one of them is required); how many. Audited as ``clear`` of the
        ``cache`` of the workflow (or namespace)."""
        if workflow is None and namespace is None:
            raise InvalidQuery("name the workflow or the namespace whose cache to clear")
        target = workflow if workflow is not None else f"namespace:{namespace}"
        async with audited(self.deps, org, "clear", "cache", target) as change:
            store = await self.deps.store()
            deleted = await store.clear_cache(org, workflow=workflow, scope=namespace)
            change.details = {"deleted": deleted}
        return deleted

    async def workflow_name(self, org: str, ref: str) -> str:
        """The name of ``org``'s stored workflow ``ref`` (its id or name), else ``ref`` itself
        (a code workflow's name): what entries are kept under."""
        store = await self.deps.store()
        record = await store.get_workflow(org, ref)
        return ref if record is None else record.name

    async def prune(self, now: float) -> int:
        """Delete entries expired at ``now``, :data:`PRUNE_BATCH` at a time, at most
        :data:`PRUNE_PASSES` batches; how many."""
        store = await self.deps.store()
        total = 0
        for _ in range(PRUNE_PASSES):
            deleted = await store.prune_cache(now, PRUNE_BATCH)
            total += deleted
            if deleted < PRUNE_BATCH:
                break
        return total

    async def maintain(self, now: float) -> int:
        """The worker's periodic pruning: :meth:`prune` at most every :data:`PRUNE_SECONDS`
        (every second while a backlog remains); how many entries were deleted."""
        if now < self._next_prune:
            return 0
        self._next_prune = now + PRUNE_SECONDS  # a failed pass is not retried sooner
        total = await self.prune(now)
        if total >= PRUNE_BATCH * PRUNE_PASSES:
            self._next_prune = now + 1.0
        return total
