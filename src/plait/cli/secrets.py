"""``plait secrets set | list | delete | generate-key | rotate``: an organization's secrets on the
database directly. Values are write-only: no command prints one."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from plait.cli import render
from plait.cli.common import (
    EXIT_USAGE,
    CursorOption,
    DbOption,
    JsonOption,
    LimitOption,
    OrgOption,
    print_json,
    show_page,
    with_engine,
)
from plait.engine import Engine
from plait.resources.base import Deleted

NameArgument = Annotated[str, typer.Argument(help="The secret's name, e.g. STRIPE_KEY.")]

secrets_app = typer.Typer(
    help="Secrets of an organization (write-only; sealed with PLAIT_SECRET_KEY).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")


@secrets_app.command("set")
def secrets_set(
    name: NameArgument,
    value: Annotated[
        str | None,
        typer.Option(help="The value (it stays in your shell history: prefer --from-stdin)."),
    ] = None,
    from_stdin: Annotated[
        bool, typer.Option("--from-stdin", help="Read the value from standard input.")
    ] = False,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Create or replace a secret. Needs PLAIT_SECRET_KEY (see plait secrets generate-key).

    Without --value or --from-stdin the value is asked for, hidden, on a terminal.
    """
    secret = _value(value, from_stdin)
    done = with_engine(db, lambda e: e.secrets.set(org, name, secret))
    if json:
        print_json(done.secret.wire())
    else:
        typer.echo(f"{'created' if done.created else 'replaced'} secret {name} of {org}")


def _value(value: str | None, from_stdin: bool) -> str:
    if value is not None and from_stdin:
        render.error("give --value or --from-stdin, not both")
        raise typer.Exit(EXIT_USAGE)
    if value is not None:
        return value
    if from_stdin:
        text = sys.stdin.read()
        # One trailing line break is the shell's (`echo`, a file's last line), not the value's.
        return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if not sys.stdin.isatty():
        render.error("no value: give --value, --from-stdin, or run on a terminal to be asked")
        raise typer.Exit(EXIT_USAGE)
    entered: str = typer.prompt("value", hide_input=True)
    return entered


@secrets_app.command("list")
def secrets_list(
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the organization's secrets by name: names and timestamps, never values (a page:
    --json prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.secrets.find(org, limit=limit, cursor=cursor))
    show_page(page, json, render.secrets_table)


@secrets_app.command("delete")
def secrets_delete(
    name: NameArgument, org: OrgOption = "default", json: JsonOption = False, db: DbOption = None
) -> None:
    """Delete a secret: steps that read it afterwards fail, naming it."""
    with_engine(db, lambda e: e.secrets.delete(org, name))
    if json:
        print_json(Deleted(id=name, type="Secret").wire())
    else:
        typer.echo(f"deleted secret {name} of {org}")


@secrets_app.command("generate-key")
def secrets_generate_key(json: JsonOption = False) -> None:
    """Print a new random key for PLAIT_SECRET_KEY (keep it as you keep a password)."""
    from plait.sealing import generate_key

    key = generate_key()
    if json:
        print_json({"key": key})
    else:
        typer.echo(key)


@secrets_app.command("rotate")
def secrets_rotate(json: JsonOption = False, db: DbOption = None) -> None:
    """Re-seal every stored secret (of every organization) and webhook signing secret under
    the first key of PLAIT_SECRET_KEY.

    To rotate: set PLAIT_SECRET_KEY=NEW,OLD, run this, then set PLAIT_SECRET_KEY=NEW.
    """
    counts = with_engine(db, lambda e: e.secrets.rotate())
    if json:
        print_json(counts.wire())
        return
    typer.echo(f"re-sealed {counts.secrets} secret(s) and {counts.webhook_secrets} webhook "
               "signing secret(s) under the first key")  # fmt: skip


# -- secrets of `plait test` (a throwaway database) -----------------------------------------------

SecretOption = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        help="NAME=VALUE: a secret the definition reads (secrets.NAME), stored in the "
        "throwaway database (sealed with PLAIT_SECRET_KEY, or a throwaway key).",
    ),
]


def dry_run_secrets(specs: list[str] | None) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; a malformed one exits 2."""
    found: dict[str, str] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if not sep or not name:
            render.error("--secret expects NAME=VALUE")
            raise typer.Exit(EXIT_USAGE)
        found[name] = value
    return found


async def store_dry_run_secrets(engine: Engine, secrets: dict[str, str]) -> None:
    """Store ``secrets`` in the organization ``default`` of a throwaway database."""
    if not secrets:
        return
    from plait.sealing import SECRET_KEY_ENV, generate_key

    # Set for this process only: the database, and so what the key sealed, is thrown away.
    os.environ.setdefault(SECRET_KEY_ENV, generate_key())
    for name, value in secrets.items():
        await engine.secrets.set("default", name, value)
