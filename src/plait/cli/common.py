"""What every CLI command shares: options, loading an app's engine, running, printing."""

from __future__ import annotations

import asyncio
import importlib
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
import typer

from plait import text
from plait.cli import render
from plait.engine import Engine
from plait.errors import InvalidQuery, NotFound, PlaitError
from plait.resources.base import Page
from plait.service.audit import Actor, acting

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="PLAIT_DATABASE_URL",
        help="Database URL, e.g. sqlite:///./plait.db [env: PLAIT_DATABASE_URL]",
        show_envvar=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LogFormatOption = Annotated[
    Literal["text", "json"],
    typer.Option(
        "--log-format",
        envvar="PLAIT_LOG_FORMAT",
        help="Log lines as text, or one JSON object each with the run and step they concern.",
    ),
]
OtelEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--otel-endpoint",
        help="Send OpenTelemetry traces to this OTLP/HTTP collector, e.g. "
        "http://127.0.0.1:4318 (needs plait[otel]) [env: PLAIT_OTEL_ENDPOINT].",
    ),
]


def use_otel_endpoint(endpoint: str | None) -> None:
    """Make ``--otel-endpoint`` the engine's ``otel_endpoint`` (read when the engine is made,
    also by an engine an application module builds)."""
    if endpoint:
        os.environ["PLAIT_OTEL_ENDPOINT"] = endpoint


# Exit codes: 1 a run or definition failed, 2 usage (an invalid query too: a bad --status,
# --limit or --cursor), 3 not found, 4 other plait errors.
EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_ERROR = 1, 2, 3, 4


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, mapping plait errors to a message on stderr and an exit code. The
    changes it makes are audited as the shell's (:func:`cli_actor`)."""
    try:
        with acting(cli_actor()):
            return asyncio.run(make())
    except PlaitError as exc:
        render.error(str(exc))
        raise typer.Exit(exit_code(exc)) from exc


def exit_code(error: PlaitError) -> int:
    """The exit code of a command that failed with ``error``."""
    if isinstance(error, InvalidQuery):
        return EXIT_USAGE
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    return EXIT_ERROR


def current_user() -> str:
    """Who runs the command, as operations and completed tasks record it: the login name, or
    ``uid:N`` where there is none (a container's bare user id)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def cli_actor() -> Actor:
    """Who acts from the shell, as the audit trail records it: ``PLAIT_ACTOR``, else the OS
    user (:func:`current_user`), on this host (its ``address``)."""
    name = os.environ.get("PLAIT_ACTOR", "").strip() or current_user()
    return Actor(name, "cli", address=socket.gethostname() or None)


OrgOption = Annotated[
    str, typer.Option("--org", envvar="PLAIT_ORG", help="Organization [env: PLAIT_ORG]")
]


LimitOption = Annotated[int, typer.Option(help="At most this many (1 to 1000).")]
IdempotencyOption = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="Do it once per key: a repeat with the same key prints what the first did (a run "
        "as it is now) and does nothing again; the same key with other arguments is refused.",
    ),
]
CursorOption = Annotated[
    str | None, typer.Option(help="Continue after a page: its nextCursor (see --json).")
]


def show_page(page: Page[Any], json: bool, table: Callable[[list[Any]], None]) -> None:
    """A page of resources: ``--json`` prints its wire document (what the REST listing answers,
    ``{items, nextCursor}``); people get ``table`` of the items and how to get the next page."""
    if json:
        print_json(page.wire())
        return
    table(page.items)
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}")


def with_engine(db: str | None, use: Callable[[Engine], Awaitable[T]]) -> T:
    """``use`` an engine of the database ``db`` (closed afterwards), errors mapped as by
    :func:`run_coroutine`."""

    async def go() -> T:
        engine = Engine(db)
        try:
            return await use(engine)
        finally:
            await engine.close()

    return run_coroutine(go)


def load_engine(target: str) -> Engine:
    """The ``Engine`` at ``MODULE:ATTR`` (the current directory is importable)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        render.error(f"expected MODULE:ATTR, got {target!r}")
        raise typer.Exit(EXIT_USAGE)
    sys.path.insert(0, os.getcwd())
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, PlaitError) as exc:
        render.error(f"cannot load {target!r}: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    if not isinstance(found, Engine):
        render.error(f"{target!r} is a {type(found).__name__}, not a plait Engine")
        raise typer.Exit(EXIT_USAGE)
    return found


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def json_argument(raw: str | None, what: str) -> Any:
    """A JSON option value, given inline or as ``@file``; None stays None; bad JSON, or text
    plait does not store (NUL, lone surrogates: see ``plait.text``), exits 2."""
    if raw is None:
        return None
    content = raw
    if raw.startswith("@"):
        try:
            content = Path(raw[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            render.error(f"{what}: cannot read {raw[1:]!r}: {reason}")
            raise typer.Exit(EXIT_USAGE) from exc
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        render.error(f"{what}: not valid JSON: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    found = text.find(value)
    if found is not None:
        path, reason = found
        render.error(f"{what}: the text at {path} {reason}; plait does not store NUL or lone "
                     "surrogates")  # fmt: skip
        raise typer.Exit(EXIT_USAGE)
    return value


def check_command_line(argv: list[str]) -> None:
    """Exit 2 on an argument that is not text plait stores: a byte that is not UTF-8 (Python
    reads it as a lone surrogate), which no backend could store or look up."""
    for number, argument in enumerate(argv, 1):
        reason = text.flaw(argument)
        if reason is not None:
            shown = os.fsencode(argument)
            render.error(f"argument {number} ({shown!r}) is not UTF-8 text: it {reason}")
            sys.exit(EXIT_USAGE)  # before the app runs: no click context to exit through
