"""``plait tasks list | get | complete``: human tasks on the database directly.

Completing a task here wakes its run; a worker (``plait worker``, ``plait serve``) resumes it.
The completer is ``--by`` (default: the OS user). The shell has database access, so it may act
for anyone: ``--as-admin`` completes a task assigned to someone else.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

import typer
from rich.console import Console

from plait.cli import render
from plait.cli.common import (
    CursorOption,
    DbOption,
    JsonOption,
    LimitOption,
    OrgOption,
    current_user,
    json_argument,
    print_json,
    show_page,
    with_engine,
)
from plait.engine import Engine
from plait.resources.tasks import Task

tasks_app = typer.Typer(help="Human tasks: inboxes, and completing a task.", no_args_is_help=True)
_out = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def tasks_list(
    assignee: Annotated[str | None, typer.Option(help="Only tasks of this person.")] = None,
    status: Annotated[
        str | None, typer.Option(help="open, completed, expired or cancelled.")
    ] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List tasks, newest first (an inbox: --assignee NAME --status open; a page: --json
    prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.tasks.find(org, assignee=assignee, status=status,
                                                  limit=limit, cursor=cursor))  # fmt: skip
    show_page(page, json, render.tasks_table)


@tasks_app.command("get")
def tasks_get(
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one task."""
    found = with_engine(db, lambda e: e.tasks.get(org, task_id))
    print_json(found.wire()) if json else render.resource(found.wire())


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
    who = by or current_user()

    def complete(engine: Engine) -> Awaitable[Task]:
        return engine.tasks.complete(org, task_id, decision=decision, comment=comment,
                                     data=answer, by=who, as_admin=as_admin)  # fmt: skip

    done = with_engine(db, complete)
    if json:
        print_json(done.wire())
    else:
        _out.print(f"{done.id} completed by {done.completed_by}: {done.decision}")
