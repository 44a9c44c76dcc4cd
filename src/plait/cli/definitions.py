"""``plait validate | schema | run | test``: declarative definitions from the shell."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plait.cli import render
from plait.cli.common import (
    DbOption,
    JsonOption,
    json_argument,
    load_engine,
    print_json,
    run_coroutine,
)
from plait.cli.secrets import SecretOption, dry_run_secrets, store_dry_run_secrets
from plait.engine import Engine
from plait.errors import PlaitError

if TYPE_CHECKING:
    from plait.definitions.model import Definition
    from plait.definitions.validate import Problem
    from plait.resources.reports import RunReport

AppOption = Annotated[
    str | None,
    typer.Option("--app", help="MODULE:ATTR of an Engine whose registered actions to use."),
]
InputOption = Annotated[
    str | None, typer.Option("--input", help="The run's input: JSON, or @file with JSON.")
]
AcceptPartialOption = Annotated[
    bool,
    typer.Option(
        "--accept-partial",
        help="Exit 0 for a partial run too (it carried on past failed steps).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
    app.command("run")(run_definition)
    app.command("test")(dry_run)


def validate(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML definition.", exists=True)],
    app_target: AppOption = None,
    json: JsonOption = False,
) -> None:
    """Check a definition; list every problem with its path. Exit 0 if valid, 1 if not.

    The limits are the engine's (``--app``) or the environment's (``PLAIT_MAX_STEPS``, ...).
    """
    from plait.definitions.load import check_definition
    from plait.settings import Settings

    known = None
    settings = None
    if app_target:
        engine = load_engine(app_target)
        known = engine.catalog.prepare_actions().known
        settings = engine.settings
    result = check_definition(file, actions=known, settings=settings or Settings.load())
    result.errors.extend(_tests_problems(file, result.limit is None, result.definition))
    if json:
        print_json({
            "valid": result.valid,
            "errors": [{"path": p.path, "message": p.message} for p in result.errors],
            "warnings": [{"path": p.path, "message": p.message} for p in result.warnings],
        })  # fmt: skip
    else:
        render.problems(str(file), result.errors, result.warnings)
    raise typer.Exit(0 if result.valid else 1)


def _tests_problems(file: Path, readable: bool, definition: Definition | None) -> list[Problem]:
    """The problems of the scenarios a definition file keeps in ``tests`` (what the service
    checks when it is saved)."""
    from plait.definitions.load import parse_document
    from plait.service.workflow_tests import tests_problems

    if not readable:
        return []
    try:
        document = parse_document(file.read_text(encoding="utf-8"), file.name)
    except (PlaitError, ValueError, UnicodeDecodeError):
        return []  # check_definition has reported why it cannot be read
    return tests_problems(document, definition) if isinstance(document, dict) else []


def schema() -> None:
    """Print the JSON Schema of the canonical definition model."""
    from plait.definitions.model import json_schema

    print_json(json_schema())


def run_definition(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML definition.", exists=True)],
    input_: InputOption = None,
    app_target: AppOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    accept_partial: AcceptPartialOption = False,
) -> None:
    """Run a definition once on the database and print its report. Exit 0 only if its outcome
    is ``succeeded`` (or ``partial``, with ``--accept-partial``), else 1."""
    if db:
        os.environ["PLAIT_DATABASE_URL"] = db
    engine = load_engine(app_target) if app_target else Engine()
    report = run_coroutine(lambda: _execute(engine, file, json_argument(input_, "--input")))
    _print_report(report, json, accept_partial)


def dry_run(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A JSON or YAML definition (with --scenarios: optional when the "
            "scenario file names its workflow).",
            exists=True,
        ),
    ] = None,
    input_: InputOption = None,
    mock: Annotated[
        list[str] | None,
        typer.Option(help='ACTION=JSON or ACTION=@file; {"$error": "msg"} makes it fail.'),
    ] = None,
    secret: SecretOption = None,
    app_target: AppOption = None,
    json: JsonOption = False,
    accept_partial: AcceptPartialOption = False,
    scenarios: Annotated[
        Path | None,
        typer.Option(
            help="A YAML or JSON file of scenarios (docs/testing.md): run each in "
            "its own throwaway database; exit 0 only if all pass.",
            exists=True,
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="With --scenarios: write a JUnit XML report here.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="With --scenarios: real seconds one scenario may take.")
    ] = 60.0,
) -> None:
    """Run a definition in a throwaway database with mocked actions and virtual time. Exit 0
    only if its outcome is ``succeeded`` (or ``partial``, with ``--accept-partial``), else 1.

    With --scenarios, run the scenarios of a file instead, each in its own throwaway database:
    a table (or --json, the report), the pass rate and each step's error frequency, and exit 0
    only if every scenario passed."""
    if scenarios is not None:
        from plait.cli.scenarios import test_scenarios

        test_scenarios(file, scenarios, app_target=app_target, junit=junit, json=json,
                       timeout=timeout)  # fmt: skip
    if file is None:
        render.error("give a definition FILE (or --scenarios FILE)")
        raise typer.Exit(2)
    from plait.testing import VirtualClock

    secrets = dry_run_secrets(secret)
    clock = VirtualClock()
    with tempfile.TemporaryDirectory(prefix="plait-test-") as scratch:
        # Long polls and leases: with a single in-process worker, nothing needs them, and the
        # virtual clock then jumps straight to the next real wait (a sleep, a retry, a timeout).
        settings: dict[str, Any] = {
            "database_url": f"sqlite:///{scratch}/test.db",
            "poll_seconds": 10**6, "lease_seconds": 10**7, "heartbeat_seconds": 10**6,
        }  # fmt: skip
        if app_target:
            engine = load_engine(app_target).reconfigured(clock=clock, **settings)
        else:
            engine = Engine(clock=clock, **settings)
        actions = engine.catalog.prepare_actions()
        for spec in mock or []:
            name, value = _mock(spec)
            actions.register(name, _mocked(name, value), replace=True)
        work = _execute(engine, file, json_argument(input_, "--input"), secrets)
        report = run_coroutine(lambda: clock.run_skipping(work))
    _print_report(report, json, accept_partial)


async def _execute(
    engine: Engine, file: Path, value: Any, secrets: dict[str, str] | None = None
) -> RunReport:
    from plait.resources.reports import RunReport

    workflow = engine.define(file)
    await store_dry_run_secrets(engine, secrets or {})
    async with engine:
        handle = await engine.start(workflow, value)
        with contextlib.suppress(PlaitError):  # the report carries the failure
            await handle.result()
        return RunReport.of(await handle.info())


def _mock(spec: str) -> tuple[str, Any]:
    name, sep, raw = spec.partition("=")
    if not sep or not name:
        render.error(f"--mock expects ACTION=JSON or ACTION=@file, got {spec!r}")
        raise typer.Exit(2)
    return name, json_argument(raw, f"--mock {name}")


def _mocked(name: str, value: Any) -> Any:
    from plait.actions.base import ActionError

    async def mocked(_input: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"$error"}:
            raise ActionError(f"{name} (mocked): {value['$error']}")
        return value

    return mocked


def _print_report(report: RunReport, json: bool, accept_partial: bool) -> None:
    if json:
        print_json(report.wire())
    else:
        render.report(report)
    accepted = {"succeeded", "partial"} if accept_partial else {"succeeded"}
    raise typer.Exit(0 if report.outcome in accepted else 1)
