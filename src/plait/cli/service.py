"""``plait workflows | emit | schedules``: the automation service on the database directly.

Runs started here (``trigger``, ``emit``) are stored; a worker (``plait worker``, ``plait
serve``) executes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from plait.cli import render, stats
from plait.cli.common import (
    EXIT_ERROR,
    CursorOption,
    DbOption,
    IdempotencyOption,
    JsonOption,
    LimitOption,
    OrgOption,
    json_argument,
    print_json,
    show_page,
    with_engine,
)
from plait.engine import Engine
from plait.resources.base import Deleted, Resource

if TYPE_CHECKING:
    from plait.resources.workflows import SavedWorkflow

T = TypeVar("T")

workflows_app = typer.Typer(help="Stored workflows and their lifecycle.", no_args_is_help=True)
schedules_app = typer.Typer(help="Cron schedules of workflows.", no_args_is_help=True)
events_app = typer.Typer(help="Events: list them, show one (emit: plait emit).",
                         no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(workflows_app, name="workflows")
    stats.register(workflows_app)
    app.add_typer(schedules_app, name="schedules")
    app.add_typer(events_app, name="events")
    app.command("emit")(emit)


def _document(file: Path) -> dict[str, Any]:
    """The parsed file, within the environment's limits (``PLAIT_MAX_DOCUMENT_BYTES``, ...); a
    file that cannot be read is a one-line error."""
    from plait.definitions.load import parse_document
    from plait.errors import PlaitError
    from plait.settings import Settings

    try:
        return parse_document(file.read_text(encoding="utf-8"), str(file), Settings.load())
    except PlaitError as exc:
        render.error(str(exc))
        raise typer.Exit(EXIT_ERROR) from exc


def _deleted(what: str, ref: str, json: bool) -> None:
    if json:
        print_json(Deleted(id=ref, type=what).wire())
    else:
        typer.echo(f"deleted {ref}")


def _show(resource: Resource, json: bool) -> None:
    """The resource: ``--json`` prints its wire document (what the REST API answers)."""
    if json:
        print_json(resource.wire())
    else:
        render.resource(resource.wire())


def _saved(saved: SavedWorkflow, json: bool) -> None:
    """A workflow just stored: ``--json`` prints its wire document with its ``warnings`` (what
    the REST API answers); else the workflow, then each warning on a line of its own."""
    if json:
        print_json(saved.wire())
        return
    document = saved.wire()
    del document["warnings"]
    render.resource(document)
    render.warned(saved.warnings)


@workflows_app.command("list")
def workflows_list(
    status: Annotated[str | None, typer.Option(help="Only workflows in this status.")] = None,
    search: Annotated[str | None, typer.Option(
        help="Only workflows whose name or description contains it (any case).")] = None,
    sort: Annotated[str | None, typer.Option(help="Sort field, '-' for descending.")] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:  # fmt: skip
    """List workflows (a page: --json prints {items, nextCursor})."""
    where = {"status": status} if status else None
    page = with_engine(db, lambda e: e.workflows.find(org, where=where, sort=sort, limit=limit,
                                                cursor=cursor, search=search))  # fmt: skip
    show_page(page, json, render.workflows_table)


@workflows_app.command("versions")
def workflows_versions(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    version: Annotated[int | None, typer.Option(
        help="Print this version's document (JSON) instead of the list.")] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:  # fmt: skip
    """List a workflow's versions, newest first; with --version, print one as written."""
    if version is not None:
        revision = with_engine(db, lambda e: e.workflows.version(org, ref, version))
        print_json(revision.wire() if json else revision.document)
        return
    found = with_engine(db, lambda e: e.workflows.versions(org, ref))
    if json:
        print_json(found.wire())
        return
    for entry in found.versions:
        current = " (current)" if entry.version == found.current else ""
        typer.echo(f"{entry.version}\t{entry.created_at.isoformat(timespec='seconds')}{current}")


@workflows_app.command("get")
def workflows_get(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show a workflow."""
    _show(with_engine(db, lambda e: e.workflows.get(org, ref)), json)


@workflows_app.command("create")
def workflows_create(
    file: Annotated[Path, typer.Argument(help="A JSON or YAML workflow.", exists=True)],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Store a new workflow (a Draft)."""
    body = _document(file)
    _saved(with_engine(db, lambda e: e.workflows.create(org, body)), json)


@workflows_app.command("update")
def workflows_update(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    file: Annotated[Path, typer.Argument(help="Fields to change (JSON or YAML).", exists=True)],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Store a new version with the given fields changed."""
    patch = _document(file)
    _saved(_scenarios_checked(db, lambda e: e.workflows.update(org, ref, patch), json), json)


def _scenarios_checked(db: str | None, use: Callable[[Engine], Awaitable[T]], json: bool) -> T:
    """``with_engine(db, use)``, printing a ``ScenariosFailed`` refusal with each failed
    expectation (``--json``: the problem document the REST API answers)."""
    from plait.service.workflow_tests import ScenariosFailed

    async def guarded(engine: Engine) -> T | ScenariosFailed:
        try:
            return await use(engine)
        except ScenariosFailed as exc:
            return exc

    done = with_engine(db, guarded)
    if not isinstance(done, ScenariosFailed):
        return done
    errors = [{"path": p.path, "message": p.message} for p in done.problems]
    if json:
        print_json({"type": "urn:plait:problem:scenarios-failed", "status": 409,
                    "title": "The workflow's test scenarios did not all pass",
                    "detail": str(done), "errors": errors})  # fmt: skip
    else:
        render.error(escape(str(done)))
        for error in errors:
            render.error(escape(f"{error['path']}: {error['message']}"))
    raise typer.Exit(EXIT_ERROR)


def _verb(verb: str, help_text: str) -> None:
    def command(
        ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
        org: OrgOption = "default",
        json: JsonOption = False,
        db: DbOption = None,
    ) -> None:
        _show(_scenarios_checked(db, lambda e: getattr(e.workflows, verb)(org, ref), json), json)

    command.__doc__ = help_text
    workflows_app.command(verb)(command)


_verb("activate", "Activate a workflow: it listens for its trigger.")
_verb("pause", "Pause a workflow: events are ignored, schedules stop.")
_verb("archive", "Archive a workflow (final).")


@workflows_app.command("delete")
def workflows_delete(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Delete a workflow (its runs stay)."""

    async def delete(engine: Engine) -> str:
        workflow_id = (await engine.workflows.get(org, ref)).id
        await engine.workflows.delete(org, workflow_id)
        return workflow_id

    _deleted("Workflow", with_engine(db, delete), json)


@workflows_app.command("trigger")
def workflows_trigger(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    input_: Annotated[str | None, typer.Option("--input", help="JSON, or @file.")] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
    key: IdempotencyOption = None,
    priority: Annotated[
        int | None,
        typer.Option(
            "--priority",
            min=-10,
            max=10,
            help="The run's priority, -10 to 10: higher is claimed first.",
        ),
    ] = None,
) -> None:
    """Start a run by hand (a worker executes it)."""
    value = json_argument(input_, "--input")
    _show(with_engine(db, lambda e: e.workflows.trigger(org, ref, value, idempotency_key=key,
                                                        priority=priority)),
          json)  # fmt: skip


@workflows_app.command("test")
def workflows_test(
    ref: Annotated[str, typer.Argument(help="Workflow id or name.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Run the scenarios a stored workflow keeps (its tests) now, on a throwaway engine; exit 0
    only if all pass (POST /workflows/{id}/tests/run)."""
    from plait.cli.common import EXIT_FAILED
    from plait.cli.scenarios import scenario_table

    report = with_engine(db, lambda e: e.workflow_tests.run(org, ref))
    if json:
        print_json(report.wire())
    else:
        scenario_table(report)
    raise typer.Exit(0 if report.passed else EXIT_FAILED)


def emit(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="Event type, e.g. Deal.won.")],
    data: Annotated[str | None, typer.Option(help="Event data: JSON, or @file.")] = None,
    id_: Annotated[str | None, typer.Option("--id", help="Event id (deduplicates).")] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
    key: IdempotencyOption = None,
) -> None:
    """Emit an event: it starts the runs of every Activated workflow it triggers."""
    value = json_argument(data, "--data")
    _show(with_engine(db, lambda e: e.events.emit(org, type_, value, id=id_, source="cli",
                                                  idempotency_key=key)), json)  # fmt: skip


@events_app.command("list")
def events_list(
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this type.")] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List events, newest first (a page: --json prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.events.find(org, type=type_, limit=limit, cursor=cursor))
    show_page(page, json, render.events_table)


@events_app.command("get")
def events_get(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show an event."""
    _show(with_engine(db, lambda e: e.events.get(org, event_id)), json)


@schedules_app.command("list")
def schedules_list(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's.")] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List schedules, oldest first (a page: --json prints {items, nextCursor})."""
    page = with_engine(db, lambda e: e.schedules.find(org, workflow, limit=limit, cursor=cursor))
    show_page(page, json, lambda items: render.schedules_table([s.wire() for s in items]))


@schedules_app.command("create")
def schedules_create(
    workflow: Annotated[str, typer.Option(help="Workflow id or name.")],
    cron: Annotated[str, typer.Option(help="Cron expression (5 fields, or 6 with seconds).")],
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    catchup: Annotated[str, typer.Option(help="After downtime: skip or all.")] = "skip",
    max_catchup: Annotated[int, typer.Option(help="Most missed ticks caught up.")] = 10,
    input_: Annotated[str | None, typer.Option("--input", help="Run input: JSON.")] = None,
    notify_start: Annotated[
        list[str] | None, typer.Option(help="Email this address when a run starts (repeatable).")
    ] = None,
    notify_complete: Annotated[
        list[str] | None,
        typer.Option(help="Email this address when a run ends, with its outcome (repeatable)."),
    ] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Attach a cron schedule to a workflow (without PLAIT_SMTP_URL, notifications are
    Schedule.notification events)."""
    body = {"workflow": workflow, "cron": cron, "timezone": timezone, "catchup": catchup,
            "maxCatchup": max_catchup, "input": json_argument(input_, "--input"),
            "notifications": {"onStart": notify_start or [],
                              "onComplete": notify_complete or []}}  # fmt: skip
    made = with_engine(db, lambda e: e.schedules.create(org, body)).wire()
    if json:
        print_json(made)
    else:
        render.resource(made)


@schedules_app.command("ticks")
def schedules_ticks(
    schedule_id: Annotated[str, typer.Argument(help="Schedule id.")],
    fired: Annotated[int, typer.Option(help="Fired ticks shown, newest first (0-50).")] = 5,
    upcoming: Annotated[int, typer.Option(help="Next ticks shown (0-50).")] = 5,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show a schedule's last fired ticks (with the runs they started) and its next ticks."""
    ticks = with_engine(db, lambda e: e.schedules.ticks(org, schedule_id, fired=fired,
                                                        upcoming=upcoming)).wire()  # fmt: skip
    if json:
        print_json(ticks)
    else:
        render.resource(ticks)


@schedules_app.command("delete")
def schedules_delete(
    schedule_id: Annotated[str, typer.Argument(help="Schedule id.")],
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Delete a schedule."""
    with_engine(db, lambda e: e.schedules.delete(org, schedule_id))
    _deleted("Schedule", schedule_id, json)
