"""Business metrics a run records (``ctx.metric``; a definition step's ``metrics``; the
``metric`` action): the checks of one measurement, and its durable record.

A measurement is recorded like ``ctx.now()``: under a key in the run's history (kind
``metric``), so a replay reads it back instead of recording it again, and in the same
transaction as a row of ``run_metrics`` keyed by the run and that key, which is what the
workflow's aggregates read. A resume after a crash therefore never counts one twice.

Limits (fixed, so that what one workflow records stays cheap to aggregate): at most
``max_metric_labels`` labels (setting ``max_metric_labels``); label names are identifiers of
at most ``LABEL_NAME_CHARS`` characters; label values are text, numbers or booleans, stored as
text of at most ``LABEL_VALUE_CHARS`` characters.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plait import metrics, values
from plait.errors import InvalidMetric, LeaseLost
from plait.store.records import StepRecord
from plait.workflow import MetricSpec

if TYPE_CHECKING:
    from plait.runtime.context import Context

log = logging.getLogger(__name__)

METRIC_ACTIONS = ("metric", "Metric.record")
"""The built-in action that records business metrics from a definition, under both spellings
(brief 002 writes ``Metric.record``)."""
KIND = "metric"
"""The kind of a measurement's record in the run's history."""
LABEL_NAME_CHARS = 64
LABEL_VALUE_CHARS = 200
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
"""What a declared metric's name looks like (``timeToFirstLogin``, ``deal.value``)."""


def declared(specs: Any) -> tuple[MetricSpec, ...]:
    """Declarations given to ``engine.workflow(metrics=...)``: names, ``{name, description}``
    objects or ``MetricSpec``; raises ``ValueError`` on anything else or a duplicate."""
    found: list[MetricSpec] = []
    for item in specs or ():
        if isinstance(item, MetricSpec):
            spec = item
        elif isinstance(item, str):
            spec = MetricSpec(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            description = item.get("description")
            spec = MetricSpec(item["name"], None if description is None else str(description))
        else:
            raise ValueError(f"a metric is a name or {{name, description}}, not {item!r}")
        if not METRIC_NAME.match(spec.name):
            raise ValueError(f"metric name {spec.name!r} must be a letter or _ followed by "
                             "letters, digits, _ . : or -")  # fmt: skip
        if any(other.name == spec.name for other in found):
            raise ValueError(f"metric {spec.name!r} is declared twice")
        found.append(spec)
    return tuple(found)


def measurement(
    ctx: Context, name: str, value: Any, labels: Mapping[str, Any]
) -> tuple[float, dict[str, str]]:
    """``value`` as a float and ``labels`` as text, or ``InvalidMetric`` saying what is wrong."""
    if name not in ctx.metric_names:
        known = ", ".join(sorted(ctx.metric_names)) or "none"
        raise InvalidMetric(ctx.workflow, name, f"is not declared by the workflow "
                            f"(declared: {known})")  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidMetric(ctx.workflow, name, f"the value must be a finite number, not "
                            f"{value!r}")  # fmt: skip
    return float(value), _labels(ctx, name, labels)


def _labels(ctx: Context, name: str, labels: Mapping[str, Any]) -> dict[str, str]:
    limit = ctx.settings.max_metric_labels
    if len(labels) > limit:
        raise InvalidMetric(ctx.workflow, name, f"{len(labels)} labels; the limit is {limit} "
                            "(setting max_metric_labels, environment variable "
                            "PLAIT_MAX_METRIC_LABELS)")  # fmt: skip
    found: dict[str, str] = {}
    for key, raw in labels.items():
        if not isinstance(key, str) or len(key) > LABEL_NAME_CHARS or not _LABEL_NAME.match(key):
            raise InvalidMetric(ctx.workflow, name, f"label name {key!r} must be an identifier "
                                f"of at most {LABEL_NAME_CHARS} characters")  # fmt: skip
        if raw is None or not isinstance(raw, str | int | float):
            raise InvalidMetric(ctx.workflow, name, f"label {key!r} must be text, a number or "
                                f"a boolean, not {raw!r}")  # fmt: skip
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if len(text) > LABEL_VALUE_CHARS:
            raise InvalidMetric(ctx.workflow, name, f"label {key!r} is {len(text)} characters; "
                                f"the limit is {LABEL_VALUE_CHARS}")  # fmt: skip
        found[key] = text
    return dict(sorted(found.items()))


def record_metric(
    ctx: Context, name: str, value: Any, labels: Mapping[str, Any], record: str | None = None
) -> float:
    """Record one measurement of ``name`` for the run of ``ctx`` (once: a replay reads the
    recorded one back) and return its value. It is recorded under ``record`` (default
    ``metric:NAME``; a definition's step names its own, so that steps running concurrently
    keep theirs apart)."""
    number, text = measurement(ctx, name, value, labels)
    key, position, found = ctx.replay.next(record or f"metric:{name}", KIND)
    if found is not None:
        recorded: float = values.decode(found.output)["value"]
        return recorded
    now = ctx.clock.time()
    body = values.encode({"name": name, "value": number, "labels": text})
    shown = record or f"metric:{name}"
    step = StepRecord(key, position, shown, KIND, "completed", 1, body, None, now, now)
    future = asyncio.ensure_future(
        ctx.store.record_metric(
            ctx.run_id,
            ctx.fence,
            step,
            ctx.org,
            ctx.workflow,
            name,
            number,
            values.encode(text).decode(),
            now,
        )
    )  # fmt: skip  (queued now: a later awaited write of the run commits after it)
    future.add_done_callback(_ignore_lease_lost)
    counting = metrics.CURRENT.get()
    if counting is not None:
        counting.summarize("plait_business_metric", number, ctx.workflow, name)
    return number


def _ignore_lease_lost(future: asyncio.Future[Any]) -> None:
    # A lost lease surfaces at the run's next awaited write; anything else is worth a log line.
    if future.cancelled():
        return
    error = future.exception()
    if error is not None and not isinstance(error, LeaseLost):
        log.error("recording a business metric failed: %s", error)
