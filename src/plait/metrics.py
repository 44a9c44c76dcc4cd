"""Prometheus metrics of one engine (one process): counted in memory on the hot path, exported
through a ``prometheus_client`` registry of the engine's own at scrape time.

Counting is a dictionary update (no lock, no ``prometheus_client`` import): the event loop is the
only writer, except the store's commit thread, whose figures are plain additions under the GIL.
``prometheus_client`` is imported only when something is scraped, so ``import plait`` stays cheap.
Each engine has its own registry, so several engines in one process do not collide.

Labels are bounded: workflow names, step names, triggers, statuses, HTTP methods and status codes
(never a run id). ``org`` is a label only when ``PLAIT_METRICS_ORG_LABEL=true``.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from prometheus_client import CollectorRegistry

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Buckets (seconds) of the run and step duration histograms."""
COMMIT = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Buckets (seconds) of the store commit latency."""
BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Buckets (write operations) of the store commit batch size."""

CURRENT: ContextVar[Metrics | None] = ContextVar("plait_metrics", default=None)
"""The metrics of the engine executing the current run (set by the executor for its steps)."""


@dataclass(frozen=True)
class Spec:
    """A metric: its kind, help text, label names, and buckets (histograms)."""

    kind: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    org: bool = False
    """Whether it takes the ``org`` label when the operator enables it."""


SPECS: dict[str, Spec] = {
    "plait_runs_started_total": Spec(
        "counter", "Runs created by this process.", ("workflow", "trigger"), org=True
    ),
    "plait_runs_ended_total": Spec(
        "counter",
        "Runs this process executed to an end (status: succeeded, failed, ...; outcome: "
        "how a terminal run ended when that is not its status, else the status).",
        ("workflow", "status", "outcome"),
        org=True,
    ),
    "plait_run_duration_seconds": Spec(
        "histogram", "From creation to end, of the runs this process ended.", ("workflow",), LATENCY
    ),
    "plait_run_queue_wait_seconds": Spec(
        "histogram",
        "From when a run became runnable (created, woken, due, or its lease expired) to when "
        "this process's worker claimed it.",
        ("workflow",),
        LATENCY,
    ),
    "plait_lease_reclaims_total": Spec(
        "counter",
        "Runs whose lease had expired (a crashed or stalled worker) that this process claimed.",
        ("workflow",),
    ),
    "plait_step_attempts_total": Spec("counter", "Step attempts run.", ("workflow", "step")),
    "plait_step_failures_total": Spec(
        "counter", "Steps that failed for good (retries exhausted).", ("workflow", "step")
    ),
    "plait_step_retries_total": Spec(
        "counter", "Failed step attempts that will be retried.", ("workflow", "step")
    ),
    "plait_step_duration_seconds": Spec(
        "histogram", "Duration of one step attempt.", ("workflow", "step"), LATENCY
    ),
    "plait_step_cache_lookups_total": Spec(
        "counter",
        "Step-result cache lookups before a step's first attempt (result: hit, miss).",
        ("workflow", "step", "result"),
    ),
    "plait_events_emitted_total": Spec(
        "counter", "Events stored by this process (not duplicates).", ("source",)
    ),
    "plait_event_runs_total": Spec(
        "counter", "Runs the events of this process started or resumed.", ("effect",)
    ),
    "plait_webhook_verification_failures_total": Spec(
        "counter", "Webhook requests refused: signature rejected or stale.", ("reason",)
    ),
    "plait_store_commit_seconds": Spec(
        "histogram", "Duration of one group commit of the store.", (), COMMIT
    ),
    "plait_store_commit_batch_size": Spec(
        "histogram", "Write operations per group commit.", (), BATCH
    ),
    "plait_http_responses_total": Spec(
        "counter", "HTTP responses by method and status.", ("method", "status")
    ),
    "plait_run_cost_total": Spec(
        "counter",
        "What the runs this process ended cost (their pricing), by currency: a run priced "
        "again (resumed) adds the difference when it grew.",
        ("workflow", "currency"),
    ),
    "plait_business_metric": Spec(
        "summary",
        "Business metric values the runs of this process recorded (ctx.metric, a step's "
        "metrics, the metric action): _count measurements, _sum their values.",
        ("workflow", "metric"),
    ),
    "plait_circuit_opens_total": Spec(
        "counter", "Circuit breakers that failures seen by this process opened.", ("circuit",)
    ),
    "plait_circuit_rejections_total": Spec(
        "counter",
        "Step attempts a circuit breaker refused here (failed at once or left waiting).",
        ("circuit",),
    ),
    "plait_bulkhead_waits_total": Spec(
        "counter", "Step attempts that found their bulkhead full and waited.", ("bulkhead",)
    ),
    "plait_rate_limit_waits_total": Spec(
        "counter", "Step attempts that waited, suspended, for their rate limit's turn.", ("limit",)
    ),
}


@dataclass
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value


class Metrics:
    """The metrics of one engine. ``gauges`` are read by ``refresh`` (the store) before a
    scrape; the rest are counted as things happen."""

    def __init__(self, *, org_label: bool | None = None) -> None:
        if org_label is None:
            org_label = os.environ.get("PLAIT_METRICS_ORG_LABEL", "").lower() in ("1", "true")
        self.org_label = org_label
        self.counters: dict[str, dict[tuple[str, ...], float]] = {}
        self.histograms: dict[str, dict[tuple[str, ...], _Histogram]] = {}
        self.summaries: dict[str, dict[tuple[str, ...], list[float]]] = {}
        """name: {labels: [count, sum]}."""
        self.gauges: dict[str, tuple[str, tuple[str, ...], dict[tuple[str, ...], float], str]] = {}
        """name: (help, label names, values, kind), set by the scrape's owner."""
        self._registry: CollectorRegistry | None = None

    # -- counting (the hot path) ----------------------------------------------------------------

    def inc(self, name: str, *labels: str, by: float = 1.0, org: str | None = None) -> None:
        if org is not None and self.org_label:
            labels = (*labels, org)
        values = self.counters.setdefault(name, {})
        values[labels] = values.get(labels, 0.0) + by

    def observe(self, name: str, value: float, *labels: str) -> None:
        series = self.histograms.setdefault(name, {})
        histogram = series.get(labels)
        if histogram is None:
            histogram = series[labels] = _Histogram(SPECS[name].buckets)
        histogram.observe(value)

    def claimed(self, workflow: str, waited: float, *, reclaimed: bool = False) -> None:
        """A run this process's worker leased ``waited`` seconds after it became runnable;
        ``reclaimed``: from a lease that had expired."""
        self.observe("plait_run_queue_wait_seconds", max(waited, 0.0), workflow)
        if reclaimed:
            self.inc("plait_lease_reclaims_total", workflow)

    def emitted(self, source: str, started: int = 0, resumed: int = 0) -> None:
        """A new event stored from ``source``, which started and resumed that many runs."""
        self.inc("plait_events_emitted_total", source)
        if started:
            self.inc("plait_event_runs_total", "started", by=started)
        if resumed:
            self.inc("plait_event_runs_total", "resumed", by=resumed)

    def summarize(self, name: str, value: float, *labels: str) -> None:
        """One value of a summary (its count and sum; no quantiles)."""
        figures = self.summaries.setdefault(name, {}).setdefault(labels, [0.0, 0.0])
        figures[0] += 1
        figures[1] += value

    def commit(self, seconds: float, writes: int) -> None:
        """A group commit of the store (called from its writer thread)."""
        self.observe("plait_store_commit_seconds", seconds)
        self.observe("plait_store_commit_batch_size", float(writes))

    def gauge(
        self,
        name: str,
        help: str,
        labels: tuple[str, ...],
        values: dict[tuple[str, ...], float],
        kind: str = "gauge",
    ) -> None:
        """Set a family read at scrape time (a gauge, or a counter kept elsewhere)."""
        self.gauges[name] = (help, labels, values, kind)

    def slots(self, used: int, free: int) -> None:
        """The worker's slots, as the scrape finds them."""
        self.gauge("plait_worker_slots", "Run slots of this process's worker.", ("state",),
                   {("used",): float(used), ("free",): float(free)})  # fmt: skip

    # -- exporting --------------------------------------------------------------------------

    def registry(self) -> CollectorRegistry:
        """This engine's own ``prometheus_client`` registry (built on first scrape)."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(_Collector(self))
        return self._registry

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry())

    def labels_of(self, name: str) -> list[str]:
        spec = SPECS[name]
        return [*spec.labels, "org"] if spec.org and self.org_label else list(spec.labels)


class _Collector:
    """Turns the in-memory figures into metric families when the registry is collected."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            SummaryMetricFamily,
        )

        m = self.metrics
        for name, spec in SPECS.items():
            labels = m.labels_of(name)
            if spec.kind == "counter":
                counter = CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=labels)
                for key, value in sorted(m.counters.get(name, {}).items()):
                    counter.add_metric(list(key), value)
                yield counter
                continue
            if spec.kind == "summary":
                summary = SummaryMetricFamily(name, spec.help, labels=labels)
                for key, (count, total) in sorted(m.summaries.get(name, {}).items()):
                    summary.add_metric(list(key), int(count), total)
                yield summary
                continue
            family = HistogramMetricFamily(name, spec.help, labels=labels)
            for key, h in sorted(m.histograms.get(name, {}).items()):
                family.add_metric(list(key), _cumulative(h), h.total)
            yield family
        for name, (help, names, values, kind) in sorted(m.gauges.items()):
            read: CounterMetricFamily | GaugeMetricFamily
            if kind == "counter":
                read = CounterMetricFamily(name.removesuffix("_total"), help, labels=list(names))
            else:
                read = GaugeMetricFamily(name, help, labels=list(names))
            for key, value in sorted(values.items()):
                read.add_metric(list(key), value)
            yield read


def count_run_event(
    source: str, stored: tuple[Any, bool, Any], metrics: Metrics | None = None
) -> None:
    """Count an event a run stored (from a step, or a progress report): ``stored`` is what
    ``Store.emit`` returned (the event, whether it is new, the runs it started and resumed).
    Counted in ``metrics``, by default those of the engine executing the current run; a
    duplicate (a replayed or retried step's event) is not counted."""
    metrics = CURRENT.get() if metrics is None else metrics
    _, created, dispatched = stored
    if metrics is not None and created:
        metrics.emitted(source, len(dispatched.runs), len(dispatched.resumed))


def counting_run_event(source: str) -> Callable[[asyncio.Future[Any]], None]:
    """A done callback for a future of ``Store.emit`` that counts its event (as
    :func:`count_run_event`) in the metrics current when the callback is made."""
    metrics = CURRENT.get()

    def done(future: asyncio.Future[Any]) -> None:
        if metrics is not None and not future.cancelled() and future.exception() is None:
            count_run_event(source, future.result(), metrics)

    return done


def _cumulative(h: _Histogram) -> list[tuple[str, float]]:
    running, out = 0, []
    for bound, count in zip((*h.buckets, float("inf")), h.counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else _bound(bound), float(running)))
    return out


def _bound(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) and bound >= 1 else repr(bound)
