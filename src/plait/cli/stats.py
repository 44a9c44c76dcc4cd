"""``plait workflows stats | metrics`` and ``plait runs get --include``: how a workflow is
doing and its business metrics over a window, and a run's own metric values and audit
entries, on the database directly (as ``GET /~{org}/workflows/{id}/stats``, ``.../metrics``
and ``GET /~{org}/runs/{id}?include=metrics,audit``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine

if TYPE_CHECKING:
    from plait.resources.business_metrics import WorkflowMetrics, WorkflowStats
    from plait.resources.runs import Run

# Piped output is not cut to a terminal's width (as plait.cli.render's tables).
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)

WorkflowRef = Annotated[str, typer.Argument(help="Workflow id or name.")]
WindowOption = Annotated[
    str,
    typer.Option(help="Ending now: a whole number of minutes, hours or days (30m, 24h, 7d)."),
]
IncludeOption = Annotated[
    str | None,
    typer.Option(help="Comma-separated parts to add: metrics (its business metric values), "
                 "audit (its audit entries)."),
]  # fmt: skip


def register(workflows_app: typer.Typer) -> None:
    workflows_app.command("stats")(workflows_stats)
    workflows_app.command("metrics")(workflows_metrics)


def workflows_stats(
    ref: WorkflowRef, window: WindowOption = "24h", org: OrgOption = "default",
    json: JsonOption = False, db: DbOption = None,
) -> None:  # fmt: skip
    """How a workflow is doing: its runs created in the window by outcome, success rate,
    p50/p95 duration, failures by step, retries, and its runs live now."""
    found = with_engine(db, lambda e: e.workflows.stats(org, ref, window=window))
    if json:
        print_json(found.wire())
    else:
        _stats(found)


def workflows_metrics(
    ref: WorkflowRef, window: WindowOption = "24h",
    name: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    by_labels: Annotated[bool, typer.Option("--by-labels", help="Each label set apart.")] = False,
    org: OrgOption = "default", json: JsonOption = False, db: DbOption = None,
) -> None:  # fmt: skip
    """A workflow's business metrics recorded in the window: count, sum, mean, p50, p95, min
    and max of each."""
    found = with_engine(db, lambda e: e.workflows.metrics(org, ref, window=window, name=name,
                                                          by_labels=by_labels))  # fmt: skip
    if json:
        print_json(found.wire())
    else:
        _metrics(found)


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _stats(s: WorkflowStats) -> None:
    w = s.window.wire()
    _out.print(f"[bold]{s.workflow}[/]  {s.status or 'code'}  window {s.window.window} "
               f"({w['since']} .. {w['until']})")  # fmt: skip
    r = s.runs
    _out.print(f"runs:      {r.total} (succeeded {r.succeeded}, partial {r.partial}, failed "
               f"{r.failed}, cancelled {r.cancelled}, unfinished "
               f"{r.pending + r.running + r.waiting})")  # fmt: skip
    rate = "-" if s.success_rate is None else f"{s.success_rate:.1%}"
    d = s.duration
    _out.print(f"success:   {rate}")
    _out.print(f"duration:  p50 {_figure(d.p50) or '-'} s, p95 {_figure(d.p95) or '-'} s, "
               f"mean {_figure(d.mean) or '-'} s ({d.count} ended)")  # fmt: skip
    _out.print(f"retries:   {s.retries}")
    _out.print(f"now:       pending {s.now.pending}, running {s.now.running}, waiting "
               f"{s.now.waiting}")  # fmt: skip
    if s.last_run is not None:
        _out.print(f"last run:  {s.last_run.id} {s.last_run.outcome or s.last_run.status}")
    for failure in s.failures_by_step:
        _out.print(f"[red]failed[/]    {failure.step}: {failure.failures}")


def _metrics(m: WorkflowMetrics) -> None:
    table = Table("metric", "labels", "count", "sum", "mean", "p50", "p95", "min", "max",
                  box=None)  # fmt: skip
    for f in m.metrics:
        labels = ", ".join(f"{k}={v}" for k, v in (f.labels or {}).items())
        table.add_row(f.name, labels, str(f.count), _figure(f.sum), _figure(f.mean),
                      _figure(f.p50), _figure(f.p95), _figure(f.min), _figure(f.max))  # fmt: skip
    _out.print(f"[bold]{m.workflow}[/]  window {m.window.window}")
    if m.metrics:
        _out.print(table)
    else:
        _out.print("no metrics declared or recorded")


def included(run: Run) -> None:
    """What ``--include`` added to a run shown for people: its metric values, its audit
    entries."""
    if run.metrics is not None:
        _out.print("[bold]metrics[/]" if run.metrics else "no metrics recorded")
        for value in run.metrics:
            labels = "".join(f" {k}={v}" for k, v in value.labels.items())
            _out.print(f"  {value.step}  {value.name} = {_figure(value.value)}{labels}")
    if run.audit is not None:
        _out.print("[bold]audit[/]" if run.audit else "no audit entries")
        for entry in run.audit:
            shown = entry.wire()
            _out.print(f"  {shown['at']}  {entry.actor.name} ({entry.actor.interface})  "
                       f"{entry.verb} {entry.resource.type} {entry.resource.id}  "
                       f"{entry.result}")  # fmt: skip
