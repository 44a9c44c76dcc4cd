"""The Grafana dashboard (examples/grafana) and the PromQL and metric table of
docs/observability.md name only what plait exports, with its real labels, so neither can rot:
the reference is a scrape of a real engine after a small workload (issue 13)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plait import Context, Engine, RetryPolicy, WorkflowFailed
from plait.api.app import create_app
from plait.metrics import SPECS
from plait.testing import VirtualClock
from tests.integration.helpers import pump

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "examples" / "grafana" / "plait-dashboard.json"
DOC = ROOT / "docs" / "observability.md"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("_count", "_sum"), "gauge": ("",)}  # fmt: skip
NAME = re.compile(r"\bplait_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(plait_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Family:
    name: str
    """As the metric table names it: ``_total`` on counters."""
    kind: str
    labels: frozenset[str]
    series: frozenset[str]
    """The sample names a query may select."""


async def exported(make_engine: Callable[..., Engine], clock: VirtualClock) -> list[Family]:
    """The families a real engine exposes after runs that succeed, retry and fail, an API
    request and a refused webhook."""
    engine = make_engine(clock=clock)

    async def broken() -> None:
        raise RuntimeError("down")

    @engine.workflow("billing")
    async def billing(ctx: Context, fail: bool) -> str:
        if fail:
            await ctx.step("charge", broken, retry=RetryPolicy(max_attempts=2, initial_delay=1))
        return "done"

    async with engine:
        assert await pump(clock, (await engine.start(billing, False)).result(timeout=10))
        with pytest.raises(WorkflowFailed):
            await pump(clock, (await engine.start(billing, True)).result(timeout=10))
        transport = httpx.ASGITransport(app=create_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://plait") as client:
            refused = await client.post("/~default/webhooks/nope", content=b"{}")
            assert refused.status_code == 401
            text = (await client.get("/metrics")).text
    families = []
    for family in text_string_to_metric_families(text):
        name = family.name + ("_total" if family.type == "counter" else "")
        spec = SPECS.get(name)
        labels = set(spec.labels) | ({"org"} if spec.org else set()) if spec else set()
        for sample in family.samples:
            labels |= set(sample.labels) - {"le", "quantile"}
        series = {family.name + suffix for suffix in SUFFIXES[family.type]}
        families.append(Family(name, family.type, frozenset(labels), frozenset(series)))
    return families


def expressions(node: Any) -> Iterator[str]:
    """Every PromQL text of a dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and _is_promql(key, value):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def _is_promql(key: str, value: str) -> bool:
    """A target's ``expr``, a variable's ``definition``, or a variable's ``query`` text."""
    return key in ("expr", "definition") or (key == "query" and "plait_" in value)


def problems(expression: str, families: list[Family]) -> list[str]:
    """What in ``expression`` plait does not export: unknown series, unknown labels."""
    by_series = {series: family for family in families for series in family.series}
    found: list[str] = []
    names = NAME.findall(expression)
    found += [f"{name} is not exported" for name in names if name not in by_series]
    for name, matchers in SELECTOR.findall(expression):
        family = by_series.get(name)
        allowed = (family.labels if family else frozenset()) | {"le"}
        found += [f"{name} has no label {label}" for label in MATCHER.findall(matchers)
                  if label not in allowed]  # fmt: skip
    known = {label for name in names if name in by_series for label in by_series[name].labels}
    for grouping in GROUPING.findall(expression):
        labels = {label.strip() for label in grouping.split(",") if label.strip()}
        found += [f"no metric here has label {label}" for label in labels - known - {"le"}]
    return found


def doc_metrics() -> dict[str, set[str]]:
    """The table of docs/observability.md's Metrics section: metric name -> label names."""
    section = DOC.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`plait_"):
            labels = re.sub(r"\([^)]*\)", "", cells[2])  # values in parentheses are examples
            table[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", labels))
    return table


def doc_queries() -> list[str]:
    section = DOC.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```promql\n(.*?)```", section, flags=re.DOTALL)


async def test_the_dashboard_and_the_docs_name_only_what_plait_exports(
    make_engine: Callable[..., Engine], clock: VirtualClock
) -> None:
    families = await exported(make_engine, clock)
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(panels) >= 12 and all(panel["targets"] for panel in panels)
    queries = list(expressions(dashboard))
    assert len(queries) > len(panels)
    assert {q: problems(q, families) for q in queries} == {q: [] for q in queries}
    documented = doc_queries()
    assert len(documented) >= 12
    assert {q: problems(q, families) for q in documented} == {q: [] for q in documented}
    # Every family exported is in the table, with exactly its labels, and nothing else is.
    assert doc_metrics() == {family.name: set(family.labels) for family in families}


def test_every_metric_the_code_declares_is_documented() -> None:
    table = doc_metrics()
    for name, spec in SPECS.items():
        assert name in table, f"{name} is missing from the metric table of {DOC.name}"
        assert table[name] == set(spec.labels) | ({"org"} if spec.org else set()), name
