"""Workflow counters (``running``, ``run_count``, ``success_count``, ``failure_count``,
``last_run_at``), moved once per workflow per write transaction.

Every run start and end changes its workflow's row. Under group commit a batch carries hundreds
of them, mostly of a few workflows: updated one by one, a workflow's row would be rewritten
hundreds of times per batch (each time a new row version on PostgreSQL) and stay locked from the
first update to COMMIT, so that other processes' batches queue behind it. Instead the verbs
record deltas here, and the backend applies them once per workflow, sorted by (org, id) so that
concurrent transactions lock the rows in one order, just before COMMIT, in the same transaction.
An operation that fails inside a batch takes its deltas with it (``mark`` before it, ``undo``
after its savepoint is rolled back).

Within the batch that moves them, a read of a workflow's counters does not see the deltas yet;
every other transaction sees them committed with the runs that caused them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plait.store.session import Session


@dataclass(slots=True)
class Delta:
    running: int = 0
    runs: int = 0
    succeeded: int = 0
    failed: int = 0
    last_run_at: float | None = None


Mark = tuple[dict[tuple[str, str], Delta], int, int]


class Counters:
    """The deltas of the write transaction in progress (one writer at a time per store), and
    the starts and ends of runs it announced (``plait.store.announcements``), handed to the
    router once it commits."""

    def __init__(self) -> None:
        self._deltas: dict[tuple[str, str], Delta] = {}
        self._announced: list[Any] = []
        self._priced: list[Any] = []
        """Runs priced in this transaction (``plait.store.costs.PendingCost``)."""

    def started(self, org: str, workflow_id: str) -> None:
        self._delta(org, workflow_id).running += 1

    def ended(self, org: str, workflow_id: str, outcome: str, now: float) -> None:
        """A run ended with ``outcome``: a ``partial`` run counts as a failure, never a
        success; a cancelled one as neither."""
        delta = self._delta(org, workflow_id)
        delta.running -= 1
        delta.runs += 1
        delta.succeeded += outcome == "succeeded"
        delta.failed += outcome in ("failed", "partial")
        delta.last_run_at = now

    def reopened(self, org: str, workflow_id: str) -> None:
        """A failed run resumed: its end is undone, and it counts again when it ends again."""
        delta = self._delta(org, workflow_id)
        delta.running += 1
        delta.runs -= 1
        delta.failed -= 1

    def priced(self, pending: Any) -> None:
        """A run priced in this transaction: its cost is written before COMMIT
        (``plait.store.costs.apply_costs``), undone with the deltas."""
        self._priced.append(pending)

    def announce(self, announcement: Any) -> None:
        """A start or end announced in this transaction (undone with the deltas)."""
        self._announced.append(announcement)

    def pending(self, org: str, workflow_id: str) -> Delta | None:
        """The deltas of ``workflow_id`` this transaction has not applied yet."""
        return self._deltas.get((org, workflow_id))

    def take_announced(self) -> list[Any]:
        """The announcements of the transaction that just committed (and forget them)."""
        announced, self._announced = self._announced, []
        return announced

    def mark(self) -> Mark:
        """A copy of the deltas, to ``undo`` to when the next operation fails."""
        deltas = {key: replace(delta) for key, delta in self._deltas.items()}
        return deltas, len(self._announced), len(self._priced)

    def undo(self, mark: Mark) -> None:
        self._deltas = mark[0]
        del self._announced[mark[1] :]
        del self._priced[mark[2] :]

    def clear(self) -> None:
        self._deltas = {}
        self._announced = []
        self._priced = []

    def apply(self, db: Session) -> None:
        """Write the deltas (one update per workflow, in key order), then the costs of the
        runs priced (``plait.store.costs``), and forget them."""
        deltas, self._deltas = self._deltas, {}
        for (org, workflow_id), delta in sorted(deltas.items()):
            db.run("add_workflow_counts", {
                "org": org, "workflow_id": workflow_id, "running": delta.running,
                "runs": delta.runs, "succeeded": delta.succeeded, "failed": delta.failed,
                "last_run_at": delta.last_run_at,
            })  # fmt: skip
        if self._priced:  # the costs' rows after the workflows', in every transaction
            from plait.store.costs import apply_costs

            priced, self._priced = self._priced, []
            apply_costs(db, priced)

    def _delta(self, org: str, workflow_id: str) -> Delta:
        key = (org, workflow_id)
        delta = self._deltas.get(key)
        if delta is None:
            delta = self._deltas[key] = Delta()
        return delta


# -- inside the write transaction of a run's start or end ---------------------------------------


def workflow_started(db: Session, org: str, workflow_id: str | None) -> None:
    """A run of ``workflow_id`` started (counted at the end of the transaction)."""
    if workflow_id is not None:
        db.counters.started(org, workflow_id)


def run_ended(db: Session, run_id: str, outcome: str, now: float, status: str = "") -> None:
    """``run_id`` ended ``status`` (``outcome`` unless given) with ``outcome``: move the
    counters of its workflow, and announce the end (``Workflow.finished``) unless
    ``engine.start`` started it."""
    row = db.run("run_workflow_ref", {"run_id": run_id}).fetchone()
    if row is not None and row[1] is not None:
        db.counters.ended(row[0], row[1], outcome, now)
        if row[2] != "api":  # plait.store.announcements.UNANNOUNCED
            from plait.store.announcements import announce_end

            announce_end(db, run_id, row[0], row[1], status or outcome, outcome, now)


def run_reopened(db: Session, run_id: str) -> None:
    """A failed run is resumed: move the counters of its workflow back."""
    row = db.run("run_workflow_ref", {"run_id": run_id}).fetchone()
    if row is not None and row[1] is not None:
        db.counters.reopened(row[0], row[1])
