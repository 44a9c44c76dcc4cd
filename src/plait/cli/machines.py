"""``plait instances list | get | send``: the instances of a state machine, on the database
directly.

``send`` delivers an event to one instance by key (creating it if the event can), as ``POST
/~{org}/workflows/{workflow}/instances/{key}/events`` does; a worker (``plait worker``, ``plait
serve``) takes the event. It is how a machine without a ``correlation`` gets its events.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli import render
from plait.cli.common import (
    CursorOption,
    DbOption,
    JsonOption,
    LimitOption,
    OrgOption,
    json_argument,
    print_json,
    show_page,
    with_engine,
)
from plait.resources.machines import MachineInstance

instances_app = typer.Typer(
    help="State-machine instances: list, read, and send an event to one by key.",
    no_args_is_help=True,
)
_out = Console(highlight=False)

Workflow = Annotated[str, typer.Argument(help="The state machine's name or id.")]
Key = Annotated[str, typer.Argument(help="The instance's key.")]


def register(app: typer.Typer) -> None:
    app.add_typer(instances_app, name="instances")


@instances_app.command("list")
def instances_list(
    workflow: Workflow,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List a machine's instances, oldest first (--json prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.machines.find(org, workflow, limit=limit, cursor=cursor))
    show_page(page, json, _table)


@instances_app.command("get")
def instances_get(
    workflow: Workflow,
    key: Key,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one instance: its state, attempt, context, history, rejected events and outcome."""
    found = with_engine(db, lambda e: e.machines.get(org, workflow, key))
    print_json(found.wire()) if json else render.resource(found.wire())


@instances_app.command("send")
def instances_send(
    workflow: Workflow,
    key: Key,
    event_type: Annotated[str, typer.Argument(help="An event type or event name.")],
    data: Annotated[str | None, typer.Option(help="The event's data as JSON (or @file).")] = None,
    event_id: Annotated[
        str | None, typer.Option("--id", help="The event's id: an id reaches an instance once.")
    ] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Send an event to the instance KEY (created if the event can create it)."""
    payload = json_argument(data, "--data")
    sent = with_engine(db, lambda e: e.machines.send(org, workflow, key, event_type, payload,
                                                     id=event_id))  # fmt: skip
    if json:
        print_json(sent.wire())
        return
    _out.print(f"{sent.outcome}: event {sent.event.id} ({event_type}) to instance {key} "
               f"(run {sent.run_id})", soft_wrap=True)  # fmt: skip


def _table(items: list[MachineInstance]) -> None:
    table = Table("key", "run", "status", "outcome", "events", "created", box=None)
    for i in items:
        table.add_row(i.key, i.run_id, i.status, i.outcome or "", str(i.received),
                      i.created_at.isoformat(timespec="seconds"))  # fmt: skip
    _out.print(table)
    if not items:
        _out.print("no instances")
