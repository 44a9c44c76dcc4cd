"""``plait costs``: what an organization's runs cost by their workflows' pricing, per workflow
and month, on the database directly (as ``GET /~{org}/costs``); amounts are exact decimals."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine

if TYPE_CHECKING:
    from plait.resources.costs import CostSummary

_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)

PeriodOption = Annotated[
    str | None,
    typer.Option("--period", help="YYYY-MM, YYYY-MM..YYYY-MM or YYYY (UTC); default: this month."),
]
WorkflowOption = Annotated[
    str | None, typer.Option("--workflow", help="One workflow's name (default: every workflow).")
]


def register(app: typer.Typer) -> None:
    app.command("costs")(costs)


def costs(
    period: PeriodOption = None,
    workflow: WorkflowOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """What runs cost by their workflows' pricing: each workflow's priced runs and total per
    month and currency, and the totals per currency (docs/costs.md)."""
    found = with_engine(db, lambda e: e.costs.summary(org, period=period, workflow=workflow))
    if json:
        print_json(found.wire())
    else:
        _show(found)


def _show(found: CostSummary) -> None:
    span = found.from_ if found.from_ == found.to else f"{found.from_}..{found.to}"
    if not found.items:
        _out.print(f"No priced runs in {found.organization} in {span}.")
        return
    table = Table("month", "workflow", "runs", "total", "currency",
                  title=f"Costs of {found.organization} in {span}")  # fmt: skip
    for item in found.items:
        table.add_row(item.month, item.workflow, str(item.runs), item.total, item.currency)
    _out.print(table)
    for currency, total in found.totals.items():
        _out.print(f"Total {total} {currency} ({found.runs} runs)")
