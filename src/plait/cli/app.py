"""``plait``: operate workers and inspect runs from a shell.

Every command takes ``--db URL`` (environment twin ``PLAIT_DATABASE_URL``). Commands parse their
arguments, call the engine, and render; no rule of the runtime lives here.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from plait import __version__
from plait.cli import definitions, render, serve, service
from plait.cli.common import DbOption, JsonOption, load_engine, print_json, run_coroutine
from plait.engine import Engine
from plait.runs import RunInfo

T = TypeVar("T")

app = typer.Typer(
    name="plait",
    help="plait: durable workflows. Operate workers and inspect runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs_app = typer.Typer(help="Inspect and control runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
definitions.register(app)
service.register(app)
serve.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"plait {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug output.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def _with_engine(db: str | None, use: Callable[[Engine], Coroutine[Any, Any, T]]) -> T:
    engine = Engine(db)
    try:
        return await use(engine)
    finally:
        await engine.close()


@app.command()
def worker(
    target: Annotated[str, typer.Argument(help="MODULE:ATTR of the Engine, e.g. app.flows:engine")],
    db: DbOption = None,
) -> None:
    """Run the worker of the Engine at MODULE:ATTR until SIGTERM or SIGINT."""
    if db:
        os.environ["PLAIT_DATABASE_URL"] = db  # the engine reads it when the module builds it
    engine = load_engine(target)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a worker reports its lifecycle
    run_coroutine(engine.run_worker)
    # Runs still executing were released to other workers; a synchronous step stuck in a thread
    # must not keep this process alive (the interpreter would join the thread at exit).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command()
def migrate(json: JsonOption = False, db: DbOption = None) -> None:
    """Create or upgrade the database schema (idempotent) and print its version."""

    async def run() -> int:
        engine = Engine(db)
        try:
            return await (await engine.opened_store()).schema_version()
        finally:
            await engine.close()

    version = run_coroutine(run)
    if json:
        print_json({"schemaVersion": version})
    else:
        typer.echo(f"schema version {version}")


@runs_app.command("list")
def runs_list(
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 100,
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List runs, newest first."""
    found = run_coroutine(lambda: _with_engine(db, lambda e: e.list_runs(workflow, status, limit)))
    if json:
        print_json([r.to_dict() for r in found])
    else:
        render.runs_table(found)


@runs_app.command("get")
def runs_get(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one run with its steps."""
    _show(run_coroutine(lambda: _with_engine(db, lambda e: e.get_run(run_id))), json)


@runs_app.command("cancel")
def runs_cancel(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Cancel a run: it ends cancelled and runs no further step."""
    _show(run_coroutine(lambda: _with_engine(db, lambda e: e.cancel(run_id))), json)


def _show(info: RunInfo, json: bool) -> None:
    if json:
        print_json(info.to_dict())
    else:
        render.run_detail(info)


def main() -> None:
    app()
