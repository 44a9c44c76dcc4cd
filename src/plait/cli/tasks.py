"""``plait tasks list | get | complete``: human tasks on the database directly.

Completing a task here wakes its run; a worker (``plait worker``, ``plait serve``) resumes it.
The completer is ``--by`` (default: the OS user). The shell has database access, so it may act
for anyone: ``--as-admin`` completes a task assigned to someone else.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import (
    DbOption,
    JsonOption,
    json_argument,
    print_json,
    with_engine,
)
from plait.cli.render import resource
from plait.engine import Engine

tasks_app = typer.Typer(help="Human tasks: inboxes, and completing a task.", no_args_is_help=True)
OrgOption = Annotated[
    str, typer.Option("--org", envvar="PLAIT_ORG", help="Organization [env: PLAIT_ORG]")
]
_out = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def tasks_list(
    assignee: Annotated[str | None, typer.Option(help="Only tasks of this person.")] = None,
    status: Annotated[
        str | None, typer.Option(help="open, completed, expired or cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List tasks, newest first (an inbox: --assignee NAME --status open)."""
    found = with_engine(
        db, lambda e: e.tasks.find(org, assignee=assignee, status=status, limit=limit)
    )
    if json:
        print_json(found)
        return
    table = Table("id", "title", "assignee", "status", "due", "decision", box=None)
    for t in found:
        table.add_row(t["$id"], t["title"], t["assignee"], t["status"], t["dueAt"] or "",
                      t["decision"] or "")  # fmt: skip
    _out.print(table)
    if not found:
        _out.print("no tasks")


@tasks_app.command("get")
def tasks_get(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one task."""
    found = with_engine(db, lambda e: e.tasks.get(org, task_id))
    print_json(found) if json else resource(found)


@tasks_app.command("complete")
def tasks_complete(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    decision: Annotated[str | None, typer.Option(help="One of the task's choices.")] = None,
    comment: Annotated[str | None, typer.Option(help="A comment kept with the decision.")] = None,
    data: Annotated[
        str | None, typer.Option(help="The answer's data as JSON (or @file), for a form.")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who completes it (default: the OS user).")] = None,
    as_admin: Annotated[
        bool, typer.Option("--as-admin", help="Complete a task assigned to someone else.")
    ] = False,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Complete a task (validated against its choices or form) and resume its run."""
    answer = json_argument(data, "--data")
    who = by or getpass.getuser()

    def complete(engine: Engine) -> Any:
        return engine.tasks.complete(org, task_id, decision=decision, comment=comment,
                                     data=answer, by=who, as_admin=as_admin)  # fmt: skip

    done = with_engine(db, complete)
    if json:
        print_json(done)
    else:
        _out.print(f"{done['$id']} completed by {done['completedBy']}: {done['decision']}")
