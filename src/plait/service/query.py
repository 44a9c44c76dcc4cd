"""One query over every kind of resource, as the brief's MCP interface asks: a page,
``{type, filter, sort, limit, cursor}``, or one resource, ``{type, id}``.

    page = await engine.query.answer("acme", "Workflow", filter={"status": "Activated"},
                                     sort={"lastRunAt": "desc"}, limit=20)
    one = await engine.query.answer("acme", "Workflow", id="workflow_nV4xKpQm")

Each type is answered by its own service's ``find`` and ``get``, with the filters its REST list
takes (``GET /~{org}/runs?workflow=&status=``, ...), so a query finds what the list finds.
``POST /~{org}/query`` and the MCP server's ``query`` tool both call :meth:`QueryService.answer`.
A query that cannot be answered raises :class:`QueryInvalid`, which lists every problem at its
path in the query (``$.filter.status``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plait.errors import InvalidParameter, InvalidQuery, NotFound
from plait.service.pages import MAX_LIMIT

if TYPE_CHECKING:
    from plait.definitions.validate import Problem
    from plait.resources.base import Page, Resource
    from plait.service.deps import Deps
    from plait.service.events import EventService
    from plait.service.machines import MachineService
    from plait.service.runs import RunService
    from plait.service.schedules import ScheduleService
    from plait.service.tasks import TaskService
    from plait.service.webhooks import WebhookService
    from plait.service.workflows import WorkflowService

QUERY_TYPES = ("Workflow", "Run", "Event", "Task", "Schedule", "Webhook", "MachineInstance")
"""The types a query may ask for (``MachineInstance``: an instance of a state machine)."""

FILTERS: dict[str, tuple[str, ...]] = {
    "Run": ("workflow", "status", "outcome", "trigger", "createdAfter", "createdBefore", "search"),
    "Event": ("type",),
    "Task": ("assignee", "status"),
    "Schedule": ("workflow",),
    "Webhook": (),
    "MachineInstance": ("workflow",),
}
"""The filters of each type but ``Workflow`` (which filters on any field): those of its REST
list, each a string (a run's ``createdAfter``/``createdBefore``: ISO 8601, or seconds since the
epoch)."""

TIMES = ("createdAfter", "createdBefore")

ORDER = {
    "Run": "newest first",
    "Event": "newest first",
    "Task": "newest first",
    "Schedule": "oldest first",
    "Webhook": "by name",
    "MachineInstance": "oldest first",
}
"""The fixed order of each type's pages (only workflows take ``sort``)."""


class QueryInvalid(InvalidParameter):
    """The query cannot be answered as asked: ``problems`` lists each at its path in the query
    (``$.filter.status``, ``$.sort``, ``$.id``)."""

    def __init__(self, kind: str, problems: list[Problem]) -> None:
        super().__init__(problems[0].path, problems[0].message)
        self.problems = problems
        listing = "; ".join(str(p) for p in problems[:5])
        self.args = (f"the {kind} query is invalid: {listing}",)


class QueryService:
    """``engine.query``: the one query over workflows, runs, events, tasks, schedules, webhooks
    and state machine instances, answered by their services."""

    def __init__(
        self, deps: Deps, *, workflows: WorkflowService, runs: RunService, events: EventService,
        tasks: TaskService, schedules: ScheduleService, webhooks: WebhookService,
        machines: MachineService,
    ) -> None:  # fmt: skip
        self.deps = deps
        self.workflows = workflows
        self.runs = runs
        self.events = events
        self.tasks = tasks
        self.schedules = schedules
        self.webhooks = webhooks
        self.machines = machines

    async def answer(
        self, org: str, type: str, *, id: str | None = None,
        filter: Mapping[str, Any] | None = None, sort: str | Mapping[str, Any] | None = None,
        limit: int = 100, cursor: str | None = None,
    ) -> Resource | Page[Any]:  # fmt: skip
        """``{type, id}``: that resource (``NotFound`` if ``org`` has none); otherwise a page of
        ``type`` filtered, sorted (workflows only: ``"-lastRunAt"`` or ``{"lastRunAt":
        "desc"}``) and paged by the previous page's ``nextCursor``. A state machine instance's
        id is ``workflow/key`` (or its ``key`` with ``filter: {"workflow": ...}``)."""
        where = dict(filter or {})
        order = _sort(sort)
        problems = _problems(type, id, where, sort, order, limit, cursor)
        if problems:
            raise QueryInvalid(type, problems)
        if id is not None:
            return await self._get(org, type, id, where.get("workflow"))
        try:
            return await self._find(org, type, where, order, limit, cursor)
        except InvalidQuery as exc:
            raise _in_filter(exc, where) from exc

    async def _get(self, org: str, type: str, id: str, workflow: str | None) -> Resource:
        if type == "Workflow":
            return await self.workflows.get(org, id)
        if type == "Run":
            return await self.runs.get(org, id)
        if type == "Event":
            return await self.events.get(org, id)
        if type == "Task":
            return await self.tasks.get(org, id)
        if type == "MachineInstance":
            if workflow is None:
                workflow, _, id = id.partition("/")
            return await self.machines.get(org, workflow, id)
        store = await self.deps.store()
        if type == "Schedule":
            schedule = await store.get_schedule(org, id)
            if schedule is None:
                raise NotFound(f"no schedule {id!r}")
            from plait.resources.schedules import Schedule

            return Schedule.of(schedule)
        webhook = await store.get_webhook(org, id)
        if webhook is None:
            raise NotFound(f"no webhook {id!r}")
        from plait.resources.webhooks import Webhook

        return Webhook.of(webhook)

    async def _find(
        self, org: str, type: str, where: dict[str, Any], sort: str | None, limit: int,
        cursor: str | None,
    ) -> Page[Any]:  # fmt: skip
        if type == "Workflow":
            return await self.workflows.find(org, where=where or None, sort=sort, limit=limit,
                                             cursor=cursor)  # fmt: skip
        if type == "Run":
            return await self.runs.find(
                org, workflow=where.get("workflow"), status=where.get("status"),
                outcome=where.get("outcome"), trigger=where.get("trigger"),
                created_after=_moment(where.get("createdAfter")),
                created_before=_moment(where.get("createdBefore")), search=where.get("search"),
                limit=limit, cursor=cursor,
            )  # fmt: skip
        if type == "Event":
            return await self.events.find(org, type=where.get("type"), limit=limit,
                                          cursor=cursor)  # fmt: skip
        if type == "Task":
            return await self.tasks.find(org, assignee=where.get("assignee"),
                                         status=where.get("status"), limit=limit,
                                         cursor=cursor)  # fmt: skip
        if type == "Schedule":
            return await self.schedules.find(org, where.get("workflow"), limit=limit,
                                             cursor=cursor)  # fmt: skip
        if type == "Webhook":
            return await self.webhooks.find(org, limit=limit, cursor=cursor)
        return await self.machines.find(org, where["workflow"], limit=limit, cursor=cursor)


def _in_filter(exc: InvalidQuery, where: dict[str, Any]) -> InvalidQuery:
    """A list service's refusal of a filter value, at its path in the query's ``filter``
    (``$.status`` -> ``$.filter.status``; a refusal without a path: the one filter given)."""
    path = getattr(exc, "path", None)
    if isinstance(path, str) and path.startswith("$.") and not path.startswith("$.filter."):
        name = path.removeprefix("$.").removeprefix("query.")
        return InvalidParameter(f"$.filter.{name}", str(getattr(exc, "reason", None) or exc))
    if not path and len(where) == 1 and "cursor" not in str(exc):
        return InvalidParameter(f"$.filter.{next(iter(where))}", str(exc))
    return exc


def _sort(sort: str | Mapping[str, Any] | None) -> str | None:
    """The brief's ``{"field": "asc" | "desc"}`` as ``field`` / ``-field`` (a string as is);
    a mapping of another shape is left for :func:`_problems` to name."""
    if isinstance(sort, Mapping):
        if len(sort) != 1:
            return None
        ((field, order),) = sort.items()
        if order not in ("asc", "desc") or not isinstance(field, str):
            return None
        return f"-{field}" if order == "desc" else field
    return sort


def _problems(
    type: str, id: str | None, where: dict[str, Any], sort: Any, order: str | None, limit: Any,
    cursor: Any,
) -> list[Problem]:  # fmt: skip
    from plait.definitions.validate import Problem

    if type not in QUERY_TYPES:
        return [Problem("$.type", f"unknown type {type!r}; use one of {', '.join(QUERY_TYPES)}")]
    found: list[Problem] = []
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        found.append(Problem("$.limit", f"must be an integer from 1 to {MAX_LIMIT}"))
    if cursor is not None and not isinstance(cursor, str):
        found.append(Problem("$.cursor", "expected a previous page's nextCursor (a string)"))
    if sort is not None and type != "Workflow":
        found.append(Problem("$.sort", f"{type}s are {ORDER[type]}"))
    elif sort is not None and (not isinstance(order, str) or order.lstrip("-") == ""):
        found.append(Problem("$.sort", 'expected "field", "-field" or {"field": "asc"|"desc"}'))
    if id is not None:
        found += _by_id_problems(type, id, where, sort, cursor)
    elif type != "Workflow":
        found += _filter_problems(type, where)
    if id is None and type == "MachineInstance" and "workflow" not in where:
        found.append(Problem("$.filter.workflow", "required: the state machine's workflow (its "
                                                  "id or name)"))  # fmt: skip
    return found


def _filter_problems(type: str, where: dict[str, Any]) -> list[Problem]:
    from plait.definitions.validate import Problem

    allowed = FILTERS[type]
    only = (f"{type} queries filter on {' and '.join(allowed)} only" if allowed
            else f"{type} queries take no filter")  # fmt: skip
    found = []
    for name, value in where.items():
        if name not in allowed:
            found.append(Problem(f"$.filter.{name}", only))
        elif name in TIMES and type == "Run":
            if _moment(value) is None:
                found.append(
                    Problem(
                        f"$.filter.{name}",
                        f"expected an ISO 8601 time or seconds since the epoch, got {_json(value)}",
                    )
                )
        elif not isinstance(value, str):
            found.append(Problem(f"$.filter.{name}", f"expected a string, got {_json(value)}"))
    return found


def _moment(value: Any) -> datetime | float | None:
    """A time filter's value: an ISO 8601 text (``Z`` for UTC) or seconds since the epoch;
    ``None`` for none, or for a value that is neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _by_id_problems(
    type: str, id: Any, where: dict[str, Any], sort: Any, cursor: Any
) -> list[Problem]:
    from plait.definitions.validate import Problem

    found = []
    if not isinstance(id, str) or not id:
        found.append(Problem("$.id", "expected the resource's id (a non-empty string)"))
    elif type == "MachineInstance" and "workflow" not in where and "/" not in id.strip("/"):
        found.append(Problem("$.id", "an instance's id is workflow/key (or give its key with "
                                     'filter {"workflow": ...})'))  # fmt: skip
    machine = type == "MachineInstance"
    extra = [n for n in where if not (machine and n == "workflow")]
    if machine and "workflow" in where and not isinstance(where["workflow"], str):
        found.append(Problem("$.filter.workflow", f"expected a string, got "
                                                  f"{_json(where['workflow'])}"))  # fmt: skip
    found += [Problem(f"$.filter.{n}", "a query by id takes no filter") for n in extra]
    if sort is not None:
        found.append(Problem("$.sort", "a query by id takes no sort"))
    if cursor is not None:
        found.append(Problem("$.cursor", "a query by id takes no cursor"))
    return found


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()
