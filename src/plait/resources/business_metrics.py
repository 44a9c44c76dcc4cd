"""Business metrics and workflow statistics as every interface shows them: a run's
measurements (``include=metrics``), a workflow's metric aggregates over a window, and its
stats (the brief 000 health check)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from plait.resources.base import Resource, Stamp

if TYPE_CHECKING:
    from plait.store.business_metrics import Aggregate, MeasurementRecord, RunStats


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Measurement(Resource):
    """One value of a business metric a run recorded."""

    name: str
    value: float
    labels: dict[str, str] = Field(default_factory=dict)
    step: str = Field(description="The key of its record in the run's history (metric:NAME).")
    recorded_at: Stamp

    @classmethod
    def of(cls, m: MeasurementRecord) -> Measurement:
        return cls(name=m.name, value=m.value, labels=m.labels, step=m.key,
                   recorded_at=_at(m.recorded_at))  # fmt: skip


class MetricFigures(Resource):
    """A metric's measurements in the window (each label set apart when grouped by labels):
    ``count`` 0 and no figures for a declared metric nothing recorded."""

    name: str
    description: str | None = None
    labels: dict[str, str] | None = Field(
        None, description="The label set, when grouped by labels (byLabels=true)."
    )
    count: int
    sum: float
    mean: float | None = None
    p50: float | None = Field(None, description="Median, interpolated (percentile_cont).")
    p95: float | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, a: Aggregate, description: str | None) -> MetricFigures:
        return cls(name=a.name, description=description, labels=a.labels, count=a.count,
                   sum=a.sum, mean=a.mean, p50=a.p50, p95=a.p95, min=a.min,
                   max=a.max)  # fmt: skip


class Window(Resource):
    """The window figures are of: ``[since, until]``."""

    window: str = Field(description="As asked, e.g. ``24h``.")
    since: Stamp
    until: Stamp


class WorkflowMetrics(Resource):
    """A workflow's business metrics over a window, by metric (declared ones first)."""

    type: Literal["WorkflowMetrics"] = Field("WorkflowMetrics", alias="$type")
    workflow: str
    workflow_id: str | None = None
    window: Window
    metrics: list[MetricFigures]


class RunCounts(Resource):
    """Runs created in the window, by how they ended (or their status while unfinished)."""

    total: int
    succeeded: int = 0
    partial: int = Field(0, description="Succeeded past failed steps (errorHandling Continue).")
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    running: int = 0
    waiting: int = 0


class DurationFigures(Resource):
    """Durations, in seconds from creation to end, of the runs of the window that ended."""

    count: int
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None


class StepFailures(Resource):
    step: str
    failures: int


class LastRun(Resource):
    id: str
    status: str
    outcome: str | None = None
    created_at: Stamp
    finished_at: Stamp | None = None


class LiveRuns(Resource):
    """The workflow's runs pending, running and waiting now (whenever they were created)."""

    pending: int = 0
    running: int = 0
    waiting: int = 0


class WorkflowStats(Resource):
    """How a workflow is doing: its runs of the window and now (the brief 000 health check).
    ``successRate`` is the share of the window's ended runs that succeeded (``partial``
    included); null when none ended."""

    type: Literal["WorkflowStats"] = Field("WorkflowStats", alias="$type")
    workflow: str
    workflow_id: str | None = None
    status: str | None = Field(None, description="The stored workflow's status, if stored.")
    window: Window
    runs: RunCounts
    success_rate: float | None = None
    duration: DurationFigures
    failures_by_step: list[StepFailures]
    retries: int = Field(description="Step attempts retried, in the window's runs.")
    now: LiveRuns
    last_run: LastRun | None = None
    run_count: int | None = Field(None, description="All-time, of a stored workflow.")
    success_count: int | None = None
    failure_count: int | None = None

    @classmethod
    def of(cls, stats: RunStats, **fields: object) -> WorkflowStats:
        runs = RunCounts(total=sum(stats.outcomes.values()), **stats.outcomes)
        ended = runs.succeeded + runs.partial + runs.failed + runs.cancelled
        rate = None if ended == 0 else round((runs.succeeded + runs.partial) / ended, 6)
        d = stats.durations
        last = None
        if stats.last_run is not None:
            run_id, status, outcome, created, finished = stats.last_run
            last = LastRun(id=run_id, status=status, outcome=outcome, created_at=_at(created),
                           finished_at=None if finished is None else _at(finished))  # fmt: skip
        return cls.model_validate({
            **fields, "runs": runs, "success_rate": rate,
            "duration": DurationFigures(count=d.count, mean=d.mean, p50=d.p50, p95=d.p95),
            "failures_by_step": [StepFailures(step=s, failures=n) for s, n in stats.failures],
            "retries": stats.retries, "now": LiveRuns(**stats.now), "last_run": last,
        })  # fmt: skip


def measurements(found: Sequence[MeasurementRecord]) -> list[Measurement]:
    return [Measurement.of(m) for m in found]
