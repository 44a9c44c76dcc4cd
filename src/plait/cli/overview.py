"""``plait overview``: how every workflow of an organization is doing now, on the database
directly (as ``GET /~{org}/overview`` and the console's first page): the runs that ended in the
last hour and day, success rates, the day's p95 duration, the runs failing, waiting, pending and
running, and the open and overdue tasks."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine

if TYPE_CHECKING:
    from plait.resources.overview import Ended, Overview

_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def register(app: typer.Typer) -> None:
    app.command("overview")(overview)


def overview(org: OrgOption = "default", json: JsonOption = False, db: DbOption = None) -> None:
    """How every workflow is doing: runs that ended in the last hour and day, success rates,
    p95 duration (day), runs failing (last hour), waiting, pending and running now, open and
    overdue tasks."""
    found = with_engine(db, lambda e: e.overview.get(org))
    if json:
        print_json(found.wire())
    else:
        _show(found)


def _show(found: Overview) -> None:
    if not found.workflows:
        _out.print(f"No workflows in {found.organization} yet: create one with "
                   "plait workflows create FILE.")  # fmt: skip
        return
    table = Table("workflow", "last hour", "success", "last day", "success", "p95 (day)",
                  "failing", "waiting", "pending", "running", "tasks open", "overdue",
                  title=f"{found.organization} at {found.at:%Y-%m-%d %H:%M:%S} UTC")  # fmt: skip
    for w in found.workflows:
        p95 = "-" if w.p95_seconds is None else f"{w.p95_seconds:.3g} s"
        table.add_row(w.workflow, str(w.hour.ended), _rate(w.hour), str(w.day.ended),
                      _rate(w.day), p95, str(w.failing), str(w.now.waiting),
                      str(w.now.pending), str(w.now.running), str(w.tasks.open),
                      str(w.tasks.overdue))  # fmt: skip
    _out.print(table)


def _rate(window: Ended) -> str:
    return "-" if window.success_rate is None else f"{window.success_rate:.0%}"
