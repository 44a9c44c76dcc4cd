"""``plait runs list`` filters and ``plait runs bulk``: the run filters, search and bulk
operations of ``GET /~{org}/runs`` and ``POST /~{org}/runs/bulk`` from a shell."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plait.cli.common import DbOption, JsonOption, OrgOption, current_user, print_json, with_engine
from plait.resources.bulk import BulkResult
from plait.service.run_filters import RunFilters

StatusOption = Annotated[str | None, typer.Option(help="Only runs in this status.")]
WorkflowOption = Annotated[str | None, typer.Option(help="Only runs of this workflow.")]
OutcomeOption = Annotated[
    str | None,
    typer.Option(help="Only runs that ended so: succeeded, partial, failed, cancelled."),
]
TriggerOption = Annotated[
    str | None,
    typer.Option(
        help="Only runs started so: api, manual, event, schedule, webhook, child, retry, fork."
    ),
]
AfterOption = Annotated[
    str | None,
    typer.Option(
        "--created-after", help="Only runs created at or after (ISO 8601; UTC if no zone)."
    ),
]
BeforeOption = Annotated[
    str | None,
    typer.Option("--created-before", help="Only runs created before (ISO 8601; UTC if no zone)."),
]
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 240)

SearchOption = Annotated[
    str | None,
    typer.Option(
        help="A run id or its prefix, an event id (the runs it started or woke), or "
        "input.path=value."
    ),
]


def filters(
    workflow: str | None, status: str | None, outcome: str | None, trigger: str | None,
    created_after: str | None, created_before: str | None, search: str | None,
) -> RunFilters:  # fmt: skip
    """The options as the service's filters (a bad time is a usage error, exit 2)."""
    return RunFilters(workflow, status, outcome, trigger, _time(created_after, "--created-after"),
                      _time(created_before, "--created-before"), search)  # fmt: skip


def _time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=flag) from exc


def register(runs_app: typer.Typer) -> None:
    runs_app.command("bulk")(runs_bulk)


def runs_bulk(
    action: Annotated[str, typer.Argument(help="cancel, retry or resume.")],
    run_ids: Annotated[
        list[str] | None, typer.Argument(help="The runs (else every run matching the filters).")
    ] = None,
    status: StatusOption = None, workflow: WorkflowOption = None, outcome: OutcomeOption = None,
    trigger: TriggerOption = None, created_after: AfterOption = None,
    created_before: BeforeOption = None, search: SearchOption = None,
    reason: Annotated[str | None, typer.Option(help="Why; kept in each run's history.")] = None,
    org: OrgOption = "default", json: JsonOption = False, db: DbOption = None,
) -> None:  # fmt: skip
    """Cancel, retry or resume the runs RUN_IDS, or every run matching the filters (as
    POST /~{org}/runs/bulk; at most PLAIT_BULK_MAX_RUNS). Each run is done, skipped (with
    the reason) or not found."""
    where = filters(workflow, status, outcome, trigger, created_after, created_before, search)
    if bool(run_ids) == where.any:
        raise typer.BadParameter("give run ids or filters (one of the two)")
    who = current_user()
    done = with_engine(db, lambda e: e.runs.bulk(org, action, ids=run_ids or None,
                                                 where=None if run_ids else where, by=who,
                                                 reason=reason))  # fmt: skip
    if json:
        print_json(done.wire())
    else:
        _results(done)


def _results(done: BulkResult) -> None:
    table = Table("run", "result", "reason", box=None)
    for result in done.results:
        note = result.reason or (f"new run {result.new_run_id}" if result.new_run_id else "")
        table.add_row(result.run_id, result.result, note)
    _out.print(table)
    _out.print(done.summary())
