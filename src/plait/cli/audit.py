"""``plait audit list``: the audit trail of an organization, on the database directly.

Changes made from the shell are audited too, as the interface ``cli`` and the actor
``PLAIT_ACTOR`` (default: the OS user).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import (
    CursorOption,
    DbOption,
    JsonOption,
    LimitOption,
    OrgOption,
    show_page,
    with_engine,
)
from plait.resources.audit import AuditEntry

audit_app = typer.Typer(help="The audit trail: who changed what, when, from where.",
                        no_args_is_help=True)  # fmt: skip
# Piped output is not cut to a terminal's width (as plait.cli.render's tables).
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("list")
def audit_list(
    resource: Annotated[
        str | None, typer.Option(help="Only entries of this resource id (a run: all about it).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Only entries by this person, key id or local name.")
    ] = None,
    verb: Annotated[str | None, typer.Option(help="Only this verb (activate, ...).")] = None,
    type: Annotated[
        str | None, typer.Option("--type", help="Only entries about this resource type (key, ...).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="At or after this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (ISO 8601).")] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List audit entries, newest first (--json prints {items, nextCursor}, as the REST API)."""
    page = with_engine(db, lambda e: e.audit.list(
        org, resource=resource, actor=actor, verb=verb, since=since, until=until, limit=limit,
        cursor=cursor, type=type,
    ))  # fmt: skip
    show_page(page, json, _table)


def _table(items: list[AuditEntry]) -> None:
    if not items:
        _out.print("no audit entries")
        return
    table = Table("at", "actor", "via", "verb", "resource", "version", "result", box=None)
    for column in (table.columns[0], table.columns[4]):
        column.no_wrap = True  # a time and an id are read whole
    for e in items:
        shown = e.wire()
        table.add_row(shown["at"], _who(e), e.actor.interface, e.verb,
                      f"{e.resource.type} {e.resource.id}", _versions(e),
                      e.result if e.error is None else f"{e.result} ({e.error})")  # fmt: skip
    _out.print(table)


def _who(e: AuditEntry) -> str:
    if e.actor.key is not None and e.actor.user is not None:
        return f"{e.actor.user} (key {e.actor.key})"
    return e.actor.name if e.actor.key is None else f"key {e.actor.key}"


def _versions(e: AuditEntry) -> str:
    before, after = e.version_before, e.version_after
    if before is None or after is None or before == after:
        shown = after if after is not None else before
        return "" if shown is None else str(shown)
    return f"{before}->{after}"
