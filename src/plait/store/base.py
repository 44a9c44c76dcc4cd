"""The ``Store``: every durable fact plait keeps goes through its verbs.

``Store`` is the concrete base class of every backend (as DBOS's ``SystemDatabase`` is): the
verbs are written once, grouped by feature in the modules named below, against a
:class:`~plait.store.session.Session` of named queries; a backend (SQLite, PostgreSQL) adds only
its connections, its group commit and its dialect's SQL, by implementing the abstract methods
(``open``, ``close``, ``schema_version``, ``_submit``, ``_read``).

Verbs are domain operations, not SQL; each docstring says what it does atomically. A read is
one consistent read, and a write is one transaction unless its docstring says otherwise. Values
cross this boundary as the dataclasses of :mod:`plait.store.records`, with JSON already encoded
(``bytes``), so a backend never sees Python objects it must serialise.

=================  ==============================================================================
runs               create, read and page runs (:mod:`plait.store.runs`)
leases             claim runs, fenced writes of their steps, finish, release; workers
events             emit and dispatch events, waits for events
announcements      every start and end of a stored workflow's run as an event
workflows          the stored workflow registry
documents          the documents of document actions
tasks              human tasks
machines           state-machine instances and their inboxes
children           child runs, signals to one run, published state
trees              cancelling a run's whole tree
operations         resume, fork, retry, and a run's history
schedules          schedules and their ticks
webhooks           webhooks and their deliveries
secrets, keys      sealed secrets and API keys
idempotency        idempotency keys of requests, reserved before they act
changes            the change feed of live streams (written by triggers), read after a cursor
audit              the audit trail: append, read, prune past the retention
metrics            business metrics of runs; a workflow's run statistics over a window
steps              a run's steps a window at a time (pages of long runs)
overview           an organization's figures over the last hour and day; events with their runs
step_cache         step-result caching: cached outputs of steps, hits, clearing, pruning
retention          retention policies, the pruner's lease, deleting ended runs with their rows
limits             rate limits (GCRA), bulkhead permits, circuit breakers, shared by workers
costs              what each priced run cost, and the monthly totals (priced at the run's end)
concurrency        flow control of starts: concurrency slots, singletons, debounced code starts
=================  ==============================================================================
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from typing import Any

from plait.store.audit import AuditVerbs
from plait.store.business_metrics import MetricVerbs
from plait.store.changes import ChangeVerbs
from plait.store.children import ChildVerbs
from plait.store.concurrency import ConcurrencyVerbs
from plait.store.costs import CostVerbs
from plait.store.documents import DocumentVerbs
from plait.store.events import EventVerbs
from plait.store.idempotency import IdempotencyVerbs
from plait.store.keys import KeyVerbs
from plait.store.leases import LeaseVerbs
from plait.store.limits import LimitVerbs
from plait.store.machines import MachineVerbs
from plait.store.operations import OperationVerbs
from plait.store.overview import OverviewVerbs
from plait.store.progress import ProgressVerbs
from plait.store.records import EventRouter
from plait.store.retention import RetentionVerbs
from plait.store.runs import RunVerbs
from plait.store.schedules import ScheduleVerbs
from plait.store.secrets import SecretVerbs
from plait.store.step_cache import StepCacheVerbs
from plait.store.steps import StepVerbs
from plait.store.tasks import TaskVerbs
from plait.store.trees import TreeVerbs
from plait.store.webhooks import WebhookVerbs
from plait.store.workflows import WorkflowVerbs

log = logging.getLogger(__name__)


class Store(
    RunVerbs, LeaseVerbs, EventVerbs, WorkflowVerbs, DocumentVerbs, TaskVerbs, MachineVerbs,
    ChildVerbs, TreeVerbs, OperationVerbs, ScheduleVerbs, WebhookVerbs, SecretVerbs, KeyVerbs,
    IdempotencyVerbs, ProgressVerbs, ChangeVerbs, AuditVerbs, MetricVerbs, StepVerbs,
    OverviewVerbs, StepCacheVerbs, RetentionVerbs, LimitVerbs, CostVerbs, ConcurrencyVerbs,
):  # fmt: skip
    """Durable state of runs, steps, workers, events, workflows, documents and everything the
    service layer keeps: what the engine and the services ask of a backend.

    Args:
        router: decides, inside the transaction that stores an event, which runs the event
            starts or resumes (without one, events start and resume nothing).
        on_runnable: called after a commit that made runs runnable (wakes the local worker).
    """

    def __init__(
        self, *, router: EventRouter | None = None, on_runnable: Callable[[], None] | None = None
    ) -> None:
        self._router = router
        self._on_runnable = on_runnable
        self._announced: list[Any] = []

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent; safe from several processes)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush pending writes and disconnect."""

    @abc.abstractmethod
    async def schema_version(self) -> int:
        """The applied migration number."""

    def _wake_workers(self) -> None:
        """Tell this process's worker that runs became runnable."""
        if self._on_runnable is not None:
            self._on_runnable()

    def _tell_router(self) -> None:
        """Hand the router the runs the last commits started and ended (announced): its
        errors are logged, never raised into the commit's callers."""
        announced, self._announced = self._announced, []
        if self._router is None:
            return
        try:
            self._router.committed(announced)
        except Exception:
            log.exception("the router failed on %d announced runs", len(announced))
