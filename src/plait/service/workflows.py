"""The workflow registry and lifecycle: create, update (immutable versions), delete, get, find,
activate, pause, trigger, archive; before hooks that can veto, after hooks (``service/hooks.py``);
``Workflow.<verb>ed`` events for every verb (the store announces ``Workflow.triggered`` with the
run, in the transaction that starts it, as it does for every other start).

Lifecycle: ``Draft -> Activated <-> Paused``, and any state but ``Archived`` ``-> Archived``
(terminal). Activation needs a trigger (events or a schedule) and at least one step, and every
action the definition calls must be registered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from plait import text
from plait.errors import (
    IllegalTransition,
    InvalidArguments,
    PlaitError,
    ReadOnlyWorkflow,
    WorkflowNotFound,
)
from plait.ids import new_id
from plait.resources.base import required_stamp
from plait.resources.workflows import SavedWorkflow, StoredWorkflow, WorkflowPage
from plait.service.audit import actor_data, audited
from plait.service.hooks import Hook
from plait.service.idempotency import Request, once
from plait.service.listing import select
from plait.service.workflow_tests import ScenarioRunner, check_scenarios, tests_problems
from plait.store.records import WorkflowRecord

if TYPE_CHECKING:
    from plait.definitions.model import Definition, Trigger
    from plait.definitions.validate import Problem
    from plait.resources.business_metrics import WorkflowMetrics, WorkflowStats
    from plait.resources.runs import Run
    from plait.resources.schedules import Schedule
    from plait.resources.workflows import Validation, WorkflowRevision, WorkflowVersions
    from plait.service.deps import Deps
    from plait.service.events import EventService
    from plait.service.runs import RunService
    from plait.service.schedules import ScheduleService
    from plait.store.base import Store

log = logging.getLogger(__name__)

PAST = {"create": "created", "update": "updated", "delete": "deleted", "activate": "activated",
        "pause": "paused", "trigger": "triggered", "archive": "archived"}  # fmt: skip
HOOK_WAIT_SECONDS = 5.0
"""How long a manual trigger waits for its run's after-hooks before it answers."""
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "activate": (("Draft", "Paused"), "Activated"),
    "pause": (("Activated",), "Paused"),
    "archive": (("Draft", "Activated", "Paused"), "Archived"),
}
# Keys of a workflow body that configure the service rather than the definition.


class ArchivedWorkflow(IllegalTransition):
    """An Archived workflow is final: it cannot be updated (409)."""

    def __init__(self, workflow_id: str) -> None:
        PlaitError.__init__(
            self, f"cannot update workflow {workflow_id}: an Archived workflow cannot be updated"
        )
        self.workflow_id, self.verb, self.current, self.target = (
            workflow_id, "update", "Archived", "Archived")  # fmt: skip


class ConcurrentUpdate(IllegalTransition):
    """Another update (or a delete) changed the workflow between reading and writing it (409)."""

    def __init__(self, workflow_id: str, expected: int, current: int | None) -> None:
        now = "it was deleted" if current is None else f"it is now at version {current}"
        PlaitError.__init__(
            self, f"cannot update workflow {workflow_id}: it was changed concurrently (expected "
            f"version {expected}, {now}); read it again and retry",
        )  # fmt: skip
        self.workflow_id, self.verb, self.current, self.target = (
            workflow_id, "update", f"version {current}", f"version {expected + 1}")  # fmt: skip
        self.expected = expected
        self.found = current


async def stored_workflow(store: Store, org: str, ref: str) -> WorkflowRecord:
    """The stored workflow ``ref`` (its id or name) of ``org``; ``WorkflowNotFound`` if none."""
    record = await store.get_workflow(org, ref)
    if record is None:
        raise WorkflowNotFound(ref)
    return record


class WorkflowService:
    """``engine.workflows``."""

    def __init__(
        self, deps: Deps, runs: RunService, events: EventService, schedules: ScheduleService
    ) -> None:
        self.deps = deps
        self.runs = runs
        self.events = events
        self.schedules = schedules
        self.scenarios: ScenarioRunner | None = None
        """Runs test scenarios on throwaway engines (the engine sets it): a workflow whose
        ``tests`` are ``required`` is activated only if they pass."""

    # -- hooks ----------------------------------------------------------------------------------

    def before(self, verb: str) -> Callable[[Hook], Hook]:
        """Register a hook run before ``verb``; raising vetoes the verb (``HookVetoed``).

        A hook is called with the workflow as a :class:`StoredWorkflow` (the resource as it
        stands before the verb; read ``workflow.status``, ``workflow.wire()["status"]``) and,
        if it takes a second parameter, a ``HookContext`` that can emit events; it may be a
        coroutine function. ``before("trigger")`` gates the manual trigger only (``trigger``,
        ``POST .../trigger``, ``plait workflows trigger``): an event, schedule or parent starts
        its run in the transaction that stores it, where no Python hook runs (a trigger
        ``filter`` decides those)."""
        return self.deps.hooks.register("before", verb)

    def after(self, verb: str) -> Callable[[Hook], Hook]:
        """Register a hook run after ``verb`` has committed (its errors are logged); it is
        called with the :class:`StoredWorkflow` as the verb left it, and a ``HookContext`` if
        it takes one. ``after("trigger")`` runs after every start of a run of a stored
        workflow, ``after("finish")`` after every end (``ctx.run``: the run, its outcome), in
        the process whose transaction started or ended it, once committed."""
        return self.deps.hooks.register("after", verb)

    async def _run_before(self, verb: str, resource: StoredWorkflow) -> None:
        await self.deps.hooks.before(resource.organization, verb, resource)

    async def _finish(self, org: str, verb: str, resource: StoredWorkflow) -> StoredWorkflow:
        """After a verb commits: emit ``Workflow.<verb>ed`` (its data: the workflow's
        document, and the ``actor`` who made the change) and run the after hooks."""
        data = {**resource.wire(), "actor": actor_data()}
        await self.events.emit(org, f"Workflow.{PAST[verb]}", data, source="workflow")
        await self.deps.hooks.after(org, verb, resource)
        return resource

    # -- verbs ----------------------------------------------------------------------------------

    async def create(self, org: str, body: dict[str, Any]) -> SavedWorkflow:
        """Store a new workflow as a Draft (version 1), with the warnings of its validation;
        raises ``InvalidDefinition``. A Draft may have no steps yet (see :func:`_stepless`);
        activation requires them."""
        named = body.get("name") if isinstance(body, dict) else None
        async with audited(self.deps, org, "create", "workflow", str(named or "-")) as change:
            text.check(body)
            definition, warnings = await self._checked(body)
            name = definition.name if definition is not None else str(body["name"])
            self.schedules.check_declared(org, body)
            now = self.deps.now()
            record = WorkflowRecord(org, new_id("workflow", 8), name, "definition", "Draft", 1,
                                    dict(body), 0, 0, 0, 0, None, now, now,
                                    _events(definition))  # fmt: skip
            change.resource_id, change.details = record.id, {"name": name}
            await self._run_before("create", self._resource(record, definition))
            store = await self.deps.store()
            await store.create_workflow(record, _dump(definition), _events(definition))
            change.version_after = 1
            created = await self._finish(org, "create", self._resource(record, definition))
            return SavedWorkflow.saved(created, warnings)

    async def update(self, org: str, ref: str, patch: dict[str, Any]) -> SavedWorkflow:
        """Merge ``patch`` into the workflow's document and store it as a new version, with the
        warnings of its validation. The schedules the document declares (``schedule``) are
        replaced by the new ones. An Activated workflow whose new version requires its test
        scenarios (``tests.required``) is updated only if they pass (``ScenariosFailed``)."""
        async with audited(self.deps, org, "update", "workflow", ref) as change:
            if isinstance(patch, dict):
                change.details = {"fields": sorted(str(k) for k in patch)}
            record = await self._record(org, ref)
            change.resource_id, change.version_before = record.id, record.version
            saved = await self._update(org, record, patch)
            change.version_after = saved.version
            return saved

    async def _update(
        self, org: str, record: WorkflowRecord, patch: dict[str, Any]
    ) -> SavedWorkflow:
        text.check(patch)
        if record.kind != "definition":
            raise ReadOnlyWorkflow(record.name)
        if record.status == "Archived":
            raise ArchivedWorkflow(record.id)
        document = {**record.document, **patch}
        definition, warnings = await self._checked(document)
        self.schedules.check_declared(org, document)
        if record.status == "Activated":
            self._check_activation(definition, document)
            await check_scenarios(self.scenarios, record.name, document, "update")
        await self._run_before("update", self._resource(record, definition))
        store = await self.deps.store()
        updated = await store.update_workflow(org, record.id, record.version, document,
                                              _dump(definition), _events(definition),
                                              self.deps.now())  # fmt: skip
        if updated is None:
            current = await store.get_workflow(org, record.id)
            raise ConcurrentUpdate(record.id, record.version,
                                   None if current is None else current.version)  # fmt: skip
        if record.document.get("schedule") != document.get("schedule"):
            await self.schedules.replace_declared(org, updated)
        saved = await self._finish(org, "update", self._resource(updated, definition))
        return SavedWorkflow.saved(saved, warnings)

    async def delete(self, org: str, ref: str) -> None:
        async with audited(self.deps, org, "delete", "workflow", ref) as change:
            record = await self._record(org, ref)
            change.resource_id, change.version_before = record.id, record.version
            change.details = {"name": record.name}
            await self._delete(org, record)

    async def _delete(self, org: str, record: WorkflowRecord) -> None:
        if record.kind != "definition":
            raise ReadOnlyWorkflow(record.name)
        resource = await self._present(record)
        await self._run_before("delete", resource)
        store = await self.deps.store()
        await store.delete_workflow(org, record.id)
        await self.schedules.forget_workflow(org, record.id)
        await self._finish(org, "delete", resource)

    async def get(self, org: str, ref: str) -> StoredWorkflow:
        """The workflow ``ref`` (its id or name); ``WorkflowNotFound`` if there is none."""
        return await self._present(await self._record(org, ref))

    async def versions(self, org: str, ref: str) -> WorkflowVersions:
        """The versions of stored workflow ``ref`` (id or name), newest first; a code
        workflow has none."""
        from plait.resources.workflows import VersionEntry, WorkflowVersions

        record = await self._record(org, ref)
        store = await self.deps.store()
        rows = await store.list_workflow_versions(org, record.id)
        entries = [VersionEntry(version=v, created_at=required_stamp(at)) for v, at in rows]
        return WorkflowVersions(workflow=record.id, name=record.name, current=record.version,
                                versions=entries)  # fmt: skip

    async def version(self, org: str, ref: str, version: int) -> WorkflowRevision:
        """Version ``version`` of stored workflow ``ref``: its document as written and its
        canonical definition; ``WorkflowNotFound`` if the workflow has no such version."""
        from plait.resources.workflows import WorkflowRevision

        record = await self._record(org, ref)
        store = await self.deps.store()
        found = None
        if 1 <= version <= record.version:  # versions run 1..current, all kept
            found = await store.get_workflow_version(org, record.id, version)
        if found is None:
            raise WorkflowNotFound(f"{record.name} version {version}")
        return WorkflowRevision(workflow=record.id, version=found.version,
                                document=found.document, definition=found.definition,
                                created_at=required_stamp(found.created_at))  # fmt: skip

    async def check(self, org: str, body: Any, *, ref: str | None = None) -> Validation:
        """What creating ``body`` (or, with ``ref``, updating that workflow with it as a patch)
        would find, without storing anything: the errors that would refuse it and the warnings
        it would be saved with, at their JSON paths (the rules of :meth:`create`, with the
        declared schedules checked too; activation's extra needs are not)."""
        from plait.definitions.validate import InvalidDefinition, Problem
        from plait.resources.workflows import Validation

        document = body
        if ref is not None:
            record = await self._record(org, ref)
            if record.kind != "definition":
                raise ReadOnlyWorkflow(record.name)
            document = {**record.document, **body} if isinstance(body, dict) else body
        try:
            text.check(document)
            _, warnings = await self._checked(document)
            self.schedules.check_declared(org, document)
        except InvalidDefinition as exc:
            return Validation.of(exc.problems, exc.warnings)
        except PlaitError as exc:
            where = getattr(exc, "path", None)
            path = where if isinstance(where, str) and where else "$"
            return Validation.of([Problem(path, str(getattr(exc, "reason", None) or exc))], [])
        return Validation.of([], warnings)

    async def metrics(
        self, org: str, ref: str, *, window: str = "24h", name: str | None = None,
        by_labels: bool = False,
    ) -> WorkflowMetrics:  # fmt: skip
        """The business metrics of workflow ``ref`` (id or name; a registered code workflow
        by name) recorded in ``window`` (``30m``, ``24h``, ``7d``): count, sum, mean, p50,
        p95, min and max of each (only ``name`` when given; each label set apart with
        ``by_labels``). See docs/observability.md, Business metrics."""
        from plait.service.business_metrics import BusinessMetrics

        return await BusinessMetrics(self.deps, self).metrics(
            org, ref, window=window, name=name, by_labels=by_labels)  # fmt: skip

    async def stats(self, org: str, ref: str, *, window: str = "24h") -> WorkflowStats:
        """How workflow ``ref`` is doing: its runs created in ``window`` by outcome, success
        rate, p50/p95 duration, failures by step and retries; its runs live now; its last
        run; a stored workflow's all-time counters. See docs/observability.md, Status and
        stats."""
        from plait.service.business_metrics import BusinessMetrics

        return await BusinessMetrics(self.deps, self).stats(org, ref, window=window)

    async def find(
        self,
        org: str,
        *,
        where: dict[str, Any] | None = None,
        sort: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        search: str | None = None,
    ) -> WorkflowPage:
        """Workflows of ``org`` filtered by equality on any field of the resource as the wire
        shows it (``{"triggerEvent": "Deal.won"}``) and, with ``search``, to those whose name
        or description contains it (ignoring case), sorted by one field (``-lastRunAt`` for
        descending; ``createdAt`` by default), a page at a time."""
        store = await self.deps.store()
        resources = [await self._present(r) for r in await store.list_workflows(org)]
        if search:
            needle = search.casefold()
            resources = [r for r in resources if needle in r.name.casefold()
                         or needle in str(r.description or "").casefold()]  # fmt: skip
        where = dict(where or {})
        if where.get("status") == "Activated":  # Triggered is Activated with a run executing
            del where["status"]
            resources = [r for r in resources if r.status in ("Activated", "Triggered")]
        items, next_cursor = select(resources, where=where, sort=sort, limit=limit, cursor=cursor)
        return WorkflowPage(items=items, next_cursor=next_cursor)

    async def activate(self, org: str, ref: str) -> StoredWorkflow:
        return await self._lifecycle(org, ref, "activate")

    async def pause(self, org: str, ref: str) -> StoredWorkflow:
        return await self._lifecycle(org, ref, "pause")

    async def archive(self, org: str, ref: str) -> StoredWorkflow:
        return await self._lifecycle(org, ref, "archive")

    async def _lifecycle(self, org: str, ref: str, verb: str) -> StoredWorkflow:
        """A lifecycle verb, audited with the version and the status before and after."""
        async with audited(self.deps, org, verb, "workflow", ref) as change:
            record = await self._record(org, ref)
            change.resource_id, change.version_before = record.id, record.version
            change.details = {"statusBefore": record.status}
            activating = verb == "activate" and record.kind == "definition"
            if activating and record.status in TRANSITIONS["activate"][0]:
                definition, _ = await self._checked(record.document)
                self._check_activation(definition, record.document)
                await check_scenarios(self.scenarios, record.name, record.document)
            updated = await self._transition(org, record, verb)
            change.version_after = updated.version
            change.details["statusAfter"] = updated.status
            return updated

    async def schedule(
        self, ref: str, spec: dict[str, Any] | None = None, *, org: str = "default"
    ) -> Schedule:
        """Schedule recurring runs of a workflow (id or name), as brief 001 writes it::

            await engine.workflows.schedule("quarterly-review", {
                "cronExpression": "0 0 1 1,4,7,10 *", "input": {"segment": "enterprise"},
                "notifications": {"onStart": ["am@example.com"],
                                  "onComplete": ["cs@example.com"]}})

        ``spec`` is what ``engine.schedules.create`` takes, less ``workflow``: ``cron`` (or
        ``cronExpression``), ``timezone``, ``catchup``, ``maxCatchup``, ``input``,
        ``notifications``. The schedule fires while the workflow is Activated.

        Raises:
            ScheduleInvalid: a field is invalid (named by its path).
            UnknownWorkflow: ``org`` has no such workflow.
        """
        return await self.schedules.create(org, {**(spec or {}), "workflow": ref})

    async def trigger(
        self, org: str, ref: str, input: Any = None, *, idempotency_key: str | None = None,
        priority: int | None = None,
    ) -> Run:  # fmt: skip
        """Start a run by hand (Draft and Activated workflows); returns the run. With
        ``idempotency_key`` a repeat starts nothing and answers the first run as it is now
        (``plait.service.idempotency``). ``priority`` (-10 to 10) overrides the workflow's
        (docs/flow-control.md)."""
        asked = {"workflow": ref, "input": input}
        if priority is not None:
            asked["priority"] = priority
        request = Request(f"workflows.trigger {ref}", asked)
        async with audited(self.deps, org, "trigger", "workflow", ref) as change:
            run = await once(self.deps, org, idempotency_key, request,
                             lambda: self._trigger(org, ref, input, priority),
                             keep=lambda run: {"run": run.id},
                             recall=lambda kept: self.runs.get(org, kept["run"]))  # fmt: skip
            change.run = run.id
            if run.workflow_id is not None:
                change.resource_id = run.workflow_id
            change.details = {"workflowVersion": run.workflow_version}
        # Its after-hooks have run when the trigger answers (announced by the store: see
        # hooks.py), unless they take longer than HOOK_WAIT_SECONDS: then they go on alone.
        await self.deps.hooks.settled("trigger", run.id, timeout=HOOK_WAIT_SECONDS)
        return run

    async def _trigger(self, org: str, ref: str, input: Any, priority: int | None) -> Run:
        record = await self._record(org, ref)
        if record.status not in ("Draft", "Activated"):
            raise IllegalTransition(record.id, "trigger", record.status, "Triggered")
        if record.kind == "definition" and _stepless(record.document):
            _refuse_stepless("a workflow needs at least one step before it can run")
        if record.kind == "definition" and _is_machine(record.document):
            raise InvalidArguments(record.name, "a state machine is not triggered by hand: send "
                                   "an event to an instance (engine.machines.send, or POST "
                                   "/workflows/{id}/instances/{key}/events)")  # fmt: skip
        await self._run_before("trigger", await self._present(record))
        return await self.runs.start_stored(record, input, trigger="manual", priority=priority)

    async def _transition(self, org: str, record: WorkflowRecord, verb: str) -> StoredWorkflow:
        allowed, target = TRANSITIONS[verb]
        if record.status not in allowed:
            raise IllegalTransition(record.id, verb, record.status, target)
        await self._run_before(verb, await self._present(record))
        store = await self.deps.store()
        now = self.deps.now()
        updated, changed = await store.set_workflow_status(org, record.id, allowed, target, now)
        if updated is None:
            raise WorkflowNotFound(record.id)
        if not changed:
            raise IllegalTransition(record.id, verb, updated.status, target)
        await self.schedules.set_workflow_enabled(org, updated, target == "Activated")
        return await self._finish(org, verb, await self._present(updated))

    # -- helpers --------------------------------------------------------------------------------

    async def _record(self, org: str, ref: str) -> WorkflowRecord:
        return await stored_workflow(await self.deps.store(), org, ref)

    async def _present(self, record: WorkflowRecord) -> StoredWorkflow:
        """The resource of a stored workflow. A read: its definition is not parsed again (its
        trigger events were stored with it)."""
        events: list[str] = []
        if record.kind == "definition":
            events = record.triggers
        else:
            workflow = self.deps.catalog.workflows.get(record.name)
            events = list(workflow.triggers) if workflow is not None else []
        return StoredWorkflow.of(record, events)

    def _resource(self, record: WorkflowRecord, definition: Definition | None) -> StoredWorkflow:
        return StoredWorkflow.of(record, _events(definition))

    async def _checked(self, body: dict[str, Any]) -> tuple[Definition | None, list[Problem]]:
        """:meth:`_draft` in a thread: checking a large document takes a while (a second for
        1 MB), and other requests go on meanwhile."""
        return await asyncio.to_thread(self._draft, body)

    def _draft(self, body: dict[str, Any]) -> tuple[Definition | None, list[Problem]]:
        """Validate ``body`` (any dialect) by the Draft rules: the Definition, or None for a
        Draft without steps yet, whose fields must still be well-typed; actions are checked on
        activation. With it, the warnings found. Raises ``InvalidDefinition``
        (``LimitExceeded`` for a document over a limit of the engine's settings)."""
        from plait.definitions.load import SERVICE_KEYS, check_draft
        from plait.definitions.validate import InvalidDefinition, Problem

        if not isinstance(body, dict):
            raise InvalidDefinition([Problem("$", "a workflow must be a JSON object")], [])
        document = {k: v for k, v in body.items() if k not in SERVICE_KEYS}
        result = check_draft(document, settings=self.deps.settings)
        if result.limit is not None:
            raise result.limit
        tests = tests_problems(body, result.definition)
        if result.errors or tests:
            raise InvalidDefinition(result.errors + tests, result.warnings)
        if result.definition is None:
            return None, result.warnings
        cost_limit = self.deps.settings.max_expression_cost
        return _with_service_options(result.definition, body, cost_limit), result.warnings

    def _check_activation(self, definition: Definition | None, document: dict[str, Any]) -> None:
        """What activation needs besides a valid definition: steps, a trigger (or a schedule),
        and only registered actions (checked on the definition: it is not read again)."""
        from plait.definitions.fallbacks import missing_fallbacks
        from plait.definitions.validate import InvalidDefinition, Problem, unknown_actions

        if definition is None:
            _refuse_stepless("a workflow needs at least one step before activation")
        problems: list[Problem] = []
        has_events = definition.trigger is not None and bool(definition.trigger.events)
        # A machine without a correlation takes its events from engine.machines.send only.
        if not has_events and not document.get("schedule") and definition.machine is None:
            problems.append(Problem("$.triggerEvent", "a trigger event (or a schedule) must be "
                                    "defined before activation"))  # fmt: skip
        problems.extend(unknown_actions(definition, self.deps.catalog.known_action))
        problems.extend(missing_fallbacks(definition))
        if problems:
            raise InvalidDefinition(problems, [])


def _with_service_options(
    definition: Definition, body: dict[str, Any], cost_limit: int
) -> Definition:
    from plait.definitions.model import Trigger
    from plait.definitions.validate import InvalidDefinition

    options = {k: body[k] for k in ("filter", "debounce") if k in body}
    if not options:
        return definition
    trigger = definition.trigger or Trigger()
    try:
        merged = Trigger.model_validate({**trigger.model_dump(), **options})
    except ValueError as exc:
        raise InvalidArguments(definition.name, f"invalid trigger options: {exc}") from exc
    problems = _option_problems(merged, cost_limit)
    if problems:
        raise InvalidDefinition(problems, [])
    return definition.model_copy(update={"trigger": merged})


def _option_problems(trigger: Trigger, cost_limit: int) -> list[Problem]:
    """The trigger options' expressions must compile and keep within ``max_expression_cost``
    (each event evaluates them, inside the transaction that stores it)."""
    from plait.definitions.validate import Problem, compile_message
    from plait.expressions import ExpressionError, ExpressionTooCostly, compile_expression

    key = trigger.debounce.key if trigger.debounce is not None else None
    problems: list[Problem] = []
    for path, source in (("$.filter", trigger.filter), ("$.debounce.key", key)):
        if source is None:
            continue
        try:
            compile_expression(source).check_cost(cost_limit)
        except ExpressionTooCostly as exc:
            problems.append(Problem(path, str(exc)))
        except ExpressionError as exc:
            problems.append(Problem(path, compile_message(exc, source)))
    return problems


def _stepless(body: dict[str, Any]) -> bool:
    """A Draft without steps yet: no ``steps`` (or an empty list), and neither a node graph
    nor a state machine."""
    if not isinstance(body, dict) or any(k in body for k in ("nodes", "states", "machine")):
        return False
    return body.get("steps") in (None, [])


def _is_machine(document: dict[str, Any]) -> bool:
    """Whether a stored document is a state machine (the dialect's keys; not read again)."""
    return "states" in document or document.get("machine") is not None


def _refuse_stepless(message: str) -> NoReturn:
    from plait.definitions.validate import InvalidDefinition, Problem

    raise InvalidDefinition([Problem("$.steps", message)], [])


def _events(definition: Definition | None) -> list[str]:
    if definition is None or definition.trigger is None:
        return []
    return list(definition.trigger.events)


def _dump(definition: Definition | None) -> dict[str, Any]:
    """The canonical definition stored with a version (``{}`` for a Draft without steps)."""
    if definition is None:
        return {}
    data: dict[str, Any] = definition.model_dump(mode="json", by_alias=True)
    return data
