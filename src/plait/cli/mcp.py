"""``plait mcp``: the MCP server on stdin/stdout, for an agent that starts it (docs/mcp.md)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from plait.cli import render
from plait.cli.common import EXIT_USAGE, DbOption, OrgOption, current_user
from plait.engine import Engine
from plait.errors import PlaitError

KEY_VARIABLE = "PLAIT_API_KEY"


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp)


def mcp(
    db: DbOption = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Offer only the tools that change nothing.")
    ] = False,
    local_admin: Annotated[
        bool,
        typer.Option(
            "--local-admin",
            help="Without PLAIT_API_KEY: act as an admin of --org, on a local SQLite file only "
            "(audited as the OS user).",
        ),
    ] = False,
    org: OrgOption = "default",
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Execute runs in this process too, as plait serve does (--no-worker when a "
            "plait serve or plait worker already runs them on this database).",
        ),
    ] = True,
) -> None:
    """Serve MCP on stdin/stdout for an agent: query, act on, author and diagnose workflows.

    The agent acts with the API key in PLAIT_API_KEY (its organization and role govern every
    tool); without one the server refuses to start, unless --local-admin is given on a local
    SQLite database.
    """
    secret = os.environ.get(KEY_VARIABLE, "").strip() or None
    try:
        engine = Engine(db)
    except PlaitError as exc:
        render.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    from plait.mcp.stdio import local_database, serve  # not the SDK: it loads once the key is good

    if secret is None and not local_admin:
        render.error(f"plait mcp needs an API key in {KEY_VARIABLE} (plait keys create --org "
                     f"ORG --role ROLE), or --local-admin on a local SQLite database")  # fmt: skip
        raise typer.Exit(EXIT_USAGE)
    if secret is not None and local_admin:
        render.error(f"give either {KEY_VARIABLE} or --local-admin, not both")
        raise typer.Exit(EXIT_USAGE)
    if local_admin and not local_database(engine):
        scheme = engine.settings.database_url.split(":")[0]
        render.error(f"--local-admin serves a local SQLite database only; give an API key in "
                     f"{KEY_VARIABLE} for {scheme}")  # fmt: skip
        raise typer.Exit(EXIT_USAGE)
    admin = current_user() if local_admin else None
    try:
        asyncio.run(serve(engine, secret=secret, local_admin=admin, org=org,
                          read_only=read_only, worker=worker))  # fmt: skip
    except PlaitError as exc:
        render.error(str(exc))
        sys.stderr.flush()
        os._exit(EXIT_USAGE)
    # As for `plait serve`: a synchronous step stuck in a thread must not keep the process alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
