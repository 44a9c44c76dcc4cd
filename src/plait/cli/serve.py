"""``plait serve`` (the REST API with a worker) and ``plait keys create|list|revoke``."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from plait import logfields, logs
from plait.cli import render
from plait.cli.common import (
    EXIT_USAGE,
    CursorOption,
    DbOption,
    JsonOption,
    LimitOption,
    LogFormatOption,
    OrgOption,
    OtelEndpointOption,
    load_engine,
    print_json,
    show_page,
    use_otel_endpoint,
    with_engine,
)
from plait.engine import Engine
from plait.errors import PlaitError
from plait.resources.keys import ROLES
from plait.service.keys import InvalidRole, InvalidUser, check_role, check_user

if TYPE_CHECKING:
    import uvicorn  # imported when serving: other commands do not pay for it

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")


def serve(
    host: Annotated[
        str, typer.Option(envvar="PLAIT_HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PLAIT_PORT", help="Port to listen on.")] = 8080,
    db: DbOption = None,
    app_target: Annotated[
        str | None,
        typer.Option("--app", help="MODULE:ATTR of the Engine to serve (default: a new one)."),
    ] = None,
    log_format: LogFormatOption = "text",
    otel_endpoint: OtelEndpointOption = None,
) -> None:
    """Serve the REST API, the web console (at ``/``), MCP (at ``/mcp``) and a worker until
    SIGTERM or SIGINT, then stop gracefully.

    The access log redacts credentials (query values such as ``?key=``, bearer tokens, API
    keys) and never shows request headers.
    """
    logfields.use(log_format)
    use_otel_endpoint(otel_endpoint)
    if db and app_target:
        os.environ["PLAIT_DATABASE_URL"] = db  # the engine reads it when the module builds it
    engine = load_engine(app_target) if app_target else _engine(db)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a server reports its lifecycle
    logs.install("uvicorn.access", "uvicorn.error", "uvicorn")
    died = _serve(engine, host, port)
    # As for `plait worker`: a synchronous step stuck in a thread must not keep the process alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if died else 0)


def _engine(db: str | None) -> Engine:
    """A new engine on ``db``; a configuration error (an invalid setting, tracing asked for
    without ``plait[otel]``) exits 2 with its message."""
    try:
        return Engine(db)
    except PlaitError as exc:
        render.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc


def _serve(engine: Engine, host: str, port: int) -> bool:
    """Serve until a signal stops the server, or the worker dies; whether it died."""
    import uvicorn

    from plait.api import create_app

    died: list[BaseException] = []
    server: uvicorn.Server | None = None

    def stop_serving(error: BaseException) -> None:
        """The worker died: stop as a SIGTERM would, then exit 1 (a supervisor restarts us)."""
        died.append(error)
        if server is not None:
            server.should_exit = True

    app = create_app(engine, worker=True, on_worker_death=stop_serving)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # the CLI's logging setup
        timeout_graceful_shutdown=int(engine.settings.shutdown_seconds) + 1,
    )
    server = _server(config, before_shutdown=engine.streams.close)
    logging.getLogger("plait.serve").info(
        "the console is at http://%s:%d/ (sign in with an API key: plait keys create)", host, port
    )
    server.run()
    return bool(died)


def _server(
    config: uvicorn.Config, before_shutdown: Callable[[], None] | None = None
) -> uvicorn.Server:
    """A uvicorn server that exits 0 after a graceful stop, as ``plait worker`` does.

    On SIGTERM or SIGINT uvicorn stops accepting, finishes the requests in flight, then runs the
    app's shutdown (the worker stops gracefully, the database closes). Stock uvicorn then raises
    the signal again, so that the process dies of it (exit 143); this one returns instead.
    ``before_shutdown`` runs first: it ends the live streams, which would otherwise keep their
    requests in flight until the graceful timeout.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if before_shutdown is not None:
                before_shutdown()
            await super().shutdown(sockets)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(config)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    org: OrgOption = "default",
    user: Annotated[
        str | None,
        typer.Option(help="Bind the key to this person: tasks it completes are theirs."),
    ] = None,
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Create an API key and print it: it is shown this once and stored only hashed."""
    try:
        check_role(role)
        check_user(user)
    except (InvalidRole, InvalidUser) as exc:
        render.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    new = with_engine(db, lambda e: e.keys.create(org, role, user=user))
    if json:
        print_json(new.wire())
        return
    typer.echo(new.key)
    bound = "" if user is None else f" (acts for {user})"
    typer.echo(f"{role} key {new.id} of {org}{bound}: keep it now, it is not shown again",
               err=True)  # fmt: skip


@keys_app.command("list")
def keys_list(
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the organization's API keys, oldest first (ids and roles, never the keys; a page:
    --json prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.keys.find(org, limit=limit, cursor=cursor))
    show_page(page, json, render.keys_table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the 8 characters after plait_).")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Revoke an API key: requests that send it are refused from now on (--json prints the key,
    with its revokedAt)."""
    revoked = with_engine(db, lambda e: e.keys.revoke(org, key_id))
    if json:
        print_json(revoked.wire())
    else:
        typer.echo(f"revoked key {key_id} of {org}")
