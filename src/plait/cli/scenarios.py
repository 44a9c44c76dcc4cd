"""``plait test [FILE] --scenarios S``: run a workflow's scenarios, print a table and the
summary (the brief's success criteria), optionally write JUnit XML; exit 0 only if all pass."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from plait.cli import render
from plait.cli.common import EXIT_FAILED, EXIT_USAGE, load_engine, print_json

if TYPE_CHECKING:
    from plait.resources.scenario_reports import ScenarioReport

_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def test_scenarios(
    file: Path | None, scenarios: Path, *, app_target: str | None, junit: Path | None,
    json: bool, timeout: float,
) -> None:  # fmt: skip
    """Run the scenarios of ``scenarios`` against ``file`` (or the workflow they name)."""
    from plait.definitions.validate import InvalidDefinition
    from plait.resources.scenarios import InvalidScenarios
    from plait.scenarios import load_scenario_file, run_scenarios

    try:
        document, parsed, _ = load_scenario_file(scenarios, file)
    except (InvalidScenarios, InvalidDefinition) as exc:
        render.problems(str(scenarios), exc.problems, [])
        raise typer.Exit(EXIT_USAGE) from exc
    real = load_engine(app_target).catalog.actions if app_target else None
    report = asyncio.run(run_scenarios(document, parsed, real=real, timeout=timeout))
    if junit is not None:
        from plait.scenarios.junit import junit_xml

        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml([report]), encoding="utf-8")
    if json:
        print_json(report.wire())
    else:
        scenario_table(report)
    raise typer.Exit(0 if report.passed else EXIT_FAILED)


def scenario_table(report: ScenarioReport) -> None:
    """Each scenario's result, its durations and failed expectations; then the summary. Every
    text of the user's (names, paths, messages with their values) is printed as written, never
    read as markup."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"scenarios of {escape(report.workflow)}")
    for column in ("scenario", "result", "run", "virtual", "wall", "failed expectations"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        result = "[green]passed[/]" if r.passed else "[red]FAILED[/]"
        ended = escape(r.state or r.outcome or r.status or "-")
        failures = "\n".join(escape(f"{f.path}: {f.message}") for f in r.failures)
        table.add_row(escape(r.name), result, ended, _seconds(r.virtual_seconds),
                      f"{r.wall_ms:.0f} ms", failures)  # fmt: skip
    _out.print(table)
    _summary(report)


def _summary(report: ScenarioReport) -> None:
    from rich.markup import escape

    s = report.summary
    colour = "green" if report.passed else "red"
    _out.print(f"[{colour}]{s.passed} of {s.total} scenarios passed[/] (pass rate "
                     f"{s.pass_rate:.0%}); {s.wall_ms / 1000:.2f} s of real time")  # fmt: skip
    if s.step_errors:
        errors = ", ".join(f"{step}: failed in {e.scenarios} scenario(s), {e.attempts} failed "
                           f"attempt(s)" for step, e in s.step_errors.items())  # fmt: skip
        _out.print(f"error frequency per step: {escape(errors)}")
    else:
        _out.print("error frequency per step: no step failed")


def _seconds(value: Any) -> str:
    seconds = float(value)
    if seconds >= 86_400:
        return f"{seconds / 86_400:g} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:g} h"
    return f"{seconds:g} s"
