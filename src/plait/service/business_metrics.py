"""A workflow's business metrics and stats over a window (``engine.workflows.metrics``,
``engine.workflows.stats``), and what ``include=`` adds to a run read by itself.

A window is a whole number of minutes, hours or days ending now (``30m``, ``24h``, ``7d``), at
most ``stats_max_window_days``. Figures are of the runs *created* in the window (stats) and of
the measurements *recorded* in it (metrics).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plait.errors import InvalidParameter, LimitExceeded, WorkflowNotFound

if TYPE_CHECKING:
    from plait.resources.business_metrics import (
        Measurement,
        Window,
        WorkflowMetrics,
        WorkflowStats,
    )
    from plait.resources.workflows import StoredWorkflow
    from plait.service.deps import Deps
    from plait.service.workflows import WorkflowService

_WINDOW = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
_UNIT = {"m": 60.0, "h": 3_600.0, "d": 86_400.0}
DEFAULT_WINDOW = "24h"
INCLUDES = ("metrics", "audit")
"""What ``include=`` may add to a run read by itself: its business metric measurements, its
audit entries."""


def window_seconds(window: str, max_days: float) -> float:
    """The length of ``window`` in seconds; ``InvalidParameter`` or ``LimitExceeded`` at
    ``$.query.window``."""
    match = _WINDOW.match(window.strip()) if isinstance(window, str) else None
    if match is None:
        raise InvalidParameter(
            "$.query.window",
            f"{window!r} is not a window: give a whole "
            "number of minutes, hours or days, such as 30m, 24h or 7d",
        )
    seconds = int(match[1]) * _UNIT[match[2]]
    if seconds > max_days * 86_400.0:
        raise LimitExceeded("the window", window, f"{max_days:g}d", "stats_max_window_days",
                            "$.query.window")  # fmt: skip
    return seconds


def includes(value: str | Iterable[str] | None) -> frozenset[str]:
    """The parts ``include`` asks for (comma-separated text, or names), each one of
    :data:`INCLUDES`; ``InvalidParameter`` at ``$.query.include`` naming any other."""
    if value is None:
        return frozenset()
    names = value.split(",") if isinstance(value, str) else list(value)
    found = {name.strip() for name in names if name.strip()}
    unknown = sorted(found - set(INCLUDES))
    if unknown:
        raise InvalidParameter(
            "$.query.include",
            f"unknown {', '.join(map(repr, unknown))}: "
            f"include takes {', '.join(INCLUDES)}, separated by commas",
        )
    return frozenset(found)


async def run_measurements(deps: Deps, run_id: str) -> list[Measurement]:
    """The business metric values run ``run_id`` recorded, in the order recorded."""
    from plait.resources.business_metrics import measurements

    store = await deps.store()
    return measurements(await store.run_measurements(run_id))


class BusinessMetrics:
    """The figures behind ``engine.workflows.metrics`` and ``engine.workflows.stats``."""

    def __init__(self, deps: Deps, workflows: WorkflowService) -> None:
        self.deps = deps
        self.workflows = workflows

    async def metrics(
        self, org: str, ref: str, *, window: str = DEFAULT_WINDOW, name: str | None = None,
        by_labels: bool = False,
    ) -> WorkflowMetrics:  # fmt: skip
        """Count, sum, mean, p50, p95, min and max of each business metric of workflow
        ``ref`` (id or name) recorded in the ``window``; only ``name`` when given; each label
        set apart with ``by_labels``."""
        from plait.resources.business_metrics import MetricFigures, WorkflowMetrics

        stored, workflow = await self._workflow(org, ref)
        span = self._window(window)
        store = await self.deps.store()
        found = await store.metric_aggregates(
            org, workflow, span.since.timestamp(), span.until.timestamp(), name=name,
            by_labels=by_labels, max_rows=self.deps.settings.stats_max_rows,
        )  # fmt: skip
        declared = self._declared(stored, workflow)
        figures = [MetricFigures.of(a, declared.get(a.name)) for a in found]
        recorded = {f.name for f in figures}
        quiet = [
            MetricFigures(name=n, description=d, count=0, sum=0.0)
            for n, d in declared.items()
            if n not in recorded and name in (None, n)
        ]
        order = {n: i for i, n in enumerate(declared)}
        figures = sorted([*figures, *quiet], key=lambda f: (order.get(f.name, len(order)), f.name))
        workflow_id = None if stored is None else stored.id
        return WorkflowMetrics(workflow=workflow, workflow_id=workflow_id, window=span,
                               metrics=figures)  # fmt: skip

    async def stats(self, org: str, ref: str, *, window: str = DEFAULT_WINDOW) -> WorkflowStats:
        """Runs of workflow ``ref`` created in the ``window`` by outcome, success rate, p50 and
        p95 duration, failures by step, retries; its runs pending, running and waiting now;
        its last run; and, for a stored workflow, its all-time counters."""
        from plait.resources.business_metrics import WorkflowStats

        stored, workflow = await self._workflow(org, ref)
        span = self._window(window)
        store = await self.deps.store()
        found = await store.run_stats(org, workflow, span.since.timestamp(),
                                      span.until.timestamp(),
                                      max_rows=self.deps.settings.stats_max_rows)  # fmt: skip
        fields: dict[str, Any] = {"workflow": workflow, "window": span}
        if stored is not None:
            fields.update(workflow_id=stored.id, status=stored.status,
                          run_count=stored.run_count, success_count=stored.success_count,
                          failure_count=stored.failure_count)  # fmt: skip
        return WorkflowStats.of(found, **fields)

    # -- helpers ----------------------------------------------------------------------------

    def _window(self, window: str) -> Window:
        from datetime import UTC, datetime

        from plait.resources.business_metrics import Window

        seconds = window_seconds(window, self.deps.settings.stats_max_window_days)
        now = self.deps.now()
        return Window(window=window, since=datetime.fromtimestamp(now - seconds, UTC),
                      until=datetime.fromtimestamp(now, UTC))  # fmt: skip

    async def _workflow(self, org: str, ref: str) -> tuple[StoredWorkflow | None, str]:
        """The stored workflow ``ref`` (id or name) and its name; a code workflow this engine
        registered by name has no stored record. ``WorkflowNotFound`` for anything else."""
        try:
            stored = await self.workflows.get(org, ref)
        except WorkflowNotFound:
            if ref in self.deps.catalog.workflows:
                return None, ref
            raise
        return stored, stored.name

    def _declared(self, stored: StoredWorkflow | None, workflow: str) -> dict[str, str | None]:
        """The declared metrics, name to description: a definition's ``metrics``, or those
        registered with the code workflow."""
        registered = self.deps.catalog.workflows.get(workflow)
        if registered is not None and registered.metrics:
            return {spec.name: spec.description for spec in registered.metrics}
        document = (stored.definition if stored is not None else None) or {}
        found: dict[str, str | None] = {}
        for item in document.get("metrics") or []:
            if isinstance(item, str):
                found[item] = None
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                description = item.get("description")
                found[item["name"]] = description if isinstance(description, str) else None
        return found
