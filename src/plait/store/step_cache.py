"""Step-result caching (migration 028): the cached outputs of steps, per organization and scope
(a workflow's step, or a namespace), by the SHA-256 of the step's cache key.

A step that succeeds writes its entry (an upsert: of two runs that miss at once, both run the
step and the later commit's output stays); a step that finds a live entry records it as its
output, marked ``cached``, in one transaction with the entry's hit count. Expired entries are
never read, and pruned a batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.store.backend import Backend
from plait.store.records import StepRecord
from plait.store.runs import fenced, step_params
from plait.store.session import Session

PRUNE_BATCH = 200
"""Expired entries deleted by one prune."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached step output. Times are Unix seconds.

    Attributes:
        scope: ``{workflow}/{step}``, or the namespace the step named.
        key_hash: SHA-256 (hex) of the cache key.
        key_text: the key as computed (cut short), to show.
        workflow: the workflow whose run wrote the entry.
        step: the name of the step that wrote it.
        output: the step's output (JSON); empty in listings.
        run_id: the run that wrote it.
    """

    org: str
    scope: str
    key_hash: str
    key_text: str
    workflow: str
    step: str
    output: bytes
    run_id: str
    created_at: float
    expires_at: float
    hits: int = 0


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A live entry's output, and the run that wrote it."""

    output: bytes
    run_id: str


class StepCacheVerbs(Backend):
    """The step-result cache of each organization."""

    async def cached_output(
        self, org: str, scope: str, key_hash: str, now: float
    ) -> CacheHit | None:
        """The output of the live entry of ``key_hash`` in ``org``'s ``scope`` (one read), or
        None when there is none or it expired at or before ``now``."""
        params = {"org": org, "scope": scope, "key_hash": key_hash, "now": now}
        row = await self._one("step_cache_get", params)
        return None if row is None else CacheHit(bytes(row[0]), str(row[1]))

    async def put_cached_output(self, entry: CacheEntry) -> None:
        """Insert ``entry``, or replace the entry of its key (atomic upsert; its hits restart
        at 0)."""
        params = {
            "org": entry.org, "scope": entry.scope, "key_hash": entry.key_hash,
            "key": entry.key_text, "workflow": entry.workflow, "step": entry.step,
            "output": entry.output, "run_id": entry.run_id, "now": entry.created_at,
            "expires_at": entry.expires_at,
        }  # fmt: skip
        await self._submit(lambda db: db.run("step_cache_put", params))

    async def record_cache_hit(
        self, run_id: str, fence: int, step: StepRecord, org: str, scope: str, key_hash: str
    ) -> None:
        """Record ``step`` (completed with a cached output) of the run held under ``fence``
        (else ``LeaseLost``), marked ``cached``, and count the entry's hit; one transaction."""
        params = {**step_params(run_id, step), "fence": fence}
        hit = {"org": org, "scope": scope, "key_hash": key_hash}

        def op(db: Session) -> None:
            fenced(db, "upsert_step", params)
            db.run("mark_step_cached", {"run_id": run_id, "key": step.key, "cached": True})
            db.run("step_cache_hit", hit)

        await self._submit(op)

    async def cache_entries(
        self, org: str, now: float, *, workflow: str | None = None, scope: str | None = None,
        limit: int = 100,
    ) -> list[CacheEntry]:  # fmt: skip
        """Up to ``limit`` live entries of ``org`` (of ``workflow``, of ``scope``), newest
        first, without their outputs; one read."""
        params = {"org": org, "now": now, "workflow": workflow, "scope": scope, "limit": limit}
        rows = await self._all("step_cache_list", params)
        return [CacheEntry(org, str(s), "", str(k), str(w), str(st), b"", str(r), float(c),
                           float(e), int(h)) for s, k, w, st, r, c, e, h in rows]  # fmt: skip

    async def clear_cache(
        self, org: str, *, workflow: str | None = None, scope: str | None = None
    ) -> int:
        """Delete every entry of ``org`` written by ``workflow`` and/or in ``scope`` (both
        None: all of the organization's); how many, in one transaction."""
        params = {"org": org, "workflow": workflow, "scope": scope}
        deleted: int = await self._submit(lambda db: db.run("step_cache_clear", params).rowcount)
        return deleted

    async def prune_cache(self, now: float, limit: int = PRUNE_BATCH) -> int:
        """Delete up to ``limit`` entries (of any organization) expired at ``now``; how many."""
        params = {"now": now, "limit": limit}
        deleted: int = await self._submit(lambda db: db.run("step_cache_prune", params).rowcount)
        return deleted
