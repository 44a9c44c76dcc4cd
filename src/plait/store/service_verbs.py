"""Store verbs of the automation service: the workflow registry and events, schedules, webhooks,
and the operator's side of human tasks, state machines, run operations and signals.

They are part of the :class:`plait.store.base.Store` protocol (which inherits this one) and live
here only to keep each module one screen of concern. As everywhere in the protocol, a read is one
consistent read, and a write is one transaction unless its docstring says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from plait.schedules import Schedule
    from plait.store.areas.schedules import StartRun
    from plait.store.records import (
        Completion,
        Delivery,
        DeliveryStatus,
        Dispatched,
        EventRecord,
        HistoryEntry,
        MachineDelivery,
        MachineInstance,
        Operation,
        RunRecord,
        SecretRecord,
        SignalSent,
        TaskRecord,
        WorkflowRecord,
        WorkflowVersion,
    )
    from plait.store.session import Session
    from plait.webhooks import WebhookSpec


class ServiceVerbs(Protocol):
    """The automation service's verbs of a store (see the module docstring)."""

    # -- workflow registry and events (``plait.store.areas.workflows``) --------------------

    async def create_workflow(
        self, record: WorkflowRecord, definition: dict[str, Any], triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Insert a workflow with its version 1 and its triggers, atomically.

        Raises ``WorkflowNameTaken`` if the organization already has a workflow of that name.
        """
        ...

    async def update_workflow(
        self,
        org: str,
        workflow_id: str,
        expected_version: int,
        document: dict[str, Any],
        definition: dict[str, Any],
        triggers: Sequence[str],
        now: float,
    ) -> WorkflowRecord | None:
        """Store a new immutable version if the current one is still ``expected_version``.

        Returns the workflow as updated, or ``None`` when it changed meanwhile (or is gone).
        """
        ...

    async def set_workflow_status(
        self, org: str, workflow_id: str, from_statuses: Sequence[str], to: str, now: float
    ) -> tuple[WorkflowRecord | None, bool]:
        """Compare-and-set the status (atomic: from one of ``from_statuses`` to ``to``);
        return the workflow and whether it changed."""
        ...

    async def delete_workflow(self, org: str, workflow_id: str) -> bool:
        """Delete a workflow with its versions, triggers and debounces (its runs stay), in
        one transaction; ``False`` if there was none."""
        ...

    async def get_workflow(self, org: str, ref: str) -> WorkflowRecord | None:
        """A workflow by id or name."""
        ...

    async def get_workflow_version(
        self, org: str, workflow_id: str, version: int
    ) -> WorkflowVersion | None:
        """One immutable version of a workflow (its definition as stored), or ``None``."""
        ...

    async def list_workflows(self, org: str) -> list[WorkflowRecord]:
        """Every workflow of ``org``, oldest first (the service filters, sorts and pages)."""
        ...

    async def upsert_code_workflow(
        self, record: WorkflowRecord, triggers: Sequence[str]
    ) -> WorkflowRecord:
        """Register (or refresh) a code workflow: read-only, no versions, its triggers, in one
        transaction (concurrent registrations of one name store it once)."""
        ...

    async def emit(
        self, org: str, type: str, data: bytes, *, event_id: str | None, source: str,
        now: float, run_id: str | None = None,
    ) -> tuple[EventRecord, bool, Dispatched]:  # fmt: skip
        """Store an event once per id and dispatch it, in one transaction.

        Returns the event (the stored one for a repeated id), whether it is new, and the runs it
        started or resumed (none for a repeated id).
        """
        ...

    async def page_runs(
        self, org: str, workflow: str | None, status: str | None,
        after: tuple[float, str] | None, limit: int,
    ) -> list[RunRecord]:  # fmt: skip
        """Up to ``limit`` runs of ``org``, newest first, after the keyset ``(created_at, id)``
        of the previous page's last run (steps omitted); one read."""
        ...

    async def page_events(
        self, org: str, type: str | None, after_seq: int | None, limit: int
    ) -> list[tuple[int, EventRecord]]:
        """Up to ``limit`` events of ``org`` with their ``seq``, newest first, before
        ``after_seq`` (the previous page's last); one read."""
        ...

    async def get_event(self, org: str, event_id: str) -> EventRecord | None:
        """One event of ``org`` by id."""
        ...

    def start_scheduled_run(
        self, db: Session, org: str, workflow_id: str, run_id: str, input: bytes,
        now: float,
    ) -> str | None:  # fmt: skip
        """Inside a schedule tick's transaction: start a run of the workflow's current version,
        if it is Activated; return the run id (None when the workflow cannot run now)."""
        ...

    # -- schedules (``plait.store.areas.schedules``) ---------------------------------------

    async def create_schedule(self, s: Schedule) -> Schedule:
        """Store ``s`` (one insert) and return it."""
        ...

    async def list_schedules(self, org: str, workflow_id: str | None = None) -> list[Schedule]:
        """The schedules of ``org`` (of one workflow if given), oldest first."""
        ...

    async def page_schedules(
        self, org: str, workflow_id: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Schedule]:
        """Up to ``limit`` schedules of ``org`` (of one workflow if given), oldest first, after
        the keyset ``(created_at, id)`` of the previous page's last; one read."""
        ...

    async def delete_schedule(self, org: str, id: str) -> bool:
        """Delete a schedule and its fired ticks in one transaction; ``False`` if ``org`` had
        no such schedule."""
        ...

    async def delete_schedules_of(self, org: str, workflow_id: str) -> int:
        """Delete every schedule of a workflow and their fired ticks in one transaction;
        return how many."""
        ...

    async def set_schedules_enabled(
        self, org: str, workflow_id: str, enabled: bool, *, now: float | None = None
    ) -> int:
        """Pause or resume every schedule of a workflow; return how many changed.

        Pausing a workflow pauses its schedules. A schedule resumed with ``now`` given next
        fires at its first tick after ``now``, so the ticks that passed while it was paused are
        not caught up; without ``now`` it keeps its ``next_fire_at`` and its catch-up policy
        decides. Atomic.
        """
        ...

    async def due_schedules(self, now: float, limit: int) -> list[Schedule]:
        """Enabled schedules of every organization with ``next_fire_at <= now``, earliest
        first."""
        ...

    async def fire_schedule(
        self,
        schedule_id: str,
        expected_next: float,
        ticks: Sequence[float],
        new_next: float,
        start: StartRun,
        now: float,
    ) -> list[tuple[float, str]]:
        """Fire ``ticks`` of a due schedule and move its ``next_fire_at`` to ``new_next``.

        Atomic, in one transaction: ``next_fire_at`` is compared and set from ``expected_next``
        (what the caller read) to ``new_next``; if another worker already moved it, or the
        schedule was paused or deleted, nothing happens and ``[]`` is returned. Otherwise each
        tick not fired before is recorded (the key ``(schedule_id, tick_at)`` is unique) and
        ``start(db, tick)`` is called for it, once: it creates the tick's run and returns its id,
        or ``None`` to start nothing (the tick is consumed all the same).

        ``start`` runs inside the write transaction: it must use only the connection it is
        given, must not commit or roll back, and should be quick (it holds the write lock). If it
        raises, this schedule's writes are rolled back and the error is raised here (an error
        other than a ``PlaitError`` as ``StoreError``); other writes of the batch commit.

        Returns:
            ``(tick, run_id)`` for each tick that started a run, oldest first.
        """
        ...

    # -- webhooks (``plait.store.areas.webhooks``) -----------------------------------------

    async def create_webhook(self, spec: WebhookSpec) -> WebhookSpec:
        """Store ``spec`` (built and checked by ``plait.webhooks.new_webhook``) and return it.

        Raises:
            WebhookExists: ``spec.org`` has a webhook with that name (checked atomically).
        """
        ...

    async def get_webhook(self, org: str, name_or_id: str) -> WebhookSpec | None:
        """The webhook of ``org`` with that name or id, or ``None``."""
        ...

    async def list_webhooks(self, org: str) -> list[WebhookSpec]:
        """The webhooks of ``org``, by name."""
        ...

    async def delete_webhook(self, org: str, name_or_id: str) -> bool:
        """Delete the webhook of ``org`` with that name or id; ``False`` if there was none."""
        ...

    async def emit_webhook_event(self, delivery: Delivery, now: float) -> tuple[EventRecord, bool]:
        """Store and dispatch ``delivery.event`` unless its replay digest is live, in one
        transaction; return the event (the first delivery's for a replay) and whether it is new.
        Of concurrent deliveries of one digest exactly one stores its event."""
        ...

    async def seal_webhook_secrets(self, seal: Callable[[str], str]) -> int:
        """Seal every webhook secret still stored in plain text with ``seal``; how many."""
        ...

    async def reseal_webhook_secrets(self, reseal: Callable[[str], str]) -> int:
        """Re-seal every sealed webhook secret with ``reseal`` (key rotation), in one
        transaction (all or none); how many."""
        ...

    # -- secrets (``plait.store.areas.secrets``): sealed values only ---------------------

    async def put_secret(
        self, org: str, name: str, sealed: str, now: float
    ) -> tuple[SecretRecord, bool]:
        """Create or replace a secret of ``org`` with its sealed value, in one transaction;
        return it and whether it was created (False: replaced)."""
        ...

    async def get_secret(self, org: str, name: str) -> SecretRecord | None:
        """A secret of ``org`` (without its value), or ``None``."""
        ...

    async def sealed_secret(self, org: str, name: str) -> str | None:
        """The sealed value of a secret of ``org``, or ``None``."""
        ...

    async def sealed_secrets(self, org: str) -> dict[str, str]:
        """Every secret of ``org``: its sealed value by name."""
        ...

    async def list_secrets(self, org: str) -> list[SecretRecord]:
        """The secrets of ``org`` (without their values), by name."""
        ...

    async def delete_secret(self, org: str, name: str) -> bool:
        """Delete a secret of ``org``; ``False`` if there was none."""
        ...

    async def reseal_secrets(self, reseal: Callable[[str], str]) -> int:
        """Replace every organization's sealed values by ``reseal(sealed)`` in one
        transaction (compare-and-set per secret; nothing changes if ``reseal`` raises);
        return how many."""
        ...

    # -- human tasks, operator side (``plait.store.areas.tasks``) --------------------------

    async def get_task(self, org: str, task_id: str) -> TaskRecord | None:
        """One task of ``org``."""
        ...

    async def list_tasks(
        self, org: str, assignee: str | None, status: str | None, limit: int,
        after: tuple[float, str] | None = None,
    ) -> list[TaskRecord]:  # fmt: skip
        """Tasks of ``org``, newest first, optionally of one assignee and in one status, after
        the keyset ``(created_at, id)`` of the previous page's last task."""
        ...

    async def complete_task(
        self, org: str, task_id: str, assignee: str, answer: Completion
    ) -> tuple[TaskRecord | None, bool]:
        """Complete an open task still assigned to ``assignee``: in one transaction set it
        completed, complete its waiting step with the result, wake the run and emit
        ``HumanTask.completed``. Returns the task as it now is and whether this call completed
        it (False: it was not open, or was reassigned meanwhile; nothing changed)."""
        ...

    # -- state machines, operator side (``plait.store.areas.machines``) --------------------

    async def send_to_machine(
        self, event: EventRecord, delivery: MachineDelivery
    ) -> tuple[DeliveryStatus, str | None]:
        """Deliver ``event`` to one instance (creating it if ``delivery.start`` allows), in one
        transaction; return the outcome and the instance's run id (None when unknown)."""
        ...

    async def get_machine_instance(
        self, org: str, workflow_id: str, key: str
    ) -> MachineInstance | None:
        """The instance of ``key``, or None."""
        ...

    async def list_machine_instances(
        self, org: str, workflow_id: str, limit: int
    ) -> list[MachineInstance]:
        """Instances of a workflow, oldest first."""
        ...

    # -- run operations (``plait.store.areas.operations``) ---------------------------------

    async def resume_run(
        self, run_id: str, op: Operation, *, ordered: bool, version: int | None = None
    ) -> list[str]:
        """Make a failed run runnable again from its failed step; return the step keys that
        will run again.

        Recorded steps before the failure are kept. With ordered replay (code workflows) the
        last failed step and every step recorded after it are dropped; with replay by key
        (definitions) the failed, retrying and waiting steps are. A child's wait that runs
        again takes its start step with it, so the step starts a new child (its next attempt)
        rather than reading the end of the one that failed. ``version`` re-pins a stored
        definition's run to that version. The workflow's counters forget the failure: the run
        counts again when it ends again.

        Raises:
            RunNotFound: no such run.
            RunNotResumable: the run is not ``failed``.
        """
        ...

    async def copy_run(
        self,
        run_id: str,
        new_id: str,
        op: Operation,
        *,
        action: str,
        step: str | int | None = None,
        version: int | None = None,
    ) -> list[str]:
        """Start ``new_id``: a run of the same workflow with the same input (trigger
        ``action``, ``fork`` or ``retry``); return the keys of the steps it reuses.

        With ``step`` (a step key, or its 1-based number in the run's step listing) the new
        run reuses the finished steps recorded before it, so it executes from that step on;
        without, it starts from scratch. Both runs' histories record the operation.

        Raises:
            RunNotFound: no such run.
            StepNotFound: the run has no such step.
        """
        ...

    async def run_history(self, run_id: str) -> list[HistoryEntry]:
        """The operations recorded on a run (cancel, resume, fork, retry), oldest first."""
        ...

    # -- signals and published state, operator side (``plait.store.areas.children``) -------

    async def send_signal(self, run_id: str, name: str, payload: bytes, now: float) -> SignalSent:
        """Queue a signal for a run, in one transaction: if a receive step of the run waits for
        ``name``, the signal completes that step (the oldest waiting) and wakes the run.

        Raises ``RunNotFound`` for an unknown run and ``RunEnded`` for one that has ended.
        """
        ...

    async def run_values(self, run_id: str) -> dict[str, Any]:
        """Every value the run has published, by key (decoded JSON)."""
        ...

    async def run_published(self, run_id: str) -> tuple[dict[str, Any], list[str]]:
        """What the run resource adds: the run's published values and its children's ids."""
        ...
