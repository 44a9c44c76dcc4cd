"""The ``Store`` protocol: every durable fact plait keeps goes through these verbs.

Verbs are domain operations, not SQL; each docstring says what it does atomically. Values cross
this boundary as dataclasses with JSON already encoded (``bytes``), so a backend never sees Python
objects it must serialise. Writes that carry a ``fence`` succeed only while the caller still holds
the run's lease under that fencing number, and raise ``LeaseLost`` otherwise.

Run status values: ``pending`` (runnable), ``running`` (leased), ``waiting`` (suspended until
``wake_at``), and the terminal ``succeeded``, ``failed``, ``cancelled``.

Documents (the store behind record actions such as ``Deal.create``) are the exception to encoded
values: their verbs take and return dicts, because the store merges patches and builds the
``<Noun>.created`` / ``.updated`` / ``.deleted`` event of each write from the record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from plait.store.records import (
    Cancellation,
    ClaimedRun,
    DocumentRecord,
    EventRecord,
    MachineEvent,
    NewChild,
    NewRun,
    NewTask,
    RunRecord,
    StepRecord,
    TaskRecord,
    WorkerInfo,
)
from plait.store.service_verbs import ServiceVerbs


@runtime_checkable
class Store(ServiceVerbs, Protocol):
    """Durable state of runs, steps, workers, events and documents, and (inherited from
    :class:`~plait.store.service_verbs.ServiceVerbs`) of the automation service: everything the
    engine and the service layer ask of a backend, so a new backend implements this and nothing
    above the store changes."""

    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent; safe from several processes)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and disconnect."""
        ...

    async def schema_version(self) -> int:
        """The applied migration number."""
        ...

    # -- runs -----------------------------------------------------------------------------

    async def create_run(
        self, run: NewRun, owner: str | None = None, lease_until: float | None = None
    ) -> tuple[RunRecord, bool]:
        """Insert ``run`` unless a run with its id exists; return it and whether it was created.

        With ``owner`` the new run is created ``running`` under a lease held by that worker
        (fence 1), so the creating process can execute it without a claim round trip.
        Atomic: concurrent creates of one id create it once.
        """
        ...

    async def claim_runs(
        self, owner: str, workflows: Sequence[str], limit: int, now: float, lease_until: float
    ) -> list[ClaimedRun]:
        """Lease up to ``limit`` runnable runs of ``workflows`` to ``owner``, in one transaction.

        Runnable: ``pending``; ``waiting`` with ``wake_at <= now``; ``running`` with an expired
        lease. Each claimed run becomes ``running``, its fence increments (fencing out any former
        owner) and its recorded steps come back with it. A run with a cancelled run above it (left
        live by a tree cancel that stopped between its batches) is cancelled instead, and its
        parent woken (the parent then meets the same check).
        """
        ...

    def record_step(self, run_id: str, fence: int, step: StepRecord) -> Awaitable[None]:
        """Insert or replace one step of a run held under ``fence`` (else ``LeaseLost``).

        Not a coroutine: the write is queued when this is called, before any write requested
        after it, so a caller may leave it un-awaited and rely on a later awaited write of the
        same run committing after it. Awaiting it waits until it is committed.
        """
        ...

    async def record_wait(
        self, run_id: str, fence: int, step: StepRecord, org: str, event_type: str,
        match: str | None, scope: bytes | None = None,
    ) -> None:  # fmt: skip
        """Record a waiting step and register its wait for events, atomically (fenced)."""
        ...

    async def remove_event_wait(self, run_id: str, step_key: str) -> None:
        """Forget a wait (it timed out)."""
        ...

    async def suspend_run(self, run_id: str, fence: int, wake_at: float | None, now: float) -> None:
        """Make a held run ``waiting`` until ``wake_at``; release its lease (or ``LeaseLost``)."""
        ...

    async def finish_run(
        self,
        run_id: str,
        fence: int,
        status: str,
        output: bytes | None,
        error: bytes | None,
        now: float,
    ) -> None:
        """End a held run as ``succeeded`` or ``failed`` and release it (else ``LeaseLost``)."""
        ...

    async def release_runs(self, owner: str, run_ids: Sequence[str], now: float) -> int:
        """Give runs held by ``owner`` back as ``pending`` (graceful shutdown); return how many."""
        ...

    async def cancel_run(
        self, run_id: str, now: float, *, reason: str | None = None, actor: str | None = None
    ) -> Cancellation | None:
        """Cancel a run that has not ended and every live run below it (its run tree).

        Each becomes ``cancelled`` with its lease cleared and its fence incremented (so a worker
        still executing it can write nothing more), its open human tasks are cancelled, and the
        cancel is recorded in its history with ``actor`` and ``reason`` (descendants: "its parent
        ... was cancelled", or "the tree below run ... was cancelled" below a run that ended by
        itself). The run itself is cancelled in one transaction; its descendants then level by
        level, iteratively, in transactions of a bounded number of runs (a tree of tens of
        thousands of runs holds the writer briefly at a time). The walk passes through runs that
        ended by themselves, so a run that already ended (say a root that succeeded after
        starting children it does not wait for) keeps its status but its live descendants are
        cancelled, and its history records the cancel (detail ``{"descendants": n}``). A run
        cancelled before (an interrupted cancel) has its live descendants cancelled again by a
        new call; ``claim_runs`` also cancels, instead of returning, a run with a cancelled run
        above it.

        Returns the run as it now is (unchanged when it had already ended) with the ids of every
        run cancelled, so the caller can stop executing them; ``None`` if the run is unknown.
        """
        ...

    async def run_state(self, run_id: str) -> tuple[str, int] | None:
        """The run's status and fence, read without locking."""
        ...

    async def get_run(self, run_id: str, with_steps: bool = True) -> RunRecord | None:
        """The run (with its steps in call order unless ``with_steps`` is false), or ``None``."""
        ...

    async def list_runs(
        self, workflow: str | None, status: str | None, limit: int, org: str | None = None
    ) -> list[RunRecord]:
        """Runs newest first, filtered by workflow, status and organization (no steps)."""
        ...

    async def next_wake_at(self, workflows: Sequence[str]) -> float | None:
        """The earliest wake time of a waiting run of ``workflows`` or of an enabled schedule's
        next tick (expired leases are found by polling, not by this)."""
        ...

    # -- workers --------------------------------------------------------------------------

    async def register_worker(self, worker: WorkerInfo) -> None:
        """Record a worker as live."""
        ...

    async def heartbeat(
        self, worker_id: str, now: float, lease_until: float, run_ids: Sequence[str]
    ) -> set[str]:
        """Refresh the worker's heartbeat and extend to ``lease_until`` the leases of
        ``run_ids`` (the runs it is executing) that it still holds.

        Returns those ids, so it can stop the rest; a run it no longer executes (abandoned
        after a database failure) keeps its old lease, which then expires.
        """
        ...

    async def list_workers(self) -> list[WorkerInfo]:
        """All registered workers."""
        ...

    async def remove_worker(self, worker_id: str, now: float) -> int:
        """Forget a worker and give back its runs as ``pending``; return how many runs."""
        ...

    # -- events ---------------------------------------------------------------------------

    async def emit_event(
        self,
        org: str,
        type: str,
        data: bytes,
        *,
        event_id: str | None,
        source: str,
        run_id: str | None,
        now: float,
    ) -> tuple[EventRecord, bool]:
        """Store an event unless ``org`` has one with ``event_id``; return it and whether it is new.

        Without ``event_id`` a fresh ``event_…`` id is drawn. Atomic: concurrent emits of one
        id store it once, and the second gets the stored event (its data, not the new one).
        """
        ...

    async def list_events(self, org: str, type: str | None, limit: int) -> list[EventRecord]:
        """Events of ``org`` (of one ``type``, if given), most recently stored first."""
        ...

    # -- documents ------------------------------------------------------------------------

    async def create_document(
        self,
        org: str,
        noun: str,
        data: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord:
        """Store a new ``noun`` document (id ``<noun>_…``) and emit ``<Noun>.created``.

        The event's data is the record (``as_dict``). Fields named like the computed ones
        (``RECORD_FIELDS``) are not stored. Atomic: the document and its event commit together.
        With ``idempotency_key``, a second create under the same key in ``org`` creates nothing
        and returns the document the first one created (as it is now).
        """
        ...

    async def update_document(
        self,
        org: str,
        noun: str,
        id: str,
        patch: Mapping[str, Any],
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> DocumentRecord | None:
        """Merge ``patch`` into the document's top-level fields, bump its version, and emit
        ``<Noun>.updated`` with the updated record; ``None`` (and no event) if there is none.

        Atomic: the read, the write and the event happen in one transaction. With
        ``idempotency_key``, an update whose event is already stored is not applied again; the
        document is returned as it is now.
        """
        ...

    async def delete_document(
        self,
        org: str,
        noun: str,
        id: str,
        *,
        now: float,
        run_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Delete the document and emit ``<Noun>.deleted`` (data ``{"$id": id}``) in one
        transaction; ``False`` (and no event) if there was none.

        With ``idempotency_key``, a delete whose event is already stored returns ``True`` again.
        """
        ...

    async def get_document(self, org: str, noun: str, id: str) -> DocumentRecord | None:
        """The ``noun`` document with ``id`` in ``org``, or ``None``."""
        ...

    async def find_documents(
        self,
        org: str,
        noun: str,
        where: Mapping[str, Any],
        sort: str | None,
        limit: int,
    ) -> list[DocumentRecord]:
        """Up to ``limit`` ``noun`` documents whose top-level fields equal ``where``'s values.

        Numbers compare by value (``1 == 1.0``), booleans only with booleans, ``None`` matches
        a null or missing field, objects and lists by their JSON text. ``sort`` names a field
        (or ``createdAt``, ``updatedAt``, ``$id``), descending with a leading ``-``; documents
        without it come first ascending, last descending. Ties and no sort: oldest first.
        Raises ``InvalidQuery`` for a computed field in ``where`` or a field name with ``"``.
        """
        ...

    # -- human tasks (verbs of ``plait.store.areas.tasks``) -------------------------------------

    async def create_task(self, fence: int, step: StepRecord, task: NewTask) -> TaskRecord:
        """Record the waiting step and create its task in one fenced transaction (emitting
        ``HumanTask.created``); an existing task of the step is returned unchanged."""
        ...

    async def task_for_step(self, run_id: str, step_key: str) -> TaskRecord | None:
        """The task of a run's step, if any."""
        ...

    async def escalate_task(self, fence: int, task: TaskRecord, now: float) -> TaskRecord:
        """Compare-and-set reassignment of an open task to its ``escalate_to`` (fenced),
        emitting ``HumanTask.escalated``; returns the task as it now is."""
        ...

    async def expire_task(
        self, fence: int, task: TaskRecord, error: bytes, now: float
    ) -> TaskRecord:
        """Compare-and-set expiry of an open task that also fails its step (fenced); returns
        the task as it now is (a completion may have won the race)."""
        ...

    # -- children, signals and published state (verbs of ``plait.store.areas.children``) ----

    async def start_child(self, parent_id: str, fence: int, child: NewChild) -> StepRecord:
        """Resolve the child's workflow and, in one fenced transaction, record the parent's
        start step and insert the child run unless its id exists; return the recorded step
        (``failed`` when the workflow is unknown or archived)."""
        ...

    async def child_outcome(self, run_id: str) -> tuple[str, bytes | None, bytes | None] | None:
        """A child run's status, output and error, or ``None`` if it does not exist."""
        ...

    async def take_signal(self, run_id: str, fence: int, step: StepRecord) -> bytes | None:
        """Consume the oldest queued signal named ``step.name`` and record the receive step
        completed with it (returning its payload), or record the step waiting (``None``);
        one fenced transaction."""
        ...

    async def expire_receive(self, run_id: str, fence: int, step_key: str, now: float) -> bytes:
        """Complete a timed-out receive step with ``null`` unless a signal completed it first;
        return its output (fenced)."""
        ...

    async def set_run_value(
        self, run_id: str, fence: int, step: StepRecord, key: str, value: bytes
    ) -> None:
        """Publish ``value`` under ``key`` and record ``step``, in one fenced transaction."""
        ...

    # -- state machines (verbs of ``plait.store.areas.machines``) ----------------------------

    async def next_machine_event(self, run_id: str, n: int) -> MachineEvent | None:
        """The ``n``-th event (from 1) delivered to the state-machine instance whose run is
        ``run_id``, or ``None`` if it has not arrived."""
        ...
