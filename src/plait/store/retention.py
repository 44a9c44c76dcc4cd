"""Retention: the policies of organizations and workflows, the lease that lets one pruner at a
time delete, and the deletion of ended runs with every row kept for them.

What a run leaves in other tables goes with it, in the transaction that deletes it: its steps
and their attempts, history, business metric values, published values, signals, waits, state
machine inbox and instance, debounce, human tasks, run tree (as its root) and per-run costs.
Nothing else moves: workflows' counters (``workflows`` rows) and cost totals (``cost_totals``)
count what happened, not what is kept. Audit entries, events and the change feed have their own
retention (``plait.service.audit``, the events' below, ``plait.service.streams``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from plait.store.backend import Backend
from plait.store.session import Session

RUN_TABLES = (
    "steps", "step_attempts", "run_history", "run_metrics", "run_values", "signals",
    "event_waits", "machine_inbox", "machine_instances", "debounces", "tasks", "run_trees",
    "run_costs",
)  # fmt: skip
"""The tables whose rows of a run are deleted with it (each has a ``retention_delete_<table>``
query in each dialect), before the run itself."""

OUTCOMES = ("succeeded", "partial", "failed", "cancelled")
"""How a run ends: ``partial`` is a run that succeeded past steps that failed."""

LEASE = "runs"


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A stored retention policy: of an organization (``workflow == ""``) or of one workflow."""

    org: str
    workflow: str
    policy: bytes
    """A JSON object (``plait.service.retention.Policy``)."""
    updated_at: float


class RetentionVerbs(Backend):
    """Retention policies, the pruner's lease, and deleting ended runs."""

    async def retention_policies(self, org: str | None) -> list[PolicyRecord]:
        """The policies of ``org`` (``None``: of every organization), by workflow name (the
        organization's own, ``""``, first)."""
        if org is None:
            rows = await self._all("retention_policies_all")
        else:
            rows = await self._all("retention_policies_of_org", {"org": org})
        return [PolicyRecord(o, w, str(p).encode(), float(at)) for o, w, p, at in rows]

    async def put_retention_policy(
        self, org: str, workflow: str, policy: bytes, now: float
    ) -> None:
        """Create or replace the policy of ``org`` (``workflow == ""``) or of its workflow."""
        params = {"org": org, "workflow": workflow, "policy": policy.decode(), "now": now}
        await self._submit(lambda db: db.run("put_retention_policy", params))

    async def delete_retention_policy(self, org: str, workflow: str) -> bool:
        """Delete that policy; whether there was one."""
        params = {"org": org, "workflow": workflow}
        deleted: int = await self._submit(
            lambda db: db.run("delete_retention_policy", params).rowcount
        )
        return deleted > 0

    async def acquire_retention_lease(self, owner: str, now: float, seconds: float) -> bool:
        """Take (or extend, for its holder) the pruner's lease until ``now + seconds``; False
        while another owner holds it unexpired. One transaction: of pruners racing for it in
        any number of processes, one wins."""
        params = {"name": LEASE, "owner": owner, "now": now, "expires_at": now + seconds}
        taken: int = await self._submit(
            lambda db: db.run("acquire_retention_lease", params).rowcount
        )
        return taken > 0

    async def release_retention_lease(self, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it."""
        params = {"name": LEASE, "owner": owner}
        await self._submit(lambda db: db.run("release_retention_lease", params))

    async def retention_orgs(self) -> list[str]:
        """The organizations that have ended runs."""
        return [row[0] for row in await self._all("retention_orgs")]

    async def retention_workflows(self, org: str) -> list[str]:
        """The workflows of ``org`` that have ended runs."""
        return [row[0] for row in await self._all("retention_workflows", {"org": org})]

    async def ended_before(
        self, org: str, workflow: str, outcome: str, before: float, limit: int
    ) -> list[str]:
        """The ids of up to ``limit`` runs of ``workflow`` of ``org`` that ended with
        ``outcome`` before ``before``, oldest first, leaving out each run whose parent is still
        stored (a child goes after its parent) or one of whose children has not ended."""
        params = {"org": org, "workflow": workflow, "outcome": outcome, "before": before,
                  "limit": limit}  # fmt: skip
        return [row[0] for row in await self._all("retention_ended_before", params)]

    async def count_ended_before(self, org: str, workflow: str, outcome: str, before: float) -> int:
        """How many runs :meth:`ended_before` would find without a limit."""
        params = {"org": org, "workflow": workflow, "outcome": outcome, "before": before}
        row = await self._one("retention_count_before", params)
        return int(row[0]) if row else 0

    async def nth_newest_end(
        self, org: str, workflow: str, outcomes: Sequence[str] | None, n: int
    ) -> float | None:
        """When the ``n``-th newest ended run of ``workflow`` (of one of ``outcomes``, one or
        two of them; ``None``: of any) ended; ``None`` when there are fewer than ``n``."""
        params = {"org": org, "workflow": workflow, "keep": n, "offset": n - 1}
        if outcomes is None:
            row = await self._one("retention_nth_newest_any", params)
        elif len(outcomes) == 1:
            row = await self._one("retention_nth_newest", {**params, "outcome": outcomes[0]})
        else:
            first, second = outcomes
            both = {**params, "first": first, "second": second}
            row = await self._one("retention_nth_newest_of_two", both)
        return None if row is None else float(row[0])

    async def delete_ended_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete those of ``run_ids`` that may still go (ended, no parent still stored, no live
        child: checked again, the runs locked on PostgreSQL) with their rows in every table of
        :data:`RUN_TABLES`, in one transaction; the ids deleted."""
        ids = orjson.dumps(list(run_ids)).decode()
        deleted: list[str] = await self._submit(lambda db: _delete_runs(db, ids))
        return deleted

    async def prune_events(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events stored before ``before``; how many."""
        params = {"before": before, "limit": limit}
        deleted: int = await self._submit(lambda db: db.run("prune_events", params).rowcount)
        return deleted

    async def prune_finished_tasks(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the tasks that ended longest ago, before ``before``."""
        params = {"before": before, "limit": limit}
        deleted: int = await self._submit(
            lambda db: db.run("prune_finished_tasks", params).rowcount
        )
        return deleted


def _delete_runs(db: Session, ids: str) -> list[str]:
    kept = [row[0] for row in db.run("retention_deletable", {"ids": ids}).fetchall()]
    if not kept:
        return []
    going = {"ids": orjson.dumps(kept).decode()}
    for table in RUN_TABLES:
        db.run(f"retention_delete_{table}", going)
    db.run("retention_delete_runs", going)
    return kept
