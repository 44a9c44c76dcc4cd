"""What the engine hands every service: settings, clock, the catalog, the one way to reach the
store, and the link to this process's worker.

Services receive a :class:`Deps` (and the other services they call), never the engine: the
engine only assembles them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plait.metrics import Metrics
from plait.service.hooks import WorkflowHooks

if TYPE_CHECKING:
    from plait.clock import Clock
    from plait.runtime.executor import Outcome
    from plait.service.catalog import Catalog
    from plait.service.feed import Feed
    from plait.settings import Settings
    from plait.store.base import Store
    from plait.store.records import NewRun, RunRecord
    from plait.worker.worker import Worker


class StoreSlot:
    """Opens the store on first use (once, even when a gather of first uses races) and hands it
    out; ``close`` closes it, and the next use opens it again."""

    def __init__(self, open: Callable[[], Awaitable[Store]]) -> None:
        self._open = open
        self._store: Store | None = None
        self._opening: asyncio.Lock | None = None

    async def get(self) -> Store:
        if self._store is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._store is None:
                    from plait.service.audit import unattributed

                    # Its background tasks (group commit, notifications) serve every caller,
                    # not the one whose first use opened it.
                    with unattributed():
                        self._store = await self._open()
        return self._store

    async def close(self) -> None:
        store, self._store = self._store, None
        self._opening = None  # a lock is bound to the event loop it first waited in
        if store is not None:
            await store.close()


class LocalWorker:
    """This process's worker, while it runs one: a run created here starts on it at once when
    it has a free slot, a cancelled run stops its step here, and commits that made runs
    runnable wake it."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.metrics: Metrics | None = None

    async def create_run(self, store: Store, run: NewRun) -> tuple[RunRecord, bool]:
        """Create ``run``: executed at once by the local worker if it has a free slot, else
        stored ``pending`` for a worker's claim. ``(record, created)``."""
        if self.worker is not None:
            from plait.service.audit import unattributed  # loaded with the first run started

            with unattributed():  # the run executes as itself, not as its starter
                record, created = await self.worker.submit(run)
        else:
            record, created = await store.create_run(run)
        if created and self.metrics is not None:
            self.metrics.inc("plait_runs_started_total", run.workflow, run.trigger, org=run.org)
        return record, created

    def cancel(self, run_ids: Iterable[str]) -> None:
        """Stop the steps of ``run_ids`` executing here (the store has already fenced them)."""
        if self.worker is not None:
            for run_id in run_ids:
                self.worker.cancel_local(run_id)

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def ended(self, run_id: str) -> asyncio.Future[Outcome] | None:
        """A future of the run's end when it executes here (forget it with ``forget``)."""
        worker = self.worker
        return worker.wait_local(run_id) if worker is not None and worker.running else None

    def forget(self, run_id: str, future: asyncio.Future[Outcome]) -> None:
        if self.worker is not None:
            self.worker.forget_waiter(run_id, future)


@dataclass(eq=False)
class Deps:
    """What every service is given."""

    settings: Settings
    clock: Clock
    catalog: Catalog
    slot: StoreSlot
    local: LocalWorker = field(default_factory=LocalWorker)
    hooks: WorkflowHooks = field(init=False)
    """The workflow hooks of this engine (``engine.workflows.before``/``after``)."""
    metrics: Metrics = field(default_factory=Metrics)
    """This engine's Prometheus metrics (``plait.metrics``)."""

    def __post_init__(self) -> None:
        self.hooks = WorkflowHooks(self)
        self.local.metrics = self.metrics

    @functools.cached_property
    def feed(self) -> Feed:
        """This process's reader of the change feed, shared by its live streams."""
        from plait.service.feed import Feed

        return Feed(self)

    async def store(self) -> Store:
        """The store, opened (and migrated) on first use: the one way to reach it."""
        return await self.slot.get()

    def now(self) -> float:
        return self.clock.time()
