"""``plait``: operate workers and inspect runs from a shell.

Every command takes ``--db URL`` (environment twin ``PLAIT_DATABASE_URL``). Commands parse their
arguments, call the engine, and render; no rule of the runtime lives here.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, TypeVar

import typer

from plait import __version__, logfields, logs
from plait.cli import (
    audit,
    circuits,
    costs,
    definitions,
    machines,
    mcp,
    overview,
    render,
    retention,
    run_filters,
    secrets,
    serve,
    service,
    stats,
    step_cache,
    steps,
    tasks,
    watch,
)
from plait.cli.common import (
    CursorOption,
    DbOption,
    IdempotencyOption,
    JsonOption,
    LimitOption,
    LogFormatOption,
    OrgOption,
    OtelEndpointOption,
    check_command_line,
    current_user,
    json_argument,
    load_engine,
    print_json,
    run_coroutine,
    show_page,
    use_otel_endpoint,
    with_engine,
)
from plait.engine import Engine
from plait.resources.health import Health
from plait.resources.runs import Run

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
watch.register(runs_app)
run_filters.register(runs_app)
steps.register(runs_app)
retention.register(app, runs_app)
definitions.register(app)
service.register(app)
serve.register(app)
tasks.register(app)
machines.register(app)
secrets.register(app)
audit.register(app)
overview.register(app)
circuits.register(app)
costs.register(app)
step_cache.register(app)
mcp.register(app)


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
    logs.install()  # no credential or secret value in any line a command logs


@app.command()
def worker(
    target: Annotated[str, typer.Argument(help="MODULE:ATTR of the Engine, e.g. app.flows:engine")],
    db: DbOption = None,
    log_format: LogFormatOption = "text",
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on this port (/metrics)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address the metrics port binds (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    otel_endpoint: OtelEndpointOption = None,
) -> None:
    """Run the worker of the Engine at MODULE:ATTR until SIGTERM or SIGINT."""
    logfields.use(log_format)
    use_otel_endpoint(otel_endpoint)
    if db:
        os.environ["PLAIT_DATABASE_URL"] = db  # for engines the module builds without a URL
    engine = load_engine(target)
    if db and engine.settings.database_url != db:
        # The module's explicit URL would win over the environment; the flag must win over both.
        engine = engine.reconfigured(database_url=db)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a worker reports its lifecycle
    code = 0
    try:
        run_coroutine(lambda: _work(engine, metrics_host, metrics_port))
    except typer.Exit:
        raise
    except Exception:  # a worker loop died (logged with its traceback): exit non-zero, so that
        code = 1  # a process manager restarts the worker
    # Runs still executing were released to other workers; a synchronous step stuck in a thread
    # must not keep this process alive (the interpreter would join the thread at exit).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _work(engine: Engine, metrics_host: str, metrics_port: int | None) -> None:
    """Run the worker, serving its metrics on ``metrics_port`` when one is given."""
    if metrics_port is None:
        return await engine.run_worker()
    from plait.worker.metrics_server import serving_metrics

    async with serving_metrics(engine.health.metrics, metrics_host, metrics_port):
        await engine.run_worker()


@app.command()
def migrate(json: JsonOption = False, db: DbOption = None) -> None:
    """Create or upgrade the database schema (idempotent) and print its version."""

    async def run() -> Health:
        engine = Engine(db)
        try:
            return await engine.health.check()
        finally:
            await engine.close()

    health = run_coroutine(run)
    if json:
        print_json(health.wire())  # what GET /healthz answers
    else:
        typer.echo(f"schema version {health.schema_version}")


@runs_app.command("list")
def runs_list(
    status: run_filters.StatusOption = None,
    workflow: run_filters.WorkflowOption = None,
    outcome: run_filters.OutcomeOption = None,
    trigger: run_filters.TriggerOption = None,
    created_after: run_filters.AfterOption = None,
    created_before: run_filters.BeforeOption = None,
    search: run_filters.SearchOption = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List runs, newest first, a page at a time, filtered (as GET /~{org}/runs). An outcome,
    trigger or input search is checked on at most PLAIT_RUN_SEARCH_SCAN runs per page: a page
    may be short and still have a next page."""
    where = run_filters.filters(workflow, status, outcome, trigger, created_after,
                                created_before, search)  # fmt: skip
    page = with_engine(db, lambda e: e.runs.find_where(org, where, limit=limit, cursor=cursor))
    show_page(page, json, render.runs_table)


RunId = Annotated[str, typer.Argument(help="The run's id.")]
ReasonOption = Annotated[str | None, typer.Option(help="Why; kept in the run's history.")]
ByOption = Annotated[
    str | None, typer.Option(help="Who does it, for the history (default: your user name).")
]
NewestOption = Annotated[
    bool, typer.Option("--newest", help="Run on the workflow's newest version.")
]


@runs_app.command("get")
def runs_get(run_id: RunId, include: stats.IncludeOption = None, org: OrgOption = "default",
             json: JsonOption = False, db: DbOption = None) -> None:  # fmt: skip
    """Show one run with its steps (as GET /~{org}/runs/{id}; --include metrics,audit adds
    its business metric values and its audit entries)."""
    run = with_engine(db, lambda e: e.runs.get(org, run_id, include=include))
    _show(run, json)
    if not json:
        stats.included(run)


@runs_app.command("cancel")
def runs_cancel(
    run_id: RunId, reason: ReasonOption = None, by: ByOption = None, org: OrgOption = "default",
    json: JsonOption = False, db: DbOption = None, key: IdempotencyOption = None,
) -> None:  # fmt: skip
    """Cancel a run and its live descendants: they end cancelled and run no further step (a run
    that already ended keeps its status; its live descendants are cancelled)."""
    who = by or current_user()
    _show(with_engine(db, lambda e: e.runs.cancel(org, run_id, reason=reason, by=who,
                                                  idempotency_key=key)), json)  # fmt: skip


@runs_app.command("resume")
def runs_resume(
    run_id: RunId, newest: NewestOption = False, reason: ReasonOption = None,
    by: ByOption = None, org: OrgOption = "default", json: JsonOption = False,
    db: DbOption = None, key: IdempotencyOption = None,
) -> None:  # fmt: skip
    """Resume a failed run from its failed step; the steps before it are not run again.

    A worker (plait worker or plait serve) executes it.
    """
    who = by or current_user()
    _show(with_engine(db, lambda e: e.runs.resume(org, run_id, newest=newest, by=who,
                                                  reason=reason, idempotency_key=key)),
          json)  # fmt: skip


@runs_app.command("fork")
def runs_fork(
    run_id: RunId,
    step: Annotated[str, typer.Option(help="The step to execute from: its key or number.")],
    newest: NewestOption = False, reason: ReasonOption = None, by: ByOption = None,
    org: OrgOption = "default", json: JsonOption = False, db: DbOption = None,
    key: IdempotencyOption = None,
) -> None:  # fmt: skip
    """Fork a run from STEP into a new run that reuses the steps recorded before it."""
    who, at = by or current_user(), int(step) if step.isdigit() else step
    _show(with_engine(db, lambda e: e.runs.fork(org, run_id, at, newest=newest, by=who,
                                                reason=reason,
                                                idempotency_key=key)), json)  # fmt: skip


@runs_app.command("retry")
def runs_retry(
    run_id: RunId, newest: NewestOption = False, reason: ReasonOption = None,
    by: ByOption = None, org: OrgOption = "default", json: JsonOption = False,
    db: DbOption = None, key: IdempotencyOption = None,
) -> None:  # fmt: skip
    """Retry a run from scratch with the same input, as a new run."""
    who = by or current_user()
    _show(with_engine(db, lambda e: e.runs.retry(org, run_id, newest=newest, by=who,
                                                 reason=reason,
                                                 idempotency_key=key)), json)  # fmt: skip


@runs_app.command("signal")
def runs_signal(
    run_id: RunId,
    name: Annotated[str, typer.Argument(help="The signal's name (what ctx.receive waits for).")],
    data: Annotated[str | None, typer.Option(help="The payload: JSON, or @file.")] = None,
    org: OrgOption = "default",
    json: JsonOption = False,
    db: DbOption = None,
    key: IdempotencyOption = None,
) -> None:
    """Send a signal to a run; its ctx.receive(NAME) gets the payload, in order, once."""
    payload = json_argument(data, "--data")
    sent = with_engine(db, lambda e: e.runs.signal(org, run_id, name, payload,
                                                   idempotency_key=key))  # fmt: skip
    if json:
        print_json(sent.wire())
    else:
        how = "delivered to a waiting receive" if sent.delivered else "queued"
        typer.echo(f"signal {name!r} #{sent.seq} {how} for run {run_id}")


def _show(run: Run, json: bool) -> None:
    if json:
        print_json(run.wire())
    else:
        render.run_detail(run)


def main() -> None:
    check_command_line(sys.argv[1:])
    app()
