"""``plait runs watch ID``: print a run's changes as they happen (what
``GET /~{org}/runs/{id}/stream`` sends), until it ends; the exit code is its outcome."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from plait.cli.common import EXIT_FAILED, DbOption, JsonOption, OrgOption, run_coroutine
from plait.engine import Engine
from plait.resources.streams import Change

AfterOption = Annotated[
    str | None,
    typer.Option("--after", help="Start after this change id (a message's id, as Last-Event-ID)."),
]
AcceptPartialOption = Annotated[
    bool,
    typer.Option("--accept-partial", help="Exit 0 for a partial run too (it carried on past "
                 "failed steps)."),
]  # fmt: skip


def register(runs_app: typer.Typer) -> None:
    runs_app.command("watch")(runs_watch)


def runs_watch(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    after: AfterOption = None,
    accept_partial: AcceptPartialOption = False,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Print a run's status transitions, step changes and progress as they happen, until it
    ends (--json: one JSON object per line, {id, event, data}). Exits 0 if its outcome is
    succeeded (or partial, with --accept-partial), else 1; a run that has already ended
    prints nothing more and exits by its outcome."""

    async def watch() -> str | None:
        engine = Engine(db)
        try:
            async for change in engine.streams.run(org, run_id, after=after):
                _print(change, json)
            return (await engine.runs.get(org, run_id)).outcome
        finally:
            await engine.close()

    outcome = run_coroutine(watch)
    accepted = {"succeeded", "partial"} if accept_partial else {"succeeded"}
    if not json:
        typer.echo(f"run {run_id} ended: {outcome}", err=True)
    raise typer.Exit(0 if outcome in accepted else EXIT_FAILED)


def _print(change: Change, json: bool) -> None:
    if json:
        sys.stdout.write(orjson.dumps(change.wire()).decode() + "\n")
    else:
        sys.stdout.write(f"{change.id:>8}  {change.event:<8}  {describe(change)}\n")
    sys.stdout.flush()


def describe(change: Change) -> str:
    """One line of what changed."""
    data = change.wire()["data"]
    if change.event == "run":
        ended = data["outcome"] if data["outcome"] not in (None, data["status"]) else None
        return str(data["status"]) + (f" (outcome {ended})" if ended else "")
    if change.event == "step":
        return f"{data['key']} {data['status']} (kind {data['kind']}, attempts {data['attempts']})"
    progress = data["progress"]
    total = progress["totalSteps"]
    shown = f"{progress['completedSteps']}/{total if total is not None else '?'}"
    if progress["fraction"] is not None:
        shown += f" ({progress['fraction']:.0%})"
    if progress["currentStep"]:
        shown += f", now {progress['currentStep']}"
    if progress["message"]:
        shown += f": {progress['message']}"
    return shown
