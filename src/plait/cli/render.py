"""Human-readable output of the CLI (rich tables on stdout, errors on stderr)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plait.resources.events import Event
from plait.resources.reports import RunReport
from plait.resources.runs import Run
from plait.resources.tasks import Task
from plait.resources.workflows import StoredWorkflow

# Piped output is not cut to a terminal's width.
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)
_err = Console(stderr=True, highlight=False)

_COLOURS = {
    "succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan",
    "waiting": "magenta", "pending": "white", "partial": "yellow",
}  # fmt: skip


def error(message: str) -> None:
    _err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def _status(status: str) -> str:
    return f"[{_COLOURS.get(status, 'white')}]{status}[/]"


def _ended(status: str, outcome: str | None) -> str:
    """A run's status, and its outcome when that differs (``succeeded (outcome partial)``)."""
    shown = _status(status)
    return shown if outcome in (None, status) else f"{shown} (outcome {_status(outcome)})"


def _short(value: object, width: int = 60) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def runs_table(runs: list[Run]) -> None:
    table = Table("id", "workflow", "status", "created", "finished", box=None)
    for run in runs:
        finished = run.finished_at.isoformat(timespec="seconds") if run.finished_at else ""
        table.add_row(
            run.id, run.workflow, _ended(run.status, run.outcome),
            run.created_at.isoformat(timespec="seconds"), finished,
        )  # fmt: skip
    _out.print(table)
    if not runs:
        _out.print("no runs")


def run_detail(run: Run) -> None:
    _out.print(f"[bold]{run.id}[/]  {run.workflow}  {_ended(run.status, run.outcome)}")
    _out.print(f"input:  {_short(run.input, 200)}")
    if run.output is not None:
        _out.print(f"output: {_short(run.output, 200)}")
    if run.error:
        _out.print(f"error:  [red]{_failure(run.error.get('type'), run.error.get('message'))}[/]")
    if run.cost is not None:
        _out.print(f"cost:   {run.cost.total} {run.cost.currency}")
    table = Table("step", "status", "attempts", "started", "output / error", box=None)
    for step in run.steps:
        shown = step.error.get("message", "") if step.error else _short(step.output)
        started = step.started_at.isoformat(timespec="milliseconds") if step.started_at else ""
        status = _status(step.status) + (" (cached)" if step.cached else "")
        table.add_row(step.key, status, str(step.attempts), started, shown)
    if run.steps:
        _out.print(table)
    for entry in run.history:
        by = f" by {entry.by}" if entry.by else ""
        why = f": {entry.reason}" if entry.reason else ""
        _out.print(
            f"[dim]{entry.at.isoformat(timespec='milliseconds')}[/]  {entry.action}{by}{why}"
        )


def problems(source: str, errors: list[Any], warnings: list[Any]) -> None:
    for problem in errors:
        _out.print(f"[red]error[/]   {problem.path}: {problem.message}", soft_wrap=True)
    warned(warnings)
    verdict = "[green]valid[/]" if not errors else f"[red]invalid[/] ({len(errors)} error(s))"
    _out.print(f"{source}: {verdict}")


def warned(warnings: list[Any]) -> None:
    """Validation warnings (each with its ``path`` and ``message``), one a line."""
    for problem in warnings:
        _out.print(f"[yellow]warning[/] {problem.path}: {problem.message}", soft_wrap=True)


def report(data: RunReport) -> None:
    shown = _ended(data.status, data.outcome)
    _out.print(f"[bold]{data.run_id}[/]  {data.workflow}  {shown}  {data.duration_ms:.1f} ms")
    table = Table("step", "status", "attempts", "branch", "output / error", box=None)
    for key, step in data.steps.items():
        shown = step.error.get("message", "") if step.error else _short(step.output)
        table.add_row(key, _status(step.status), str(step.attempts), step.branch or "",
                      shown)  # fmt: skip
    _out.print(table)
    if data.status == "succeeded":
        _out.print(f"output: {_short(data.output, 400)}")
    for error in data.errors:
        where = f" {error.step}" if error.step else ""  # none: the run's own error
        _out.print(f"[red]error[/]{where}: {_failure(error.type, error.message)}", soft_wrap=True)


def _failure(kind: str | None, message: str | None) -> str:
    """``type: message``, leaving out what an error does not say."""
    return escape(": ".join(part for part in (kind, message) if part) or "(no message)")


def resource(data: Any) -> None:
    _out.print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode(), soft_wrap=True)


def _time(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else ""


def workflows_table(items: list[StoredWorkflow]) -> None:
    table = Table("id", "name", "status", "version", "trigger", "runs", "ok", "failed",
                  "last run", box=None)  # fmt: skip
    for w in items:
        trigger = w.trigger_event
        shown = ", ".join(trigger) if isinstance(trigger, list) else (trigger or "")
        table.add_row(w.id, w.name, w.status, str(w.version), shown, str(w.run_count),
                      str(w.success_count), str(w.failure_count),
                      _time(w.last_run_at))  # fmt: skip
    _out.print(table)
    if not items:
        _out.print("no workflows")


def events_table(items: list[Event]) -> None:
    table = Table("id", "type", "source", "created", "data", box=None)
    for e in items:
        table.add_row(e.id, e.event_type, e.source, _time(e.created_at), _short(e.data))
    _out.print(table)
    if not items:
        _out.print("no events")


def tasks_table(items: list[Task]) -> None:
    table = Table("id", "title", "assignee", "status", "due", "decision", box=None)
    for t in items:
        table.add_row(t.id, t.title, t.assignee, t.status, _time(t.due_at), t.decision or "")
    _out.print(table)
    if not items:
        _out.print("no tasks")


def schedules_table(items: list[dict[str, Any]]) -> None:
    table = Table("id", "workflow", "cron", "timezone", "enabled", "next", box=None)
    for s in items:
        table.add_row(s["$id"], s["workflow"], s["cron"], s["timezone"], str(s["enabled"]),
                      s["nextFireAt"] or "")  # fmt: skip
    _out.print(table)
    if not items:
        _out.print("no schedules")


def secrets_table(items: list[Any]) -> None:
    table = Table("name", "created", "updated", box=None)
    for item in items:
        shown = item.wire()
        table.add_row(item.name, shown["createdAt"], shown["updatedAt"])
    _out.print(table)


def keys_table(items: list[Any]) -> None:
    table = Table("id", "role", "user", "prefix", "created", "revoked", box=None)
    for key in items:
        shown = key.wire()
        table.add_row(key.id, key.role, key.user or "", key.prefix, shown["createdAt"],
                      shown["revokedAt"] or "")  # fmt: skip
    _out.print(table)
