"""``plait circuits list | reset``: an organization's circuit breakers on the database
directly (docs/flow-control.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine
from plait.resources.circuits import Circuit

NameArgument = Annotated[str, typer.Argument(help="The circuit's name (its action's, or given).")]

circuits_app = typer.Typer(
    help="Circuit breakers of an organization: their state, and a manual reset.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(circuits_app, name="circuits")


@circuits_app.command("list")
def circuits_list(
    org: OrgOption = "default", json: JsonOption = False, db: DbOption = None
) -> None:
    """Every circuit of the organization: its state, failures, and when an open one
    half-opens."""
    found = with_engine(db, lambda e: e.circuits.list(org))
    if json:
        print_json(found.wire())
        return
    _table(found.items)


@circuits_app.command("reset")
def circuits_reset(
    name: NameArgument, org: OrgOption = "default", json: JsonOption = False, db: DbOption = None
) -> None:
    """Close a circuit now (its failures forgotten): the next calls go through."""
    circuit = with_engine(db, lambda e: e.circuits.reset(org, name))
    if json:
        print_json(circuit.wire())
    else:
        typer.echo(f"circuit {name} of {org} is {circuit.state}")


def _table(items: list[Circuit]) -> None:
    console = Console()
    if not items:
        console.print("no circuits")
        return
    table = Table("name", "state", "failures", "opens", "half-open at", "last error", box=None)
    for item in items:
        shown = item.wire()
        table.add_row(item.name, item.state, str(item.failures), str(item.opens),
                      shown["halfOpenAt"] or "", (item.last_error or "")[:60])  # fmt: skip
    console.print(table)
