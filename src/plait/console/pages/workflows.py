"""Workflows: the registry (``/workflows``), one workflow's page (its definition as source and
as a drawn graph, versions with a diff, schedules, recent runs, stats), and what editors do to
it: activate, pause, archive, trigger with an input form, edit with live validation, create.

Every change calls the service the REST API calls (``engine.workflows``) and needs the role
its REST route needs: ``editor`` for the lifecycle and edits, ``runner`` to trigger.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import yaml
from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from plait.console import graph
from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form, role
from plait.definitions.load import parse_document
from plait.definitions.model import Definition
from plait.definitions.validate import InvalidDefinition
from plait.engine import Engine
from plait.errors import InvalidArguments, LimitExceeded, NotFound, PlaitError
from plait.resources.workflows import Finding, StoredWorkflow, Validation

router = console_router()

STATUSES = ("Draft", "Activated", "Paused", "Archived")
KINDS = ("definition", "code")
WINDOWS = ("1h", "24h", "7d")
LISTED = 500
"""Workflows shown on the list (an organization has tens, not thousands)."""
RECENT_RUNS = 20
STARTER = {
    "name": "my-workflow",
    "description": "What it does",
    "triggerEvent": "Order.created",
    "steps": [{"id": "first", "type": "action", "action": "log",
               "input": {"message": "{{ event.data }}"}}],
}  # fmt: skip
"""What the editor of a new workflow starts with."""


# -- the list ----------------------------------------------------------------------------------


@router.get("/workflows")
async def workflows(
    request: Request, session: Signed, engine: Engined, status: str = "", kind: str = "",
    q: str = "",
) -> Response:  # fmt: skip
    where: dict[str, Any] = {}
    if status in STATUSES:
        where["status"] = status
    if kind in KINDS:
        where["kind"] = kind
    found = await engine.workflows.find(session.org, where=where or None, search=q or None,
                                        sort="name", limit=LISTED)  # fmt: skip
    schedules = await _schedules_by_workflow(engine, session.org)
    return page(request, "workflows/list.html", session, section="workflows",
                workflows=found.items, more=found.next_cursor is not None, chosen_status=status,
                kind=kind, q=q, statuses=STATUSES, kinds=KINDS,
                schedules=schedules)  # fmt: skip


async def _schedules_by_workflow(engine: Engine, org: str) -> dict[str, list[str]]:
    found = await engine.schedules.find(org, limit=LISTED)
    by_workflow: dict[str, list[str]] = {}
    for s in found.items:
        by_workflow.setdefault(s.workflow, []).append(f"{s.cron} ({s.timezone})")
    return by_workflow


# -- creating ----------------------------------------------------------------------------------


@router.get("/workflows/new")
async def new_form(
    request: Request, session: Annotated[Session, Depends(role("editor"))]
) -> Response:
    source = orjson.dumps(STARTER, option=orjson.OPT_INDENT_2).decode()
    return _editor(request, session, None, source, Validation(valid=True))


@router.post("/workflows/new")
async def create(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    source = str((await form(request)).get("definition", ""))
    try:
        created = await engine.workflows.create(
            session.org, parse_document(source, settings=engine.settings)
        )
    except InvalidDefinition as exc:
        return _editor(request, session, None, source, _found(exc), status=422)
    except PlaitError as exc:
        if _status(exc) >= 500:
            raise
        return _editor(request, session, None, source, _failed(exc), status=_status(exc))
    notice = "created" + ("-with-warnings" if created.warnings else "")
    return RedirectResponse(f"/workflows/{created.id}?done={notice}", status_code=303)


# -- one workflow ------------------------------------------------------------------------------


@dataclass
class Shown:
    """What a workflow's page shows of its definition."""

    source: str = ""
    drawing: Any = ""
    machine: bool = False
    instances: list[Any] | None = None
    instance: Any = None
    input_schema: dict[str, Any] | None = None


@router.get("/workflows/{ref}")
async def workflow(
    request: Request, session: Signed, engine: Engined, window: str = "24h", format: str = "json",
    instance: str = "", version: int | None = None, base: int | None = None,
    to: int | None = None, done: str = "",
) -> Response:  # fmt: skip
    org = session.org
    found = await engine.workflows.get(org, ref := request.path_params["ref"])
    window = window if window in WINDOWS else "24h"
    try:  # only the window shown: a busy workflow's week may pass the stats' row budget
        stats, stats_refused = await engine.workflows.stats(org, found.id, window=window), None
    except LimitExceeded as exc:
        stats, stats_refused = None, str(exc)
    runs = await engine.runs.find(org, workflow=found.name, limit=RECENT_RUNS)
    kept = await engine.retention.limits(org, found.name)
    context: dict[str, Any] = {"versions": None, "diff": None, "shown": Shown(),
                               "schedules": [], "shown_version": None}  # fmt: skip
    if found.kind == "definition":
        context = await _definition_parts(engine, org, found, format, instance, version,
                                          base, to)  # fmt: skip
    return page(request, "workflows/detail.html", session, section="workflows", wf=found,
                ref=ref, stats=stats, stats_refused=stats_refused, window=window,
                windows=WINDOWS, runs=runs.items, format=format, done=done,
                instance_key=instance, kept=kept, **context)  # fmt: skip


async def _definition_parts(
    engine: Engine, org: str, found: StoredWorkflow, format: str, instance: str,
    version: int | None, base: int | None, to: int | None,
) -> dict[str, Any]:  # fmt: skip
    versions = await engine.workflows.versions(org, found.id)
    numbers = [v.version for v in versions.versions]
    chosen = version if version in numbers else found.version
    revision = await engine.workflows.version(org, found.id, chosen)
    shown = Shown(source=_source(revision.document, format))
    definition = _canonical(revision.definition)
    if definition is not None:
        shown.machine = definition.machine is not None
        shown.input_schema = definition.input_schema
        if shown.machine:
            shown.instances, shown.instance = await _instances(engine, org, found.name, instance)
        state = shown.instance.state if shown.instance is not None else None
        drawn = graph.of_definition(definition, state)
        shown.drawing = graph.svg(drawn, f"The steps of {found.name}, version {chosen}")
    diff = None
    if len(numbers) > 1:
        newer = to if to in numbers else numbers[0]
        older = base if base in numbers else max((n for n in numbers if n < newer), default=newer)
        diff = await _diff(engine, org, found.id, older, newer)
    schedules = await engine.schedules.find(org, found.id, limit=100)
    return {"versions": versions, "diff": diff, "shown": shown, "schedules": schedules.items,
            "shown_version": chosen}  # fmt: skip


def _canonical(data: dict[str, Any]) -> Definition | None:
    """The stored canonical definition (``{}``: a Draft saved without steps)."""
    if not data:
        return None
    return Definition.model_validate(data)


async def _instances(engine: Engine, org: str, name: str, key: str) -> tuple[list[Any], Any]:
    listed = await engine.machines.find(org, name, limit=100)
    if not key:
        return listed.items, None
    try:
        return listed.items, await engine.machines.get(org, name, key)
    except NotFound:
        return listed.items, None


@dataclass
class Diff:
    older: int
    newer: int
    lines: list[tuple[str, str]]
    """``(class, text)``: ``add``, ``del``, ``hunk``, ``file`` or ``""``."""


async def _diff(engine: Engine, org: str, workflow_id: str, older: int, newer: int) -> Diff:
    a = await engine.workflows.version(org, workflow_id, older)
    b = await engine.workflows.version(org, workflow_id, newer)
    text_a = _pretty(a.document).splitlines()
    text_b = _pretty(b.document).splitlines()
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(text_a, text_b, f"version {older}", f"version {newer}",
                                     lineterm=""):  # fmt: skip
        if line.startswith(("+++", "---")):
            lines.append(("file", line))
        elif line.startswith("@@"):
            lines.append(("hunk", line))
        elif line.startswith("+"):
            lines.append(("add", line))
        elif line.startswith("-"):
            lines.append(("del", line))
        else:
            lines.append(("", line))
    return Diff(older, newer, lines)


def _pretty(document: Any) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def _source(document: dict[str, Any], format: str) -> str:
    if format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return _pretty(document)


# -- lifecycle ---------------------------------------------------------------------------------


async def _lifecycle(request: Request, session: Session, engine: Engine, verb: str) -> Response:
    ref = request.path_params["ref"]
    changed = await getattr(engine.workflows, verb)(session.org, ref)
    return RedirectResponse(f"/workflows/{changed.id}?done={changed.status.lower()}",
                            status_code=303)  # fmt: skip


@router.post("/workflows/{ref}/activate")
async def activate(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    return await _lifecycle(request, session, engine, "activate")


@router.post("/workflows/{ref}/pause")
async def pause(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    return await _lifecycle(request, session, engine, "pause")


@router.post("/workflows/{ref}/archive")
async def archive(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    return await _lifecycle(request, session, engine, "archive")


# -- trigger -----------------------------------------------------------------------------------


@router.get("/workflows/{ref}/trigger")
async def trigger_form(
    request: Request, session: Annotated[Session, Depends(role("runner"))], engine: Engined
) -> Response:
    found = await engine.workflows.get(session.org, request.path_params["ref"])
    schema = await _input_schema(engine, session.org, found)
    return _trigger_page(request, session, found, schema, {}, "", [])


@router.post("/workflows/{ref}/trigger")
async def trigger(
    request: Request, session: Annotated[Session, Depends(change("runner"))], engine: Engined
) -> Response:
    found = await engine.workflows.get(session.org, request.path_params["ref"])
    schema = await _input_schema(engine, session.org, found)
    fields = await form(request)
    raw = str(fields.get("input", "")).strip()
    values = {k[3:]: str(v) for k, v in fields.items() if k.startswith("in.")}
    value, problems = _input_of(raw, values, schema)
    if not problems:
        try:
            run = await engine.workflows.trigger(session.org, found.id, value)
        except InvalidArguments as exc:
            problems = [Finding(path="$.input", message=str(exc))]
        else:
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
    return _trigger_page(request, session, found, schema, values, raw, problems, status=422)


async def _input_schema(engine: Engine, org: str, found: StoredWorkflow) -> dict[str, Any] | None:
    if found.kind != "definition":
        return None
    revision = await engine.workflows.version(org, found.id, found.version)
    definition = _canonical(revision.definition)
    return None if definition is None else definition.input_schema


@dataclass
class Field:
    """A form field generated from a top-level property of the input schema."""

    name: str
    kind: str  # string, number, integer, boolean, enum
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()


def schema_fields(schema: dict[str, Any] | None) -> list[Field]:
    """Fields for the simple top-level properties of an object schema (others are written in
    the JSON box)."""
    if not schema or schema.get("type") != "object":
        return []
    required = set(schema.get("required") or [])
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        kind = spec.get("type")
        if "enum" in spec:
            choices = tuple(str(c) for c in spec["enum"])
            fields.append(Field(name, "enum", name in required, spec.get("description", ""),
                                choices))  # fmt: skip
        elif kind in ("string", "number", "integer", "boolean"):
            fields.append(Field(name, str(kind), name in required, spec.get("description", "")))
    return fields


def _input_of(
    raw: str, values: dict[str, str], schema: dict[str, Any] | None
) -> tuple[Any, list[Finding]]:
    """The run's input from the form: the JSON box when filled, else the generated fields;
    with the problems found (not JSON, or not what the input schema asks for)."""
    if raw:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return None, [Finding(path="$.input", message=f"not valid JSON: {exc}")]
    else:
        value, problems = _from_fields(values, schema_fields(schema))
        if problems:
            return None, problems
    return value, _schema_problems(schema, value)


def _from_fields(values: dict[str, str], fields: list[Field]) -> tuple[Any, list[Finding]]:
    if not fields:
        return None, []
    value: dict[str, Any] = {}
    problems: list[Finding] = []
    for f in fields:
        text = values.get(f.name, "").strip()
        if f.kind == "boolean":
            value[f.name] = text in ("true", "on", "1")
        elif not text:
            continue
        elif f.kind in ("number", "integer"):
            try:
                value[f.name] = int(text) if f.kind == "integer" else float(text)
            except ValueError:
                problems.append(Finding(path=f"$.input.{f.name}", message=f"not a {f.kind}"))
        else:
            value[f.name] = text
    return value, problems


def _schema_problems(schema: dict[str, Any] | None, value: Any) -> list[Finding]:
    """What the run's input schema says of ``value`` (the run checks it again as it starts;
    here it is shown at its paths, by the form)."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator

    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(value),
                        key=lambda e: list(e.absolute_path)):  # fmt: skip
        path = "$.input" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                   for p in error.absolute_path)  # fmt: skip
        problems.append(Finding(path=path, message=error.message))
    return problems


def _trigger_page(
    request: Request, session: Session, found: StoredWorkflow, schema: dict[str, Any] | None,
    values: dict[str, str], raw: str, problems: list[Finding], status: int = 200,
) -> Response:  # fmt: skip
    return page(request, "workflows/trigger.html", session, section="workflows", wf=found,
                schema=schema, fields=schema_fields(schema), values=values, raw=raw,
                problems=problems, status=status)  # fmt: skip


# -- editing -----------------------------------------------------------------------------------


@router.get("/workflows/{ref}/edit")
async def edit_form(
    request: Request, session: Annotated[Session, Depends(role("editor"))], engine: Engined
) -> Response:
    found = await engine.workflows.get(session.org, request.path_params["ref"])
    source = _pretty(found.definition or {})
    return _editor(request, session, found, source, Validation(valid=True))


@router.post("/workflows/{ref}/edit")
async def save(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    found = await engine.workflows.get(session.org, request.path_params["ref"])
    source = str((await form(request)).get("definition", ""))
    try:
        saved = await engine.workflows.update(session.org, found.id, _patch(engine, found, source))
    except InvalidDefinition as exc:
        return _editor(request, session, found, source, _found(exc), status=422)
    except PlaitError as exc:
        if _status(exc) >= 500:
            raise
        return _editor(request, session, found, source, _failed(exc), status=_status(exc))
    notice = "saved" + ("-with-warnings" if saved.warnings else "")
    return RedirectResponse(f"/workflows/{saved.id}?done={notice}", status_code=303)


@router.post("/workflows/new/validate")
async def validate_new(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    return await _check(request, session, engine, None)


@router.post("/workflows/{ref}/validate")
async def validate(
    request: Request, session: Annotated[Session, Depends(change("editor"))], engine: Engined
) -> Response:
    """The editor's live check (htmx): the problems and warnings of the text as it stands."""
    return await _check(request, session, engine, request.path_params["ref"])


async def _check(request: Request, session: Session, engine: Engine, ref: str | None) -> Response:
    source = str((await form(request)).get("definition", ""))
    try:
        if ref is None:
            found = await engine.workflows.check(
                session.org, parse_document(source, settings=engine.settings)
            )
        else:
            stored = await engine.workflows.get(session.org, ref)
            found = await engine.workflows.check(session.org, _patch(engine, stored, source),
                                                 ref=stored.id)  # fmt: skip
    except InvalidDefinition as exc:
        found = _found(exc)
    return page(request, "workflows/findings.html", session, found=found, checked=True)


def _patch(engine: Engine, stored: StoredWorkflow, source: str) -> dict[str, Any]:
    """The edited document as an update: the service merges a patch into the stored document,
    so a top-level key the author removed is sent as null."""
    document = parse_document(source, settings=engine.settings)
    removed = {k: None for k in (stored.definition or {}) if k not in document}
    return {**removed, **document}


def _found(exc: InvalidDefinition) -> Validation:
    return Validation.of(exc.problems, exc.warnings)


def _failed(exc: PlaitError) -> Validation:
    path = getattr(exc, "path", None)
    where = path if isinstance(path, str) and path else "$"
    return Validation(valid=False, errors=[Finding(path=where, message=str(exc))])


def _status(exc: PlaitError) -> int:
    from plait.api.problems import status_of

    return status_of(exc)


def _editor(
    request: Request, session: Session, found: StoredWorkflow | None, source: str,
    checked: Validation, status: int = 200,
) -> Response:  # fmt: skip
    action = "/workflows/new" if found is None else f"/workflows/{found.id}/edit"
    check_url = "/workflows/new/validate" if found is None else f"/workflows/{found.id}/validate"
    return page(request, "workflows/edit.html", session, section="workflows", wf=found,
                source=source, found=checked, action=action, check_url=check_url, status=status,
                checked=status != 200)  # fmt: skip
