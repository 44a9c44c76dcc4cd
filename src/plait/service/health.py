"""The health of the engine's database: whether it answers, its schema version, and the store's
counters that ``/metrics`` exports."""

from __future__ import annotations

from collections.abc import Mapping
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

    async def metrics(self, responses: Mapping[tuple[str, int], int] | None = None) -> bytes:
        """The Prometheus exposition of this engine (process): its counters and histograms,
        with the figures read at scrape time (worker slots, the store's counters, and the
        HTTP ``responses`` by method and status when this process serves the API)."""
        metrics = self.deps.metrics
        worker = self.deps.local.worker
        if worker is not None:
            free = max(worker.free_slots(), 0)
            metrics.slots(len(worker.executing), free)
        if responses is not None:
            metrics.counters["plait_http_responses_total"] = {
                (method, str(status)): float(count) for (method, status), count in responses.items()
            }
        await self._read_gauges()
        counters = await self.counters()
        for name in COUNTERS:
            value = getattr(counters, name)
            if value is not None:
                metrics.gauge(f"plait_store_{name}_total", f"Group-committed {COUNTERS[name]}.",
                              (), {(): float(value)}, kind="counter")  # fmt: skip
        return metrics.render()

    async def _read_gauges(self) -> None:
        """Runs by live status and open tasks, read from the store at scrape time."""
        store = await self.deps.store()
        metrics, runs = self.deps.metrics, await store.live_run_counts()
        metrics.gauge("plait_runs", "Runs by live status (every organization).", ("status",),
                      {(status,): float(count) for status, count in runs.items()})  # fmt: skip
        opened, overdue = await store.open_task_counts(self.deps.now())
        metrics.gauge("plait_tasks_open", "Open human tasks.", (), {(): float(opened)})
        metrics.gauge("plait_tasks_overdue", "Open human tasks past their due time.", (),
                      {(): float(overdue)})  # fmt: skip
        circuits = await store.circuit_counts(self.deps.now())
        metrics.gauge("plait_circuits", "Circuit breakers by state (every organization).",
                      ("state",), {(state,): float(circuits.get(state, 0))
                                   for state in ("closed", "open", "half-open")})  # fmt: skip

    async def counters(self) -> StoreCounters:
        """The group-commit counters of the store (``commits``, ``writes``) it keeps."""
        store = await self.deps.store()
        found = {name: getattr(store, name, None) for name in COUNTERS}
        return StoreCounters(**{name: value for name, value in found.items()
                                if isinstance(value, int)})  # fmt: skip
