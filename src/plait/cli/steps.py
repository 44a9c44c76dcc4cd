"""``plait runs steps RUN_ID``: a run's steps a window at a time, with their outputs and errors
(as ``GET /~{org}/runs/{id}/steps``), for runs with too many steps for ``plait runs get``."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine
from plait.resources.steps import StepPage
from plait.service.steps import LAST_POSITION, WINDOW

_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def register(runs_app: typer.Typer) -> None:
    runs_app.command("steps")(runs_steps)


def runs_steps(
    run_id: Annotated[str, typer.Argument(help="The run.")],
    start: Annotated[int, typer.Option(
        min=0, max=LAST_POSITION,
        help="The position to start from (0: the first step); the nextStart a window shows.",
    )] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Steps in the window.")] = WINDOW,
    org: OrgOption = "default", json: JsonOption = False, db: DbOption = None,
) -> None:  # fmt: skip
    """Show a window of a run's steps in call order, with their outputs and errors (as
    GET /~{org}/runs/{id}/steps)."""
    window = with_engine(db, lambda e: e.steps.window(org, run_id, start=start, limit=limit))
    if json:
        print_json(window.wire())
        return
    _table(window)


def _table(window: StepPage) -> None:
    table = Table("#", "step", "kind", "status", "attempts", "output or error", box=None)
    for step in window.items:
        value = step.error if step.error is not None else step.output
        shown = orjson.dumps(value, default=str).decode()
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        status = f"{step.status} (cached)" if step.cached else step.status
        table.add_row(str(step.position + 1), escape(step.key), step.kind, status,
                      str(step.attempts), escape(shown))  # fmt: skip
    _out.print(table)
    last = window.start + len(window.items)
    more = f"; next: --start {window.next_start}" if window.next_start is not None else ""
    _out.print(f"steps {window.start + 1 if window.items else 0}-{last} of {window.total}{more}")
