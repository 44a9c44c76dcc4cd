"""Retention: how long, and how many, ended runs each organization and workflow keeps; the
worker's pruner that deletes the rest (with events and finished tasks past their own
retention); and the operators' purge.

**Policies.** A run that ended (succeeded, failed, cancelled; ``partial`` is a succeeded run past
failed steps) is kept while it is younger than its max age *and* among the newest max-runs of its
workflow. Each limit is looked up, for a run of workflow W that ended with status S, in: W's
policy for S, W's policy, the organization's policy for S, the organization's policy, then the
engine's default (setting ``run_retention_days``, 30; no count limit). The first level that sets
it decides; ``0`` means no limit there (``maxAgeDays: 0`` keeps runs forever). A ``maxRuns``
set for a status counts that status's runs (``succeeded``'s, when ``partial`` runs inherit
it, counts succeeded and partial runs together); set for the whole policy, every ended run of
the workflow.

**Pruner.** The worker calls :meth:`RetentionService.maintain` in its background housekeeping
(:mod:`plait.service.housekeeping`, never in the claim loop); a pass runs at most every
:data:`PRUNE_INTERVAL_SECONDS` (a second later while a backlog remains), holds the store's
retention lease (one pruner at a time across processes), and deletes at most
:data:`PRUNE_PASSES` batches of :data:`BATCH` runs, each batch one transaction, and for at most
:data:`PRUNE_SECONDS`. It never deletes a run that has not ended, nor one with a child that has
not ended, nor a child whose parent is still stored (a child goes after its parent, so a kept
parent never shows a missing child nor fails to resume for one); it moves no workflow counter
and no cost total (they count what happened). With the ``archive`` setting, each batch is first
written to a durable gzip JSON lines file (:mod:`plait.service.archive`); only the runs written
there are deleted, and nothing when the file cannot be written.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from plait.errors import InvalidParameter, RunNotFound
from plait.ids import new_id
from plait.resources.base import required_stamp, stamp
from plait.resources.retention import (
    STATUSES,
    Limits,
    Policy,
    Pruned,
    Purge,
    Retention,
    WorkflowPolicy,
)
from plait.service.archive import ArchiveUnwritable, read_archive, write_archive
from plait.service.audit import audited
from plait.store.retention import OUTCOMES, PolicyRecord

if TYPE_CHECKING:
    from plait.service.deps import Deps
    from plait.store.base import Store

log = logging.getLogger(__name__)

BATCH = 500
"""Most runs one transaction deletes."""
PRUNE_PASSES = 10
"""Most batches of runs one pass of the pruner deletes (the worker calls again soon after)."""
PRUNE_SECONDS = 1.0
"""Longest a pass of the pruner goes on deleting runs before it stops (then ``more``): a batch
begun before this runs to its end."""
PURGE_BATCHES = 20
"""Most batches one purge over the API deletes (then ``more``: the client asks again); the CLI
and the Python API purge everything at once."""
PRUNE_INTERVAL_SECONDS = 600.0
"""How often the worker's pruner runs when it has caught up."""
LEASE_SECONDS = 300.0
"""How long the pruner's lease lasts without being renewed (before each batch)."""
EVENT_TASK_BATCH = 1_000
DAY = 86_400.0
LONGEST = 36_500 * DAY
"""The longest ``older_than`` of a purge (a time before it is not a date)."""
_UNITS = {"s": 1.0, "m": 60.0, "h": 3_600.0, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
DURATIONS = "a number and a unit, as 30d, 12h, 90s, 2w or 1d12h (units s, m, h, d, w)"


class RetentionInvalid(InvalidParameter):
    """A retention policy or a purge's argument is invalid (422; exit code 2 in the CLI)."""


def parse_duration(text: str, path: str = "$.olderThan") -> float:
    """Seconds of ``30d``, ``12h``, ``90s``, ``2w``, ``1d12h``; ``RetentionInvalid`` otherwise."""
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    if not _WHOLE.fullmatch(cleaned):
        raise RetentionInvalid(path, f"{text!r} is not a duration: write {DURATIONS}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(cleaned))
    if seconds <= 0:
        raise RetentionInvalid(path, f"{text!r} is not a duration longer than 0")
    return seconds


def policy_of(value: Policy | dict[str, Any], path: str = "$.body") -> Policy:
    """``value`` as a :class:`Policy`; ``RetentionInvalid`` naming the first problem's path."""
    if isinstance(value, Policy):
        policy = value
    else:
        try:
            policy = Policy.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
            raise RetentionInvalid(path + where, first["msg"]) from exc
    unknown = sorted(set(policy.statuses) - set(STATUSES))
    if unknown:
        raise RetentionInvalid(f"{path}.statuses.{unknown[0]}",
                               f"not a status: use {', '.join(STATUSES)}")  # fmt: skip
    return policy


@dataclass(frozen=True, slots=True)
class _Rule:
    """The limits of one (workflow, outcome): days (0: none) and runs (0: none), and the
    outcomes whose runs the count counts (``None``: every ended run of the workflow)."""

    days: float
    runs: int
    scope: tuple[str, ...] | None


def _limits(levels: Sequence[Policy | None], outcome: str) -> Iterator[tuple[Limits, int, str]]:
    """The limits that may apply to ``outcome``, most specific first: each with its level and
    the status it was set for (``""``: the whole policy)."""
    keys = (outcome, "succeeded") if outcome == "partial" else (outcome,)
    for index, level in enumerate(levels):
        if level is None:
            continue
        for key in keys:
            own = level.statuses.get(key)
            if own is not None:
                yield own, index, key
        yield level, index, ""


def _count_source(levels: Sequence[Policy | None], outcome: str) -> tuple[int, int, str] | None:
    """The ``maxRuns`` that applies to ``outcome``: its value, level and status."""
    return next(((lim.max_runs, i, k) for lim, i, k in _limits(levels, outcome)
                 if lim.max_runs is not None), None)  # fmt: skip


def _rule(levels: Sequence[Policy | None], outcome: str, default_days: float) -> _Rule:
    days = next((lim.max_age_days for lim, _, _ in _limits(levels, outcome)
                 if lim.max_age_days is not None), default_days)  # fmt: skip
    source = _count_source(levels, outcome)
    if source is None:
        return _Rule(days, 0, None)
    count, _, key = source
    if not key:
        return _Rule(days, count, None)
    if key == "succeeded" and outcome in ("succeeded", "partial"):
        # partial runs inherit succeeded's count: it counts both, not each on its own
        shared = _count_source(levels, "partial") == _count_source(levels, "succeeded")
        if shared:
            return _Rule(days, count, ("succeeded", "partial"))
    return _Rule(days, count, (outcome,))


@dataclass(slots=True)
class _Tally:
    """What a pass or a purge deleted, the batches it may still delete (``None``: no limit)
    and until when (``time.monotonic``; ``None``: no limit); ``more``: it stopped with runs
    left to delete."""

    batches: int | None = None
    until: float | None = None
    leased: bool = False
    """The pruner's: each batch renews the retention lease (a purge takes none)."""
    spent: int = 0
    runs: int = 0
    archives: list[str] = field(default_factory=list)
    more: bool = False

    def spend(self) -> bool:
        """Take one batch of the budget; False when none is left or the time is up (then
        ``more``)."""
        if self.spent and self.until is not None and time.monotonic() >= self.until:
            self.batches = 0  # the first batch always goes: a pass makes progress
        if self.batches is not None and self.batches <= 0:
            self.more = True
            return False
        if self.batches is not None:
            self.batches -= 1
        self.spent += 1
        return True


class RetentionService:
    """``engine.retention``: policies, the worker's pruner, purges, and reading archives."""

    read_archive = staticmethod(read_archive)

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._next_at = 0.0
        self._owner = new_id("pruner")

    # -- policies -------------------------------------------------------------------------

    async def show(self, org: str) -> Retention:
        """The organization's retention: the default, its policy, its workflows' policies."""
        records = await (await self.deps.store()).retention_policies(org)
        return self._view(org, records)

    async def set(
        self, org: str, policy: Policy | dict[str, Any], *, workflow: str | None = None
    ) -> Retention:
        """Set the policy of ``org`` (or of its ``workflow``, by name); the retention now."""
        resource = workflow if workflow is not None else org
        async with audited(self.deps, org, "set", "retention", resource) as change:
            checked = policy_of(policy)
            name = self._workflow_name(workflow)
            store = await self.deps.store()
            encoded = orjson.dumps(checked.wire())
            await store.put_retention_policy(org, name, encoded, self.deps.now())
            change.details = {"workflow": workflow, "policy": checked.wire()}
            return await self.show(org)

    async def clear(self, org: str, *, workflow: str | None = None) -> bool:
        """Delete the policy of ``org`` (or of its ``workflow``); whether there was one."""
        resource = workflow if workflow is not None else org
        async with audited(self.deps, org, "delete", "retention", resource) as change:
            name = self._workflow_name(workflow)
            found = await (await self.deps.store()).delete_retention_policy(org, name)
            change.details = {"workflow": workflow, "found": found}
            return found

    async def limits(self, org: str, workflow: str) -> dict[str, Limits]:
        """The limits that apply to ``workflow``'s ended runs, by status, as the pruner
        resolves them (``maxAgeDays`` 0: forever; ``maxRuns`` 0: no count limit)."""
        records = await (await self.deps.store()).retention_policies(org)
        by_name = {r.workflow: Policy.model_validate_json(r.policy) for r in records}
        levels = (by_name.get(workflow), by_name.get(""))
        default = self.deps.settings.run_retention_days
        rules = {outcome: _rule(levels, outcome, default) for outcome in OUTCOMES}
        return {o: Limits(max_age_days=r.days, max_runs=r.runs) for o, r in rules.items()}

    def _workflow_name(self, workflow: str | None) -> str:
        if workflow is None:
            return ""
        if not isinstance(workflow, str) or not workflow.strip():
            raise RetentionInvalid("$.workflow", "a workflow's name must not be empty")
        if len(workflow) > self.deps.settings.max_name_length:
            raise RetentionInvalid("$.workflow", "longer than the longest name (max_name_length)")
        return workflow

    def _view(self, org: str, records: Sequence[PolicyRecord]) -> Retention:
        settings = self.deps.settings
        own = next((r for r in records if r.workflow == ""), None)
        workflows = [_workflow_policy(r) for r in records if r.workflow]
        return Retention(
            organization=org, default=Policy(max_age_days=settings.run_retention_days),
            policy=None if own is None else Policy.model_validate_json(own.policy),
            updated_at=None if own is None else stamp(own.updated_at), workflows=workflows,
            event_retention_days=settings.event_retention_days,
            task_retention_days=settings.task_retention_days,
            audit_retention_days=settings.audit_retention_days,
            archive=settings.archive or None,
        )  # fmt: skip

    # -- the worker's pruner --------------------------------------------------------------

    async def maintain(self, now: float) -> int:
        """The worker's periodic retention: :meth:`prune` at most every
        :data:`PRUNE_INTERVAL_SECONDS` (after a second while a pass left a backlog); how many
        runs were deleted."""
        if now < self._next_at:
            return 0
        self._next_at = now + PRUNE_INTERVAL_SECONDS  # a failed pass is not retried sooner
        pruned = await self.prune(now)
        if pruned.more:
            self._next_at = now + 1.0
        return pruned.runs

    async def prune(self, now: float) -> Pruned:
        """One pass: under the store's retention lease (``ran`` False when another pruner
        holds it), delete the runs past their policies, at most :data:`PRUNE_PASSES` batches,
        then events and finished tasks past their settings."""
        store = await self.deps.store()
        if not await store.acquire_retention_lease(self._owner, now, LEASE_SECONDS):
            return Pruned(ran=False)
        try:
            tally = await self._prune_runs(store, now)
            settings = self.deps.settings
            events = await _prune_rows(store.prune_events, now, settings.event_retention_days)
            tasks = await _prune_rows(store.prune_finished_tasks, now,
                                      settings.task_retention_days)  # fmt: skip
        finally:
            await store.release_retention_lease(self._owner)
        return Pruned(ran=True, runs=tally.runs, events=events, tasks=tasks,
                      archives=tally.archives, more=tally.more)  # fmt: skip

    async def _prune_runs(self, store: Store, now: float) -> _Tally:
        policies: dict[tuple[str, str], Policy] = {
            (r.org, r.workflow): Policy.model_validate_json(r.policy)
            for r in await store.retention_policies(None)
        }
        tally = _Tally(PRUNE_PASSES, time.monotonic() + PRUNE_SECONDS, leased=True)
        while not tally.more:  # again while runs went: the children of parents that went
            deleted = tally.runs
            for org in await store.retention_orgs():
                for workflow in await store.retention_workflows(org):
                    levels = (policies.get((org, workflow)), policies.get((org, "")))
                    cutoffs = await self._cutoffs(store, org, workflow, levels, now)
                    for outcome, before in cutoffs.items():
                        await self._delete(store, (org, workflow, outcome), before, tally)
                        if tally.more:
                            return tally
            if tally.runs == deleted:
                break
        return tally

    async def _cutoffs(
        self, store: Store, org: str, workflow: str, levels: Sequence[Policy | None], now: float
    ) -> dict[str, float]:
        """For each outcome of ``workflow``: runs that ended before when go."""
        default = self.deps.settings.run_retention_days
        cutoffs: dict[str, float] = {}
        for outcome in OUTCOMES:
            rule = _rule(levels, outcome, default)
            before = now - rule.days * DAY if rule.days > 0 else -math.inf
            if rule.runs > 0:
                nth = await store.nth_newest_end(org, workflow, rule.scope, rule.runs)
                before = max(before, nth if nth is not None else -math.inf)
            if before > -math.inf:
                cutoffs[outcome] = before
        return cutoffs

    async def _delete(
        self, store: Store, where: tuple[str, str, str], before: float, tally: _Tally,
        archive: str | None = None,
    ) -> None:  # fmt: skip
        """Delete the runs of ``where`` (org, workflow, outcome) that ended before ``before``,
        a batch per transaction, while ``tally``'s budget of batches lasts. A pass renews its
        lease before each batch, and stops if it lost it (another pruner took it over)."""
        org, workflow, outcome = where
        folder = archive if archive is not None else self.deps.settings.archive
        while True:
            ids = await store.ended_before(org, workflow, outcome, before, BATCH)
            if not ids or not tally.spend():
                return
            if tally.leased and not await store.acquire_retention_lease(
                self._owner, self.deps.now(), LEASE_SECONDS
            ):
                tally.batches = 0
                return
            if folder:
                path, ids = await self._archive(org, ids, folder)
                tally.archives.extend([str(path)] if path is not None else [])
            deleted = len(await store.delete_ended_runs(ids)) if ids else 0
            tally.runs += deleted
            if len(ids) < BATCH or not deleted:  # none went: they are no longer deletable
                return

    async def _archive(
        self, org: str, ids: Sequence[str], folder: str
    ) -> tuple[Path | None, list[str]]:
        """Write the runs ``ids`` to a new archive file of ``folder``; its path (``None``: none
        was left to write) and the ids written (only those may be deleted: a run is never
        deleted without being archived).
        ``ArchiveUnwritable`` when the file cannot be written (then nothing is deleted)."""
        from plait.service.runs import RunService

        runs = RunService(self.deps)
        shown, written = [], []
        for run_id in ids:
            try:
                shown.append((await runs.get(org, run_id, include="metrics")).wire())
            except RunNotFound:  # deleted meanwhile (a concurrent purge): nothing to keep
                log.debug("run %s went before it was archived", run_id)
                continue
            written.append(run_id)
        if not written:
            return None, []
        try:
            path = await asyncio.to_thread(write_archive, folder, shown, self.deps.now())
        except OSError as exc:
            raise ArchiveUnwritable(folder, exc) from exc
        return path, written

    # -- purges ---------------------------------------------------------------------------

    async def purge(
        self, org: str, older_than: str | float, *, workflow: str | None = None,
        statuses: Iterable[str] = (), dry_run: bool = False, archive: str | None = None,
        max_batches: int | None = None,
    ) -> Purge:  # fmt: skip
        """Delete the runs of ``org`` (of ``workflow``, of ``statuses``) that ended longer ago
        than ``older_than`` (seconds, or ``30d``/``12h``/``90s``), whatever their policies;
        ``dry_run``: count them only (the runs that may go now: a child whose parent the purge
        deletes is not counted). Runs with a child that has not ended stay, and a child goes
        only after its parent (a purge sweeps again for the children of the parents it
        deleted). ``max_batches``: delete at most that many batches of :data:`BATCH` runs
        (then ``more``; the API's purge is bounded so), ``None``: everything."""
        async with audited(self.deps, org, "purge", "runs", workflow or org) as change:
            seconds = _seconds(older_than)
            chosen = _statuses(statuses)
            workflow = None if workflow is None else self._workflow_name(workflow)
            before = self.deps.now() - seconds
            store = await self.deps.store()
            tally = _Tally(batches=max_batches)
            if dry_run:
                await self._count(store, org, workflow, _outcomes(chosen), before, tally)
            else:
                await self._sweep(store, (org, workflow, before), _outcomes(chosen), tally,
                                  archive)  # fmt: skip
            change.details = {"olderThanSeconds": seconds, "workflow": workflow,
                              "statuses": chosen, "dryRun": dry_run,
                              "runs": tally.runs, "more": tally.more}  # fmt: skip
            return Purge(organization=org, before=required_stamp(before), workflow=workflow,
                         statuses=chosen, dry_run=dry_run, runs=tally.runs,
                         archives=tally.archives, more=tally.more)  # fmt: skip

    async def _count(
        self, store: Store, org: str, workflow: str | None, outcomes: Sequence[str],
        before: float, tally: _Tally,
    ) -> None:  # fmt: skip
        workflows = [workflow] if workflow else await store.retention_workflows(org)
        for name in workflows:
            for outcome in outcomes:
                tally.runs += await store.count_ended_before(org, name, outcome, before)

    async def _sweep(
        self, store: Store, where: tuple[str, str | None, float], outcomes: Sequence[str],
        tally: _Tally, archive: str | None,
    ) -> None:  # fmt: skip
        """A purge's deletes: sweep the workflows again while the last sweep deleted runs (the
        children of parents it deleted may go now), until none went or the budget is spent."""
        org, workflow, before = where
        while not tally.more:
            deleted = tally.runs
            workflows = [workflow] if workflow else await store.retention_workflows(org)
            for name in workflows:
                for outcome in outcomes:
                    await self._delete(store, (org, name, outcome), before, tally, archive)
            if tally.runs == deleted:
                return


def _workflow_policy(record: PolicyRecord) -> WorkflowPolicy:
    return WorkflowPolicy(workflow=record.workflow, updated_at=required_stamp(record.updated_at),
                          policy=Policy.model_validate_json(record.policy))  # fmt: skip


async def _prune_rows(verb: Any, now: float, days: float) -> int:
    """Events or finished tasks older than ``days`` (0: none), at most ten batches."""
    if days <= 0:
        return 0
    total = 0
    for _ in range(PRUNE_PASSES):
        deleted: int = await verb(now - days * DAY, EVENT_TASK_BATCH)
        total += deleted
        if deleted < EVENT_TASK_BATCH:
            break
    return total


def _seconds(older_than: str | float) -> float:
    if isinstance(older_than, bool) or not isinstance(older_than, (str, int, float)):
        raise RetentionInvalid("$.olderThan", f"write {DURATIONS}")
    seconds = parse_duration(older_than) if isinstance(older_than, str) else float(older_than)
    if not 0 < seconds <= LONGEST:
        raise RetentionInvalid("$.olderThan", "must be longer than 0 and at most 100 years")
    return seconds


def _statuses(statuses: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(statuses))
    for name in chosen:
        if name not in STATUSES:
            raise RetentionInvalid(
                "$.status", f"{name!r} is not a status: use {', '.join(STATUSES)}"
            )
    return chosen


def _outcomes(statuses: Sequence[str]) -> list[str]:
    """The outcomes ``statuses`` name (``succeeded`` covers ``partial``); all when empty."""
    if not statuses:
        return list(OUTCOMES)
    wanted = set(statuses) | ({"partial"} if "succeeded" in statuses else set())
    return [o for o in OUTCOMES if o in wanted]


__all__ = ["Limits", "Policy", "RetentionInvalid", "RetentionService", "parse_duration"]
