"""``plait cache list|clear``: the step-result cache of an organization, on the database
directly (as ``GET`` and ``DELETE /~{org}/cache``). See docs/flow-control.md."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, print_json, with_engine
from plait.engine import Engine
from plait.resources.step_cache import CacheCleared, CacheEntries, CacheEntry

cache_app = typer.Typer(help="The step-result cache: list live entries, clear them.",
                        no_args_is_help=True)  # fmt: skip
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)

WorkflowOption = Annotated[
    str | None, typer.Option(help="Entries stored by this workflow's runs (name or stored id).")
]
NamespaceOption = Annotated[str | None, typer.Option(help="Entries of this namespace.")]


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("list")
def cache_list(
    workflow: WorkflowOption = None,
    namespace: NamespaceOption = None,
    limit: Annotated[int, typer.Option(help="At most this many entries (1-1000).")] = 100,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List live cache entries, newest first (--json prints {items}, as the REST API)."""

    async def go(engine: Engine) -> list[CacheEntry]:
        name = None if workflow is None else await engine.step_cache.workflow_name(org, workflow)
        return await engine.step_cache.entries(org, workflow=name, namespace=namespace,
                                               limit=limit)  # fmt: skip

    found = with_engine(db, go)
    if json:
        print_json(CacheEntries(items=found).wire())
    else:
        _table(found)


@cache_app.command("clear")
def cache_clear(
    workflow: WorkflowOption = None,
    namespace: NamespaceOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Delete a workflow's (--workflow) or a namespace's (--namespace) cache entries: their
    steps run again on their next call."""
    if workflow is None and namespace is None:
        typer.echo("name --workflow or --namespace (the cache to clear)", err=True)
        raise typer.Exit(2)

    async def go(engine: Engine) -> int:
        name = None if workflow is None else await engine.step_cache.workflow_name(org, workflow)
        return await engine.step_cache.clear(org, workflow=name, namespace=namespace)

    deleted = with_engine(db, go)
    if json:
        print_json(CacheCleared(deleted=deleted).wire())
    else:
        _out.print(f"cleared {deleted} cache entr{'y' if deleted == 1 else 'ies'}")


def _table(items: list[CacheEntry]) -> None:
    if not items:
        _out.print("no cache entries")
        return
    table = Table("scope", "key", "hits", "stored", "expires", "run", box=None)
    for e in items:
        table.add_row(e.scope, e.key, str(e.hits), e.created_at.isoformat(timespec="seconds"),
                      e.expires_at.isoformat(timespec="seconds"), e.run_id)  # fmt: skip
    _out.print(table)
