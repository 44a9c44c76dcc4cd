"""The worker loop: claim runnable runs, execute them, keep their leases, stop gracefully.

A worker holds each run it executes under a lease that its heartbeat extends; the claim that gave
it the run incremented the run's fencing number, so a worker that lost a lease (it stalled, or the
run was cancelled) can no longer write the run. Runs that suspend leave the worker entirely: a
waiting run is a row with a wake time, and the loop claims it again when that time comes.

The claim loop (which also fires schedules) and the heartbeat loop are supervised: a loop that
dies stops the whole worker, as a graceful stop would, and :meth:`Worker.wait` raises its error
(so does a loop that dies while a stop is under way). A worker that kept heart-beating without
claiming would hold its runs' leases and do nothing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from plait.clock import sleep_until
from plait.errors import PlaitError, StoreError
from plait.ids import new_id
from plait.runtime.executor import Outcome, Runtime, execute
from plait.store.records import ClaimedRun, NewRun, RunRecord, WorkerInfo
from plait.worker import liveness

if TYPE_CHECKING:
    from plait.workflow import Workflow

log = logging.getLogger(__name__)


_heap_frozen = False


def _freeze_heap() -> None:
    """Once per process, when its first worker starts: collect the garbage, then move what the
    process holds (modules, classes, functions, the application's set-up) out of the cyclic
    collector's way (``gc.freeze``). Its full collections then walk only what runs made since
    (at 1,000 runs in flight they cost a traced run about 200 K instructions before;
    docs/performance.md, "Observability overhead"). Plain garbage is freed by reference counting
    as ever; what was alive then and later becomes cyclic garbage stays."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


class Worker:
    """Executes runs of the given workflows, at most ``settings.concurrency`` at a time."""

    def __init__(
        self,
        rt: Runtime,
        workflows: Mapping[str, Workflow],
        *,
        resolve: Callable[[ClaimedRun], Awaitable[Workflow]] | None = None,
        periodic: Callable[[float], Awaitable[bool]] | None = None,
        on_death: Callable[[BaseException], None] | None = None,
    ) -> None:
        """``periodic(now)`` runs on each turn of the claim loop (firing schedules); it returns
        whether it did all its due work: ``False`` (some of it failed and was skipped) makes
        the loop wait for the poll interval rather than the next wake time, which is past.
        ``on_death(error)`` is called when a loop dies, as the worker begins to stop."""
        self.rt = rt
        self.workflows = workflows
        self._resolve = resolve
        self._periodic = periodic
        self._on_death = on_death
        self.id = new_id("worker")
        self._active: dict[str, asyncio.Task[Outcome | None]] = {}
        self._reserved = 0
        self._saturated = False
        """Runnable runs may be left unclaimed for want of a slot: claim when one frees up."""
        self._waiters: dict[str, list[asyncio.Future[Outcome]]] = {}
        self._wakeup = asyncio.Event()
        self._loops: dict[asyncio.Task[None], str] = {}
        """The background loops (claim, heartbeat), by the name the logs give them."""
        self._running = False
        self._stopping: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._failure: BaseException | None = None
        """The error of the loop whose death stopped the worker."""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        now = self.rt.clock.time()
        liveness.mark_alive(self.id, self)
        info = WorkerInfo(self.id, liveness.HOST, os.getpid(), now, now)
        await self.rt.store.register_worker(info)
        await self._reap_dead_workers()
        self._running = True
        self._stopping, self._failure = None, None
        self._stopped.clear()
        self._loops = {}
        self._supervise("claim", self._claim_loop())
        self._supervise("heartbeat", self._heartbeat_loop())
        _freeze_heap()
        log.info("worker %s started", self.id)

    async def stop(self) -> None:
        """Stop claiming, let running runs finish for ``shutdown_seconds``, release the rest.

        Idempotent: a second call (or a call while a dead loop is stopping the worker) waits for
        the same stop. The stop is shielded from the caller's cancellation (a timeout around
        it): it goes on to release the runs and remove the worker. A stop that failed (the
        database was down) or was itself cancelled is started afresh by the next call."""
        if self._stopping is None and not self._running:
            return
        await asyncio.shield(self._begin_stop())

    async def wait(self) -> None:
        """Wait until the worker has stopped: return after a clean stop, or raise the error of
        the loop whose death stopped it (after the stop, so its runs are released)."""
        if self._stopping is not None or self._running:
            await self._stopped.wait()
        if self._failure is not None:
            raise self._failure

    @property
    def failure(self) -> BaseException | None:
        """The error of the loop whose death stopped the worker, if one did."""
        return self._failure

    def _begin_stop(self) -> asyncio.Task[None]:
        stopping = self._stopping
        if stopping is None or (stopping.done() and (stopping.cancelled() or stopping.exception())):
            self._running = False
            self._stopped.clear()
            stopping = asyncio.create_task(self._shut_down(), name=f"plait-stop-{self.id}")
            stopping.add_done_callback(self._stop_ended)
            self._stopping = stopping
        return stopping

    def _stop_ended(self, stopping: asyncio.Task[None]) -> None:
        if not stopping.cancelled() and stopping.exception() is not None:
            log.error("worker %s: stopping failed; the next stop retries", self.id,
                      exc_info=stopping.exception())  # fmt: skip

    async def _shut_down(self) -> None:
        try:
            await self._end_loops()
            if self._active:
                await asyncio.wait(
                    list(self._active.values()), timeout=self.rt.settings.shutdown_seconds
                )
            leftovers = list(self._active.values())
            for job in leftovers:
                job.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
            released = await self.rt.store.remove_worker(self.id, self.rt.clock.time())
            liveness.mark_gone(self.id)
            log.info("worker %s stopped; %d run(s) released", self.id, released)
        finally:
            self._stopped.set()

    async def _end_loops(self) -> None:
        """Cancel the loops and wait for them. One that died meanwhile (its error raced the
        cancel, or the stop began as it died) is a death all the same: logged, and kept as the
        worker's failure if it has none yet."""
        loops = dict(self._loops)
        for loop in loops:
            loop.cancel()
        ended = await asyncio.gather(*loops, return_exceptions=True)
        for name, result in zip(loops.values(), ended, strict=True):
            if not isinstance(result, BaseException) or isinstance(result, asyncio.CancelledError):
                continue
            if result is not self._failure:
                log.error("worker %s: its %s loop died while stopping", self.id, name,
                          exc_info=result)  # fmt: skip
                self._failure = self._failure or result
        for loop in loops:  # a retried stop does not report them again
            self._loops.pop(loop, None)

    # -- supervision ------------------------------------------------------------------------

    def _supervise(self, name: str, body: Coroutine[Any, Any, None]) -> None:
        loop = asyncio.create_task(body, name=f"plait-{name}-{self.id}")
        self._loops[loop] = name
        loop.add_done_callback(self._loop_ended)

    def _loop_ended(self, loop: asyncio.Task[None]) -> None:
        """A loop ended. During a stop that is the stop; otherwise the loop died (a bug, or an
        error it does not retry): stop the whole worker, so that its leases lapse and other
        workers take its runs, and let :meth:`wait` raise the error."""
        if not self._running or loop.cancelled():
            return  # stopping; or the event loop itself is shutting down
        name = self._loops.get(loop, "background")
        error = loop.exception() or RuntimeError(f"the {name} loop ended while running")
        log.error("worker %s: its %s loop died; stopping the worker", self.id, name,
                  exc_info=error)  # fmt: skip
        self._failure = error
        self._begin_stop()
        if self._on_death is not None:
            self._on_death(error)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def executing(self) -> frozenset[str]:
        """Ids of the runs executing here (a suspended run is not among them)."""
        return frozenset(self._active)

    def free_slots(self) -> int:
        """Slots not taken by a run executing here or reserved for one about to (a local
        start or a claim awaiting the database)."""
        if not self._running:
            return 0
        return self.rt.settings.concurrency - len(self._active) - self._reserved

    # -- runs -------------------------------------------------------------------------------

    async def submit(self, run: NewRun) -> tuple[RunRecord, bool]:
        """Create ``run``: leased to this worker and executing at once if a slot is free, else
        ``pending`` for a later claim. Return the stored run and whether it was created.

        The slot is reserved before the database write, so concurrent starts cannot all see
        the same free slot and exceed the concurrency limit.
        """
        store = self.rt.store
        if self.free_slots() <= 0:
            self._saturated = True
            result = await store.create_run(run)
            self.wake()
            return result
        self._reserved += 1
        try:
            lease_until = run.created_at + self.rt.settings.lease_seconds
            record, created = await store.create_run(run, owner=self.id, lease_until=lease_until)
            # Flow control may keep a new run back (debounced, over its key's limit).
            leased = created and record.lease_owner == self.id
            if leased:
                self._count_claim(run.workflow, 0.0)  # leased at creation: it never queued
                self._spawn(ClaimedRun(run.id, run.workflow, run.input, record.fence,
                                       run.created_at, run.deadline_at, [], run.org,
                                       run.workflow_id, run.workflow_version,
                                       trace_context=run.trace_context))  # fmt: skip
        finally:
            self._reserved -= 1
        if not leased:
            self.wake()  # the slot reserved for it is free again
        return record, created

    def cancel_local(self, run_id: str) -> None:
        """Stop executing ``run_id`` here (the store has already marked it cancelled)."""
        job = self._active.get(run_id)
        if job is not None:
            job.cancel()
        for future in self._waiters.pop(run_id, []):
            if not future.done():
                future.set_result(Outcome("cancelled"))

    def wait_local(self, run_id: str) -> asyncio.Future[Outcome]:
        """A future resolved when this worker ends ``run_id`` (it may never, if another does)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(run_id, []).append(future)
        return future

    def forget_waiter(self, run_id: str, future: asyncio.Future[Outcome]) -> None:
        waiters = self._waiters.get(run_id)
        if waiters and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._waiters[run_id]

    def wake(self) -> None:
        self._wakeup.set()

    def _count_claim(self, workflow: str, waited: float, *, reclaimed: bool = False) -> None:
        if self.rt.metrics is not None:
            self.rt.metrics.claimed(workflow, waited, reclaimed=reclaimed)

    def _spawn(self, run: ClaimedRun) -> None:
        previous = self._active.get(run.id)
        if previous is not None:  # our own lease lapsed and we re-claimed it: the old one is fenced
            previous.cancel()
        job = asyncio.create_task(self._execute(run), name=f"plait-run-{run.id}")
        self._active[run.id] = job
        job.add_done_callback(lambda done: self._finished(run.id, done))

    async def _execute(self, run: ClaimedRun) -> Outcome | None:
        workflow = self.workflows.get(run.workflow) if run.workflow_version is None else None
        if workflow is None:
            try:
                workflow = (
                    await self._resolve(run) if self._resolve else self.workflows[run.workflow]
                )
            except Exception as exc:
                return await self._unloadable(run, exc)
        return await execute(self.rt, run, workflow)

    async def _unloadable(self, run: ClaimedRun, exc: Exception) -> Outcome | None:
        from plait import values
        from plait.errors import LeaseLost

        error = values.encode(values.error_info(exc))
        log.error("run %s: its workflow cannot be loaded: %s", run.id, exc)
        try:
            await self.rt.store.finish_run(run.id, run.fence, "failed", None, error,
                                           self.rt.clock.time())  # fmt: skip
        except LeaseLost:
            return None
        return Outcome("failed", error=error)

    def _finished(self, run_id: str, job: asyncio.Task[Outcome | None]) -> None:
        if self._active.get(run_id) is job:
            del self._active[run_id]
        outcome = None if job.cancelled() or job.exception() else job.result()
        if self._saturated or outcome is None or outcome.status == "waiting":
            # A slot freed up for a run left unclaimed, or a wake time may have moved earlier.
            # A run that simply ended changes neither, and the loop stays idle (a start that
            # arrives now takes the free slot without racing a claim).
            self._wakeup.set()
        if job.cancelled():
            return
        error = job.exception()
        if error is not None:
            log.error("run %s: replay crashed: %r", run_id, error, extra={"run_id": run_id})
            return
        if outcome is None or outcome.status == "waiting":
            return
        for future in self._waiters.pop(run_id, []):
            if not future.done():
                future.set_result(outcome)

    # -- loops ------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        settings, clock, store = self.rt.settings, self.rt.clock, self.rt.store
        while self._running:
            self._wakeup.clear()
            names = sorted(self.workflows)  # workflows may be registered after the start
            failed = False
            if self._periodic is not None:
                try:
                    failed = not await self._periodic(clock.time())
                except Exception as exc:
                    if not tolerated(exc):
                        raise
                    log.exception("firing schedules failed; retrying")
                    failed = True
            free = self.free_slots()
            claimed: list[ClaimedRun] = []
            if free > 0:
                now = clock.time()
                self._reserved += free  # local starts during the claim must not take these
                try:
                    claimed = await store.claim_runs(
                        self.id, names, free, now, now + settings.lease_seconds
                    )
                except Exception as exc:
                    if not tolerated(exc):
                        raise
                    log.exception("claiming runs failed; retrying")
                finally:
                    self._reserved -= free
                for run in claimed:
                    waited = 0.0 if run.ready_at is None else now - run.ready_at
                    self._count_claim(run.workflow, waited, reclaimed=run.reclaimed)
                    self._spawn(run)
            # More may be runnable than this claim took: claim again when a slot frees up.
            self._saturated = free <= 0 or len(claimed) == free
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            await self._idle(names, poll_only=failed)

    async def _idle(self, names: list[str], *, poll_only: bool = False) -> None:
        """Sleep until woken, the next wake time, or the poll interval, whichever comes first.

        The wake time (a timer or a schedule's tick) and the poll are separate timers: a
        virtual clock skips straight to the wake time, and never to the poll, which is
        housekeeping. After firing schedules failed, only the poll counts, so that a tick
        that cannot fire is retried at the poll interval rather than in a busy loop.
        """
        clock = self.rt.clock
        due: float | None = None
        try:
            if not poll_only:
                due = await self.rt.store.next_wake_at(names)
        except Exception as exc:
            if not tolerated(exc):
                raise
            log.exception("reading the next wake time failed")
        if due is not None and due <= clock.time():
            await asyncio.sleep(0)
            return
        timers = {
            asyncio.ensure_future(clock.sleep(self.rt.settings.poll_seconds, background=True))
        }
        if due is not None:
            timers.add(asyncio.ensure_future(sleep_until(clock, due)))
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({*timers, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (*timers, woken):
                waiter.cancel()

    async def _heartbeat_loop(self) -> None:
        settings, clock, store = self.rt.settings, self.rt.clock, self.rt.store
        while self._running:
            await clock.sleep(settings.heartbeat_seconds, background=True)
            now = clock.time()
            before = dict(self._active)
            try:
                held = await store.heartbeat(self.id, now, now + settings.lease_seconds,
                                             list(before))  # fmt: skip
                await self._reap_dead_workers()
            except Exception as exc:
                if not tolerated(exc):
                    raise
                log.exception("heartbeat failed; retrying")
                continue
            for run_id, job in before.items():
                if run_id not in held and not job.done():
                    log.warning("run %s: lease lost; stopping it here", run_id)
                    job.cancel()

    async def _reap_dead_workers(self) -> None:
        store, now = self.rt.store, self.rt.clock.time()
        stale_after = 3 * self.rt.settings.lease_seconds
        for worker in await store.list_workers():
            if worker.id != self.id and liveness.is_dead(worker, now, stale_after):
                released = await store.remove_worker(worker.id, now)
                log.info("worker %s is gone; %d run(s) made runnable", worker.id, released)
                if released:
                    self._wakeup.set()


def tolerated(error: Exception) -> bool:
    """Whether a loop retries after ``error``: the database's and the operating system's faults
    (a lost connection, a locked file) and plait's own errors (``StoreError``, a refused
    operation) pass; anything else is a bug that a retry would only repeat, so it kills the loop
    and the worker stops."""
    return isinstance(error, PlaitError) or database_fault(error)


def database_fault(error: Exception) -> bool:
    """Whether ``error`` is the database's or the operating system's (a driver's error, a lost
    connection, a locked file, ``StoreError``): a retry may succeed once it is back."""
    drivers: tuple[type[Exception], ...] = (sqlite3.Error,)
    psycopg = sys.modules.get("psycopg")  # not imported: none of its errors can have been raised
    if psycopg is not None:
        drivers += (psycopg.Error,)
    return isinstance(error, (StoreError, OSError, *drivers))
