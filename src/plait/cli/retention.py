"""``plait retention show | set | clear``: how long ended runs are kept, per organization and
per workflow; ``plait runs purge``: delete ended runs older than a duration now;
``plait runs archive read FILE``: the runs an archive file holds. See docs/retention.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from plait.cli import render
from plait.cli.common import EXIT_USAGE, DbOption, JsonOption, OrgOption, print_json, with_engine
from plait.engine import Engine
from plait.resources.retention import Limits, Policy, Retention
from plait.service.archive import read_archive
from plait.service.retention import DAY, parse_duration

retention_app = typer.Typer(
    help="Retention of ended runs: how long, and how many, each workflow keeps.",
    no_args_is_help=True,
)
archive_app = typer.Typer(help="Archives of deleted runs (gzip JSON lines).", no_args_is_help=True)

WorkflowOption = Annotated[
    str | None, typer.Option("--workflow", help="A workflow's policy (by name), not the org's.")
]


def register(app: typer.Typer, runs_app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
    runs_app.command("purge")(purge)
    runs_app.add_typer(archive_app, name="archive")


@retention_app.command("show")
def show(org: OrgOption = "default", json: JsonOption = False, db: DbOption = None) -> None:
    """Show the default, the organization's policy and its workflows' policies."""
    shown = with_engine(db, lambda e: e.retention.show(org))
    if json:
        print_json(shown.wire())
        return
    _print(shown)


@retention_app.command("set")
def set_policy(
    max_age: Annotated[
        str | None,
        typer.Option(help="Delete runs that ended longer ago: 30d, 12h, 2w; 0 or forever: keep."),
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option(min=0, help="Keep only the newest this many ended runs; 0: all.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="Set the limits of runs that ended so: succeeded, partial, failed, "
            "cancelled (other limits of the policy are kept)."
        ),
    ] = None,
    workflow: WorkflowOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Set (merge into) the organization's or a workflow's policy. Needs admin over the API."""
    if max_age is None and max_runs is None:
        render.error("give --max-age and/or --max-runs")
        raise typer.Exit(EXIT_USAGE)

    async def go(engine: Engine) -> Retention:
        current = await engine.retention.show(org)
        policy = _current(current, workflow) or Policy()
        limits = Limits(max_age_days=_days(max_age), max_runs=max_runs)
        merged = _merged(policy, limits, status)
        return await engine.retention.set(org, merged, workflow=workflow)

    shown = with_engine(db, go)
    if json:
        print_json(shown.wire())
    else:
        _print(shown)


@retention_app.command("clear")
def clear(workflow: WorkflowOption = None, org: OrgOption = "default", db: DbOption = None) -> None:
    """Remove the organization's (or a workflow's) policy: the level above applies again."""
    found = with_engine(db, lambda e: e.retention.clear(org, workflow=workflow))
    what = f"workflow {workflow}" if workflow else f"organization {org}"
    typer.echo(f"removed the policy of {what}" if found else f"{what} had no policy")


def purge(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Runs that ended longer ago: 30d, 12h, 90s, 2w.")
    ],
    workflow: Annotated[str | None, typer.Option(help="Only this workflow's runs.")] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            help="Only runs that ended so (repeatable): succeeded, partial, failed, cancelled."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count them; delete nothing.")] = False,
    archive: Annotated[
        str | None,
        typer.Option(
            envvar="PLAIT_ARCHIVE",
            help="Write them first to gzip JSON lines files in this directory.",
        ),
    ] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Delete the ended runs older than --older-than (runs that have not ended, and children
    whose parent has not, stay); print how many went (or would, with --dry-run)."""
    done = with_engine(db, lambda e: e.retention.purge(
        org, older_than, workflow=workflow, statuses=status or (), dry_run=dry_run,
        archive=archive,
    ))  # fmt: skip
    if json:
        print_json(done.wire())
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {done.runs} run{'' if done.runs == 1 else 's'} of {org} that ended "
               f"before {done.wire()['before']}")  # fmt: skip
    for path in done.archives:
        typer.echo(f"archived to {path}")


@archive_app.command("read")
def archive_read(
    file: Annotated[Path, typer.Argument(help="An archive file (runs-....jsonl.gz).")],
) -> None:
    """Print the runs of an archive file, one JSON object a line (as GET /runs/{id} shows one)."""
    try:
        for run in read_archive(file):
            sys.stdout.write(orjson.dumps(run).decode() + "\n")
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        render.error(f"cannot read {file}: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc


def _days(max_age: str | None) -> float | None:
    if max_age is None:
        return None
    if max_age.strip().lower() in ("0", "forever"):
        return 0.0
    return parse_duration(max_age, "--max-age") / DAY


def _current(shown: Retention, workflow: str | None) -> Policy | None:
    if workflow is None:
        return shown.policy
    return next((w.policy for w in shown.workflows if w.workflow == workflow), None)


def _merged(policy: Policy, limits: Limits, status: str | None) -> Policy:
    """``policy`` with the limits given (those of ``status`` when given)."""
    given = limits.model_dump(by_alias=False, exclude_none=True)
    if status is None:
        return policy.model_copy(update=given)
    before = policy.statuses.get(status, Limits())
    statuses = {**policy.statuses, status: before.model_copy(update=given)}
    return policy.model_copy(update={"statuses": statuses})


def _print(shown: Retention) -> None:
    typer.echo(f"organization {shown.organization}")
    typer.echo(f"  default: {_limits(shown.default)}")
    typer.echo(f"  policy: {_limits(shown.policy) if shown.policy else '(none: the default)'}")
    for item in shown.workflows:
        typer.echo(f"  workflow {item.workflow}: {_limits(item.policy)}")
    typer.echo(f"  events: {_age(shown.event_retention_days)}; finished tasks: "
               f"{_age(shown.task_retention_days)}; audit entries: "
               f"{_age(shown.audit_retention_days)}")  # fmt: skip
    typer.echo(f"  archive: {shown.archive or '(none)'}")


def _limits(limits: Limits) -> str:
    parts = []
    if limits.max_age_days is not None:
        parts.append(f"max age {_age(limits.max_age_days)}")
    if limits.max_runs is not None:
        parts.append(f"max runs {limits.max_runs or 'unlimited'}")
    if isinstance(limits, Policy):
        parts += [f"{name}: {_limits(own)}" for name, own in sorted(limits.statuses.items())]
    return ", ".join(parts) or "as the level above"


def _age(days: float) -> str:
    return "forever" if days <= 0 else f"{days:g} days"
