"""Circuit breakers of an organization: their state, and the manual reset an operator uses
once the dependency is back (docs/flow-control.md). Steps open and close them as they run
(``plait.runtime.gates``); the state lives in the store, shared by every worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.errors import CircuitNotFound
from plait.resources.circuits import Circuit, CircuitList
from plait.service.audit import audited

if TYPE_CHECKING:
    from plait.service.deps import Deps

PRUNE_INTERVAL_SECONDS = 300.0
"""How often the housekeeping deletes the rows of idle rate limits."""
PRUNE_BATCH = 500
PRUNE_PASSES = 10


class CircuitService:
    """``engine.circuits``: ``await engine.circuits.reset("acme", "stripe")``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._next_prune_at = 0.0

    async def list(self, org: str) -> CircuitList:
        """Every circuit of ``org`` (one exists once a step declaring it has failed), by name."""
        store = await self.deps.store()
        now = self.deps.now()
        return CircuitList(items=[Circuit.of(c, now) for c in await store.list_circuits(org)])

    async def get(self, org: str, name: str) -> Circuit:
        """The circuit ``name`` of ``org``; ``CircuitNotFound`` if it has none."""
        store = await self.deps.store()
        found = await store.get_circuit(org, name)
        if found is None:
            raise CircuitNotFound(org, name)
        return Circuit.of(found, self.deps.now())

    async def maintain(self, now: float) -> int:
        """The worker's periodic housekeeping of flow limits: the rows of rate limits that hold
        nothing ahead of ``now`` are deleted (at most every :data:`PRUNE_INTERVAL_SECONDS`, in
        batches); how many. Circuits are kept: one row per named dependency, with its history
        (``opens``, ``lastError``)."""
        if now < self._next_prune_at:
            return 0
        self._next_prune_at = now + PRUNE_INTERVAL_SECONDS
        store = await self.deps.store()
        deleted = 0
        for _ in range(PRUNE_PASSES):
            done = await store.prune_rate_limits(now, PRUNE_BATCH)
            deleted += done
            if done < PRUNE_BATCH:
                break
        return deleted

    async def reset(self, org: str, name: str) -> Circuit:
        """Close the circuit ``name`` of ``org`` now (its failures forgotten, a probe in
        flight ignored): the next calls go through. ``CircuitNotFound`` if it has none."""
        async with audited(self.deps, org, "reset", "circuit", name[:200]):
            store = await self.deps.store()
            if not await store.reset_circuit(org, name, self.deps.now()):
                raise CircuitNotFound(org, name)
            return await self.get(org, name)
