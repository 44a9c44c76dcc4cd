"""The MCP server's tools: query, act, author, diagnose.

Each tool is a function of a :class:`Call` (the engine and who calls) and its arguments, which
parses nothing itself (the SDK validates the arguments against the signature), calls one
service verb, and returns the resource model. :func:`register` wraps each one for the SDK:
the caller's role is checked first (the role of the REST route that does the same thing), a
refused change is audited, the change is made as the caller (audit interface ``mcp``), and the
result, or the error as a problem document, is rendered by :mod:`plait.mcp.results`.

``TOOLS`` lists them with what they need and what they do: ``changes`` is false for the tools
``--read-only`` keeps (they change nothing in the organization).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from plait.errors import InvalidQuery, PlaitError
from plait.mcp.access import Principal, RoleRefused
from plait.mcp.results import answer, problem
from plait.service.audit import acting
from plait.service.pages import MAX_LIMIT

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from plait.engine import Engine
    from plait.resources.runs import Run

Role = Literal["viewer", "runner", "editor", "admin"]
QueryType = Literal["Workflow", "Run", "Event", "Task", "Schedule", "Webhook", "MachineInstance"]


@dataclass(frozen=True, slots=True)
class Call:
    """What a tool works with: the engine, and who calls."""

    engine: Engine
    who: Principal

    @property
    def org(self) -> str:
        return self.who.org


@dataclass(frozen=True, slots=True)
class Spec:
    """A tool: its function, the role it needs, and its MCP annotations. ``verb`` and
    ``resource`` name a refused change in the audit trail (``target``: the argument holding the
    resource's id)."""

    fn: Callable[..., Awaitable[Any]]
    role: Role
    title: str
    changes: bool = True
    destructive: bool = False
    idempotent: bool = False
    verb: str = ""
    resource: str = ""
    target: str | None = None
    tool: str | None = None
    """The tool's name, when it is not the function's."""

    @property
    def name(self) -> str:
        return self.tool or self.fn.__name__

    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title, read_only_hint=not self.changes,
            destructive_hint=self.destructive if self.changes else False,
            idempotent_hint=self.idempotent or not self.changes,
            open_world_hint=self.name in STARTS_RUNS,
        )  # fmt: skip


# -- argument types (their descriptions are what a model reads) ---------------------------------

WorkflowRef = Annotated[str, Field(min_length=1, description="The workflow's id (workflow_...) "
                                                             "or its name.")]  # fmt: skip
RunId = Annotated[str, Field(min_length=1, description="The run's id (run_...).")]
Reason = Annotated[str | None, Field(max_length=1000, description="Why; kept in the run's "
                                                                  "history.")]  # fmt: skip
Newest = Annotated[bool, Field(description="Run on the workflow's newest version instead of the "
                                           "version the run started on.")]  # fmt: skip
Definition = Annotated[
    dict[str, Any],
    Field(description="A workflow definition as a JSON object, in any dialect plait reads "
                      "(see the definition_schema tool): name, triggerEvent, steps, ...; "
                      "optionally tests: {scenarios: [...]}."),
]  # fmt: skip
IdempotencyKey = Annotated[
    str | None,
    Field(min_length=1, max_length=255, description="Repeating a call with the same key answers "
                                                    "what the first answered, doing nothing "
                                                    "again."),
]  # fmt: skip


# -- query --------------------------------------------------------------------------------------


async def query(
    call: Call,
    type: Annotated[QueryType, Field(description="What to find. MachineInstance: an instance "
                                                 "of a state machine workflow.")],
    id: Annotated[str | None, Field(description="Get one resource by id instead of a page "
                                                "(no filter, sort or cursor then). A "
                                                "MachineInstance's id is workflow/key.")] = None,
    filter: Annotated[dict[str, Any] | None, Field(
        description="Equality filters. Workflow: any field, e.g. {\"status\": \"Activated\", "
                    "\"triggerEvent\": \"Deal.won\"}; Run: workflow, status (pending, running, "
                    "waiting, succeeded, failed, cancelled), outcome (succeeded, partial, "
                    "failed, cancelled), trigger (api, manual, event, schedule, webhook, child, "
                    "retry, fork), createdAfter, createdBefore (ISO 8601), search (a run id "
                    "prefix, an event id, or input.path=value); Event: type; Task: assignee, "
                    "status (open, completed, expired, cancelled); Schedule: workflow; "
                    "MachineInstance: workflow (required)."
    )] = None,
    sort: Annotated[str | dict[str, Literal["asc", "desc"]] | None, Field(
        description="Workflows only: {\"lastRunAt\": \"desc\"} or \"-lastRunAt\". Other types "
                    "come newest first (schedules and instances oldest first, webhooks by name)."
    )] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Page size.")] = 20,
    cursor: Annotated[str | None, Field(description="The nextCursor of the previous page.")] = None,
) -> Any:  # fmt: skip
    """Find plait resources: workflows, runs, events, human tasks, schedules, webhooks or state
    machine instances. Give type and optionally filter, sort, limit and cursor for a page
    ({items, nextCursor}); or type and id for one resource with all its detail (a run with its
    steps, a workflow with its counters). Example: {"type": "Workflow", "filter": {"status":
    "Activated"}, "sort": {"lastRunAt": "desc"}, "limit": 20}."""
    return await call.engine.query.answer(call.org, type, id=id, filter=filter, sort=sort,
                                          limit=limit, cursor=cursor)  # fmt: skip


# -- workflows ----------------------------------------------------------------------------------


async def create_workflow(call: Call, definition: Definition) -> Any:
    """Store a new workflow as a Draft (it runs nothing until activated). Check it first with
    validate_workflow and test_workflow. Answers the stored workflow and its validation
    warnings; an invalid definition is refused with every problem at its JSON path."""
    return await call.engine.workflows.create(call.org, definition)


async def update_workflow(
    call: Call, workflow: WorkflowRef,
    changes: Annotated[dict[str, Any], Field(description="The fields to change, merged into the "
                                                         "stored definition (e.g. {\"steps\": "
                                                         "[...]})." )],
) -> Any:  # fmt: skip
    """Change a workflow: the fields given replace the stored ones and make a new version (runs
    already started keep theirs). An Activated workflow whose tests are required must still
    pass them."""
    return await call.engine.workflows.update(call.org, workflow, changes)


async def activate_workflow(call: Call, workflow: WorkflowRef) -> Any:
    """Make a Draft or Paused workflow live: its trigger events and schedules start runs from
    now on. Needs a trigger and at least one step; required test scenarios must pass."""
    return await call.engine.workflows.activate(call.org, workflow)


async def pause_workflow(call: Call, workflow: WorkflowRef) -> Any:
    """Stop an Activated workflow from starting runs (events are ignored, schedules skip)
    until it is activated again. Runs already started go on."""
    return await call.engine.workflows.pause(call.org, workflow)


async def archive_workflow(call: Call, workflow: WorkflowRef) -> Any:
    """Retire a workflow for good: it never runs again and cannot be reactivated."""
    return await call.engine.workflows.archive(call.org, workflow)


async def trigger_workflow(
    call: Call, workflow: WorkflowRef,
    input: Annotated[Any, Field(description="The run's input (checked against the workflow's "
                                            "input schema, if it declares one).")] = None,
    idempotency_key: IdempotencyKey = None,
    priority: Annotated[int | None, Field(ge=-10, le=10, description="The run's priority, "
                                          "-10 to 10: higher is claimed first.")] = None,
) -> Any:  # fmt: skip
    """Start a run of a workflow now, by hand, with an input. Answers the run (status pending);
    follow it with query {type: "Run", id} or run_timeline."""
    return await call.engine.workflows.trigger(call.org, workflow, input,
                                               idempotency_key=idempotency_key,
                                               priority=priority)  # fmt: skip


# -- events, runs, tasks ------------------------------------------------------------------------


async def emit_event(
    call: Call,
    type: Annotated[str, Field(min_length=1, max_length=200, description="The event type, e.g. "
                                                                         "Deal.won.")],
    data: Annotated[Any, Field(description="The event's data (any JSON).")] = None,
    id: Annotated[str | None, Field(min_length=1, max_length=255, description="Its id: an event "
                                                                              "is stored once "
                                                                              "per id.")] = None,
) -> Any:  # fmt: skip
    """Emit a business event: it starts a run of every Activated workflow it triggers and
    resumes the runs waiting for it. Answers the event with the ids of the runs it started."""
    return await call.engine.events.emit(call.org, type, data, id=id, source="mcp")


async def cancel_run(call: Call, run: RunId, reason: Reason = None) -> Any:
    """Cancel a run that has not ended, and its child runs. A cancelled run does not resume."""
    return await call.engine.runs.cancel(call.org, run, reason=reason, by=call.who.by)


async def resume_run(call: Call, run: RunId, newest: Newest = False, reason: Reason = None) -> Any:
    """Resume a failed run from its failed step (its completed steps are not run again)."""
    return await call.engine.runs.resume(call.org, run, newest=newest, by=call.who.by,
                                         reason=reason)  # fmt: skip


async def retry_run(call: Call, run: RunId, newest: Newest = False, reason: Reason = None) -> Any:
    """Run an ended run again from scratch with the same input, as a new run."""
    return await call.engine.runs.retry(call.org, run, newest=newest, by=call.who.by,
                                        reason=reason)  # fmt: skip


async def fork_run(
    call: Call, run: RunId,
    step: Annotated[str | int, Field(description="The step to execute from: its key (charge, "
                                                 "charge#2) or its 1-based number.")],
    newest: Newest = False, reason: Reason = None,
) -> Any:  # fmt: skip
    """Start a new run from a step of an existing run, reusing the results of the steps
    before it (to re-execute a step after fixing what it calls)."""
    return await call.engine.runs.fork(call.org, run, step, newest=newest, by=call.who.by,
                                       reason=reason)  # fmt: skip


async def signal_run(
    call: Call, run: RunId,
    name: Annotated[str, Field(min_length=1, max_length=200, description="The signal's name, "
                                                                         "as the workflow "
                                                                         "receives it.")],
    payload: Annotated[Any, Field(description="Any JSON the workflow receives.")] = None,
) -> Any:  # fmt: skip
    """Send a named signal to one running workflow (code workflows that wait with
    ctx.receive)."""
    return await call.engine.runs.signal(call.org, run, name, payload)


async def complete_task(
    call: Call,
    task: Annotated[str, Field(min_length=1, description="The human task's id (task_...).")],
    decision: Annotated[str | None, Field(description="One of the task's choices (see the "
                                                      "task's choices).")] = None,
    comment: Annotated[str | None, Field(description="A comment kept with the answer.")] = None,
    data: Annotated[Any, Field(description="The answer's data, valid against the task's "
                                           "form.")] = None,
) -> Any:  # fmt: skip
    """Complete a human task (an approval, a review) as the person the API key is bound to;
    the run waiting on it resumes with the decision. Only the assignee (or an admin key) may
    complete a task."""
    who = call.who
    return await call.engine.tasks.complete(
        call.org, task, decision=decision, comment=comment, data=data, user=who.user,
        by=None if who.key_id is not None else who.by,
        via=f"key:{who.key_id}" if who.key_id is not None else None, as_admin=who.role == "admin",
    )  # fmt: skip


async def create_schedule(
    call: Call, workflow: WorkflowRef,
    cron: Annotated[str, Field(description="5 or 6 cron fields, e.g. \"0 9 * * 1-5\", or a "
                                           "macro such as @daily.")],
    timezone: Annotated[str, Field(description="An IANA time zone.")] = "UTC",
    input: Annotated[Any, Field(description="The input of each run it starts.")] = None,
    catchup: Annotated[Literal["skip", "all"], Field(description="Missed ticks: skip, or fire "
                                                                 "them (up to a bound).")] = "skip",
) -> Any:  # fmt: skip
    """Start runs of a workflow on a cron schedule (while the workflow is Activated)."""
    body: dict[str, Any] = {"workflow": workflow, "cron": cron, "timezone": timezone,
                            "catchup": catchup}  # fmt: skip
    if input is not None:
        body["input"] = input
    return await call.engine.schedules.create(call.org, body)


async def delete_schedule(
    call: Call,
    schedule: Annotated[str, Field(min_length=1, description="The schedule's id.")],
) -> Any:
    """Delete a schedule: it starts no more runs."""
    await call.engine.schedules.delete(call.org, schedule)
    return {"deleted": schedule}


async def clear_step_cache(
    call: Call,
    workflow: Annotated[str | None, Field(min_length=1, description="Clear the entries its runs "
                                          "stored (its name, or a stored one's id).")] = None,
    namespace: Annotated[str | None, Field(min_length=1, description="Clear the entries of "
                                           "this namespace.")] = None,
) -> Any:  # fmt: skip
    """Clear the step-result cache of a workflow or a namespace (one is required): its cached
    steps run again on their next call (after a change of what they compute, or to refresh
    stale results). Returns {deleted}."""
    from plait.resources.step_cache import CacheCleared

    if workflow is None and namespace is None:
        raise InvalidQuery("name the workflow or the namespace whose cache to clear")
    engine = call.engine
    name = None if workflow is None else await engine.step_cache.workflow_name(call.org, workflow)
    deleted = await engine.step_cache.clear(call.org, workflow=name, namespace=namespace)
    return CacheCleared(deleted=deleted).wire()


# -- authoring ----------------------------------------------------------------------------------


async def validate_workflow(
    call: Call, definition: Definition,
    workflow: Annotated[str | None, Field(description="Check the definition as changes to this "
                                                      "stored workflow instead.")] = None,
) -> Any:  # fmt: skip
    """Check a workflow definition without storing it: {valid, errors, warnings}, each problem
    with its JSON path into the definition ($.steps[1].dependsOn[0]) and what is wrong. The same
    rules as creating it (and its tests' scenarios too)."""
    return await call.engine.workflows.check(call.org, definition, ref=workflow)


async def trial(
    call: Call, definition: Definition,
    scenarios: Annotated[list[dict[str, Any]] | dict[str, Any] | None, Field(
        description="Test scenarios in the format of plait test (docs/testing.md): a list of "
                    "{name, input | event: {type, data}, mocks: {action: output | {value: X} | "
                    "{error: msg, type?} | [one answer per call, the last repeating]}, tasks: "
                    "{stepId: {decision, data, comment, by, after}}, expect: {status, output, "
                    "steps: {stepId: {status, attempts}}, calls: {action: count}}}; a state "
                    "machine's scenario also takes events: [{type, data, advance}] and expects "
                    "state, visited, context. Or {scenarios: [...]}. Default: the definition's "
                    "own tests."
    )] = None,
) -> Any:  # fmt: skip
    """Test a workflow definition before it is stored or activated: run each scenario on a
    throwaway engine with mocked actions and virtual time (sleeps and timeouts pass at once),
    touching nothing real, and report which passed, each failed expectation with its path, and
    each step's errors."""
    return await call.engine.workflow_tests.trial(call.org, definition, scenarios)


async def definition_schema(call: Call) -> Any:
    """The JSON Schema of plait's canonical workflow definition: every field a definition may
    have and its type. Read it before writing a definition."""
    from plait.definitions.model import json_schema

    return json_schema()


# -- diagnosis ----------------------------------------------------------------------------------


async def run_timeline(call: Call, run: RunId) -> Any:
    """A run's timeline, to find why it failed or where it waits: its status and error, each
    step in order with its status, attempts, times, duration and error (type, message, the
    definition path at fault), and the run's history (cancels, resumes, forks)."""
    return timeline(await call.engine.runs.get(call.org, run))


async def workflow_stats(
    call: Call, workflow: WorkflowRef,
    window: Annotated[str, Field(description="How far back: 30m, 24h, 7d, ...")] = "24h",
) -> Any:  # fmt: skip
    """How a workflow is doing: its runs in the window by outcome, success rate, p50/p95
    duration, failures by step and retries, runs live now and its last run."""
    return await call.engine.workflows.stats(call.org, workflow, window=window)


async def list_circuits(call: Call) -> Any:
    """The organization's circuit breakers (a named dependency its steps call): each one's
    state (closed, open until halfOpenAt, half-open), failures in the window, how often it
    opened and the last failure, to see why steps fail at once with CircuitOpen."""
    return (await call.engine.circuits.list(call.org)).wire()


async def reset_circuit(
    call: Call, name: Annotated[str, Field(min_length=1, description="The circuit's name.")]
) -> Any:
    """Close a circuit breaker now, its failures forgotten (once the dependency is back): the
    next calls of its steps go through. Returns the circuit."""
    return (await call.engine.circuits.reset(call.org, name)).wire()


async def get_costs(
    call: Call,
    period: Annotated[str | None, Field(max_length=20, description="YYYY-MM (a month), "
                                        "YYYY-MM..YYYY-MM or YYYY, in UTC; default: this "
                                        "month.")] = None,
    workflow: Annotated[str | None, Field(min_length=1, description="One workflow's name "
                                          "(default: every workflow).")] = None,
) -> Any:  # fmt: skip
    """What the organization's runs cost by their workflows' pricing (brief 003): each
    workflow's priced runs and total per month and currency, and the totals per currency, in
    exact decimals (strings). A run's own line items are on the run (query or run_timeline's
    run: its cost)."""
    return (await call.engine.costs.summary(call.org, period=period, workflow=workflow)).wire()


async def get_retention(call: Call) -> Any:
    """How long the organization keeps ended runs: the engine's default (maxAgeDays), the
    organization's policy and each workflow's (maxAgeDays, maxRuns, per status), and the
    retention of events, finished tasks and audit entries (docs/retention.md)."""
    return (await call.engine.retention.show(call.org)).wire()


async def purge_runs(
    call: Call,
    older_than: Annotated[str, Field(min_length=2, max_length=40, description="Runs that "
                                     "ended longer ago than this go: 30d, 12h, 90s, 2w.")],
    workflow: Annotated[str | None, Field(min_length=1, description="Only this workflow's "
                                          "runs (its name).")] = None,
    dry_run: Annotated[bool, Field(description="Count the runs that would go; delete "
                                   "nothing.")] = True,
) -> Any:  # fmt: skip
    """Delete the organization's ended runs older than ``older_than`` (runs that have not ended,
    runs with a live child, and children whose parent stays, stay; counters and cost totals do
    not move), at most 10,000 per call (``more``: call again). By default a dry run: it answers
    how many runs would go. Returns {runs, dryRun, before, more, ...}."""
    from plait.service.retention import PURGE_BATCHES

    done = await call.engine.retention.purge(call.org, older_than, workflow=workflow,
                                             dry_run=dry_run,
                                             max_batches=PURGE_BATCHES)  # fmt: skip
    return done.wire()


def timeline(run: Run) -> dict[str, Any]:
    """The run's wire form cut to what diagnosing it needs, with durations."""
    wire = run.wire()
    steps = [
        {**{k: s[k] for k in ("key", "kind", "status", "attempts", "startedAt", "finishedAt",
                              "wakeAt", "error") if k in s},
         "durationMs": _ms(step.started_at, step.finished_at)}
        for step, s in zip(run.steps, wire.get("steps", []), strict=True)
    ]  # fmt: skip
    keep = ("$id", "workflow", "workflowVersion", "status", "outcome", "trigger", "input",
            "output", "error", "createdAt", "startedAt", "finishedAt", "wakeAt", "failedSteps",
            "skippedSteps", "parentRunId", "children", "history")  # fmt: skip
    return {**{k: wire[k] for k in keep if k in wire},
            "durationMs": _ms(run.started_at, run.finished_at), "steps": steps}  # fmt: skip


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


# -- the table ----------------------------------------------------------------------------------

STARTS_RUNS = frozenset({"activate_workflow", "trigger_workflow", "emit_event", "resume_run",
                         "retry_run", "fork_run", "signal_run", "complete_task",
                         "create_schedule"})  # fmt: skip
"""Tools whose effect reaches past plait: the runs they start or move on call the actions of
their workflows (HTTP requests, email, ...), so they are marked open-world."""

TOOLS: tuple[Spec, ...] = (
    Spec(query, "viewer", "Query plait resources", changes=False),
    Spec(validate_workflow, "viewer", "Validate a workflow definition", changes=False),
    Spec(trial, "editor", "Test a workflow definition with scenarios", changes=False,
         tool="test_workflow"),
    Spec(definition_schema, "viewer", "JSON Schema of workflow definitions", changes=False),
    Spec(run_timeline, "viewer", "A run's timeline with step errors", changes=False),
    Spec(workflow_stats, "viewer", "A workflow's recent stats", changes=False),
    Spec(list_circuits, "viewer", "Circuit breakers and their state", changes=False),
    Spec(get_costs, "viewer", "Costs per workflow and month", changes=False),
    Spec(get_retention, "viewer", "Retention policies of ended runs", changes=False),
    Spec(create_workflow, "editor", "Create a workflow (Draft)", verb="create",
         resource="workflow"),
    Spec(update_workflow, "editor", "Update a workflow (new version)", verb="update",
         resource="workflow", target="workflow"),
    Spec(activate_workflow, "editor", "Activate a workflow", idempotent=True, verb="activate",
         resource="workflow", target="workflow"),
    Spec(pause_workflow, "editor", "Pause a workflow", idempotent=True, verb="pause",
         resource="workflow", target="workflow"),
    Spec(archive_workflow, "editor", "Archive a workflow (final)", destructive=True,
         idempotent=True, verb="archive", resource="workflow", target="workflow"),
    Spec(trigger_workflow, "runner", "Start a run of a workflow", verb="trigger",
         resource="workflow", target="workflow"),
    Spec(emit_event, "runner", "Emit an event", verb="emit", resource="event"),
    Spec(cancel_run, "runner", "Cancel a run", destructive=True, idempotent=True,
         verb="cancel", resource="run", target="run"),
    Spec(resume_run, "runner", "Resume a failed run", verb="resume", resource="run",
         target="run"),
    Spec(retry_run, "runner", "Retry a run as a new run", verb="retry", resource="run",
         target="run"),
    Spec(fork_run, "runner", "Fork a run from a step", verb="fork", resource="run",
         target="run"),
    Spec(signal_run, "runner", "Signal a run", verb="signal", resource="run", target="run"),
    Spec(complete_task, "runner", "Complete a human task", verb="complete", resource="task",
         target="task"),
    Spec(create_schedule, "editor", "Create a schedule", verb="create", resource="schedule"),
    Spec(delete_schedule, "editor", "Delete a schedule", destructive=True, idempotent=True,
         verb="delete", resource="schedule", target="schedule"),
    Spec(clear_step_cache, "editor", "Clear a workflow's step-result cache", destructive=True,
         idempotent=True, verb="clear", resource="cache", target="workflow"),
    Spec(reset_circuit, "editor", "Reset a circuit breaker (close it)", idempotent=True,
         verb="reset", resource="circuit", target="name"),
    Spec(purge_runs, "admin", "Purge ended runs older than a duration", destructive=True,
         idempotent=True, verb="purge", resource="runs", target="workflow"),
)  # fmt: skip
"""Every tool, the role it needs (the REST route's) and what it does."""


WhoCalls = Callable[[Context], Principal]
"""How a tool call finds its caller (the HTTP request's key, or stdio's)."""


def register(server: MCPServer[Any], engine: Engine, who: WhoCalls, *, read_only: bool) -> None:
    """Add the tools to ``server`` (only those that change nothing, ``read_only``)."""
    for spec in TOOLS:
        if read_only and spec.changes:
            continue
        server.add_tool(_wrapped(spec, engine, who), name=spec.name, title=spec.title,
                        description=inspect.getdoc(spec.fn), annotations=spec.annotations(),
                        structured_output=False)  # fmt: skip


def _wrapped(spec: Spec, engine: Engine, who: WhoCalls) -> Callable[..., Awaitable[Any]]:
    """``spec.fn`` as the SDK calls it: the same arguments (and so the same input schema), and
    the SDK's context in place of the :class:`Call`."""

    async def tool(ctx: Context, **arguments: Any) -> CallToolResult:
        try:
            principal = who(ctx)
        except PlaitError as exc:
            return problem(exc, spec.name)
        with acting(principal.actor()):
            try:
                if not principal.allows(spec.role):
                    await _refused(engine, spec, principal, arguments)
                    raise RoleRefused(spec.role, principal.role)
                value = await spec.fn(Call(engine, principal), **arguments)
            except Exception as exc:  # every failure is the model's to read, as a problem
                return problem(exc, spec.name)
        return answer(value, principal.role)

    hints = typing.get_type_hints(spec.fn, include_extras=True)
    own = list(inspect.signature(spec.fn).parameters.values())[1:]  # all but the Call
    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
                  for p in own]  # fmt: skip
    parameters.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context))
    tool.__name__ = spec.name
    tool.__qualname__ = spec.name
    tool.__doc__ = spec.fn.__doc__
    tool.__signature__ = inspect.Signature(parameters, return_annotation=CallToolResult)  # type: ignore[attr-defined]
    tool.__annotations__ = {**{p.name: p.annotation for p in parameters},
                            "return": CallToolResult}  # fmt: skip
    return tool


async def _refused(engine: Engine, spec: Spec, who: Principal, arguments: dict[str, Any]) -> None:
    """Audit a change refused for the key's role (reads refused are not changes), as REST
    does."""
    if not spec.changes:
        return
    target = arguments.get(spec.target) if spec.target else None
    await engine.audit.denied(who.org, who.actor(), spec.verb, spec.resource,
                              str(target) if target is not None else "-")  # fmt: skip
