"""Business metrics of runs, and a workflow's run statistics over a window.

Counts, sums and means are SQL aggregates on both dialects. Percentiles (p50, p95; linear
interpolation between the closest ranks, as PostgreSQL's ``percentile_cont``) are computed by
PostgreSQL itself; SQLite has no percentile function, so its values are read in order and
interpolated here, after a count that refuses a window holding more than ``max_rows`` of them
(``LimitExceeded`` naming the setting ``stats_max_rows``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from plait.errors import LimitExceeded
from plait.store.backend import Backend
from plait.store.records import StepRecord
from plait.store.runs import fenced, step_params
from plait.store.session import Session


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The measurements of one metric (and label set, when grouped by labels) in a window."""

    name: str
    labels: dict[str, str] | None
    count: int
    sum: float
    mean: float
    p50: float
    p95: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class MeasurementRecord:
    """One value a run recorded."""

    key: str
    name: str
    value: float
    labels: dict[str, str]
    recorded_at: float


@dataclass(frozen=True, slots=True)
class Durations:
    """The durations (creation to end, seconds) of the runs that ended."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class RunStats:
    """What a workflow's runs created in a window did, and what its runs are doing now."""

    outcomes: dict[str, int]
    """Runs by outcome (``succeeded``, ``partial``, ``failed``, ``cancelled``) or, for the
    unfinished, by status (``pending``, ``running``, ``waiting``)."""
    durations: Durations
    failures: list[tuple[str, int]]
    """Steps that failed for good (after their retries), by step name, most first."""
    retries: int
    now: dict[str, int]
    """Runs of the workflow pending, running and waiting now (whenever created)."""
    last_run: tuple[str, str, str | None, float, float | None] | None
    """The newest run: id, status, outcome, created at, finished at."""


class MetricVerbs(Backend):
    """Recording business metrics, and reading them and a workflow's statistics back."""

    def record_metric(
        self,
        run_id: str,
        fence: int,
        step: StepRecord,
        org: str,
        workflow: str,
        name: str,
        value: float,
        labels: str,
        now: float,
    ) -> asyncio.Future[None]:
        """Record one measurement of a run held under ``fence`` (else ``LeaseLost``), in one
        transaction: its record in the run's history (``step``) and its row of the metric,
        keyed by the run and the step's key (a record written again replaces it). Queued when
        called, like ``record_step``."""
        params = step_params(run_id, step)
        params["fence"] = fence
        row = {"run_id": run_id, "key": step.key, "position": step.position, "org": org,
               "workflow": workflow, "name": name, "value": value, "labels": labels,
               "recorded_at": now}  # fmt: skip

        def op(db: Session) -> None:
            fenced(db, "upsert_step", params)
            db.run("insert_run_metric", row)

        return self._submit(op)

    async def run_measurements(self, run_id: str) -> list[MeasurementRecord]:
        """The measurements a run recorded, in the order recorded."""
        rows = await self._all("metrics_of_run", {"run_id": run_id})
        return [MeasurementRecord(r[0], r[1], float(r[2]), orjson.loads(r[3]), r[4]) for r in rows]

    async def metric_aggregates(
        self, org: str, workflow: str, since: float, until: float, *,
        name: str | None = None, by_labels: bool = False, max_rows: int,
    ) -> list[Aggregate]:  # fmt: skip
        """Count, sum, mean, p50, p95, min and max of each metric of ``workflow`` recorded in
        ``[since, until]`` (only ``name`` when given; each label set apart with
        ``by_labels``), in one consistent read, by name then labels."""
        params = {"org": org, "workflow": workflow, "since": since, "until": until,
                  "name": name, "by_labels": 1 if by_labels else 0}  # fmt: skip

        def op(db: Session) -> list[Aggregate]:
            if db.dialect == "postgres":
                rows = db.run("metric_aggregates", params).fetchall()
                return [_aggregate(r[0], r[1], by_labels, *r[2:]) for r in rows]
            _check_rows(db, "count_metric_values", params, max_rows, "measurements")
            groups: dict[tuple[str, str], list[float]] = {}
            for row in db.run("metric_values", params):
                groups.setdefault((row[0], row[1]), []).append(float(row[2]))
            return [_of_values(n, g, by_labels, v) for (n, g), v in groups.items()]

        found: list[Aggregate] = await self._read(op)
        return found

    async def run_stats(
        self, org: str, workflow: str, since: float, until: float, *, max_rows: int
    ) -> RunStats:
        """The statistics of ``workflow``'s runs created in ``[since, until]`` and its runs
        live now, in one consistent read."""
        params = {"org": org, "workflow": workflow, "since": since, "until": until}

        def op(db: Session) -> RunStats:
            outcomes = {str(r[0]): int(r[1]) for r in db.run("run_outcomes", params)}
            failures = [(str(r[0]), int(r[1])) for r in db.run("step_failures", params)]
            retries = db.run("step_retries", params).fetchone()
            now = {str(r[0]): int(r[1]) for r in db.run("live_runs_of_workflow", params)}
            last = db.run("last_run_of_workflow", params).fetchone()
            newest = None if last is None else tuple(last)
            return RunStats(outcomes, _durations(db, params, max_rows), failures,
                            int(retries[0] or 0), now, newest)  # fmt: skip

        found: RunStats = await self._read(op)
        return found


def _durations(db: Session, params: dict[str, Any], max_rows: int) -> Durations:
    if db.dialect == "postgres":
        row = db.run("run_durations", params).fetchone()
        return Durations(int(row[0]), row[1], row[2], row[3])
    _check_rows(db, "count_ended_runs", params, max_rows, "ended runs")
    seconds = [float(r[0]) for r in db.run("run_duration_values", params)]
    if not seconds:
        return Durations(0, None, None, None)
    mean = _sum(seconds) / len(seconds)
    return Durations(len(seconds), mean, percentile(seconds, 0.5), percentile(seconds, 0.95))


def _check_rows(db: Session, query: str, params: dict[str, Any], limit: int, what: str) -> None:
    count = int(db.run(query, params).fetchone()[0])
    if count > limit:
        raise LimitExceeded(f"the {what} of the window", count, limit, "stats_max_rows",
                            "$.query.window")  # fmt: skip


def _sum(values: Sequence[float]) -> float:
    """The exact sum; infinite past the largest float, as PostgreSQL's (summed in NUMERIC,
    read as a float) (``fsum`` raises instead)."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.copysign(math.inf, sum(values))


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``ordered`` (ascending, not empty), interpolated
    linearly between the closest ranks, as ``percentile_cont``."""
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _of_values(name: str, labels: str, by_labels: bool, ordered: list[float]) -> Aggregate:
    total = _sum(ordered)
    return _aggregate(name, labels, by_labels, len(ordered), total, total / len(ordered),
                      percentile(ordered, 0.5), percentile(ordered, 0.95), ordered[0],
                      ordered[-1])  # fmt: skip


def _aggregate(name: str, labels: str, by_labels: bool, *figures: Any) -> Aggregate:
    count, total, mean, p50, p95, low, high = figures
    shown = orjson.loads(labels) if by_labels else None
    return Aggregate(name, shown, int(count), float(total), float(mean), float(p50), float(p95),
                     float(low), float(high))  # fmt: skip
