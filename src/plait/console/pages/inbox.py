"""The inbox: the open human tasks of the signed-in person (the person the session's key is
bound to, ``session.user``, and the organization's shared inbox ``*``), and for admins
everyone's; each with its context and a form made from its choices (a button each) or its JSON
Schema (a field per property). Completing calls ``engine.tasks.complete`` as the key's person,
with the rules and errors of ``POST /~{org}/tasks/{id}/complete``: a viewer is refused, another
person's task is refused with the service's reason, an answer that does not fit is shown at
its field."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from plait.console.render import page
from plait.console.session import Session
from plait.console.web import Engined, Signed, change, console_router, form
from plait.errors import InvalidDecision, TaskNotFound
from plait.resources.tasks import Task, TaskPage
from plait.runtime.human import ANYONE

router = console_router()
PAGE = 50
FIELD = "data."
"""Prefix of the form fields that hold the answer's data (``data.score``)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a task's form, from a property of its JSON Schema."""

    name: str
    label: str
    kind: str
    """``text``, ``number``, ``integer``, ``boolean``, ``select`` or ``json`` (anything else,
    typed as JSON)."""
    required: bool
    hint: str | None = None
    options: tuple[Any, ...] = ()
    """The values of an ``enum`` (a select offers each, shown as text)."""
    default: Any = None


@router.get("/inbox")
async def inbox(
    request: Request, session: Signed, engine: Engined,
    everyone: Annotated[bool, Query()] = False,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    done: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:  # fmt: skip
    completed = None
    if done:
        with suppress(TaskNotFound):  # a stale link: no notice
            completed = await engine.tasks.get(session.org, done)
    return await _render(request, session, engine, everyone, cursor, completed=completed)


@router.post("/inbox/{task_id}/complete")
async def complete(
    request: Request, task_id: str, engine: Engined,
    session: Annotated[Session, Depends(change("runner"))],
) -> Response:  # fmt: skip
    fields = await form(request)
    everyone = fields.get("everyone") == "1"
    task = await engine.tasks.get(session.org, task_id)
    data, problems = answer_data(task, fields)
    if problems:
        failed = (task_id, problems, fields)
        return await _render(request, session, engine, everyone, None, failed=failed)
    try:
        await engine.tasks.complete(
            session.org, task_id, decision=fields.get("decision") or None,
            comment=(fields.get("comment") or "").strip() or None, data=data,
            user=session.user, via=f"key:{session.key_id}", as_admin=session.role == "admin",
        )  # fmt: skip
    except InvalidDecision as exc:
        failed = (task_id, [str(exc)], fields)
        return await _render(request, session, engine, everyone, None, failed=failed)
    query = {"done": task_id, **({"everyone": "1"} if everyone else {})}
    return RedirectResponse(f"/inbox?{urlencode(query)}", status_code=303)


async def _render(
    request: Request, session: Session, engine: Engined, everyone: bool, cursor: str | None,
    *, completed: Task | None = None, failed: tuple[str, list[str], dict[str, Any]] | None = None,
) -> Response:  # fmt: skip
    everyone = everyone and session.can("admin")
    tasks, next_cursor = await _tasks(engine, session, everyone, cursor)
    now = datetime.fromtimestamp(engine.clock.time(), UTC)
    return page(request, "inbox.html", session, section="inbox", tasks=tasks,
                next_cursor=next_cursor, everyone=everyone, completed=completed,
                failed=failed, now=now, fields_of=fields_of, FIELD=FIELD,
                status=422 if failed else 200)  # fmt: skip


async def _tasks(
    engine: Engined, session: Session, everyone: bool, cursor: str | None
) -> tuple[list[Task], str | None]:
    """Open tasks, newest first: everyone's (a page), or the person's and the shared inbox's."""
    if everyone:
        found = await engine.tasks.find(session.org, status="open", limit=PAGE, cursor=cursor)
        return found.items, found.next_cursor
    pages: list[TaskPage] = []
    for assignee in dict.fromkeys([session.user or ANYONE, ANYONE]):
        pages.append(await engine.tasks.find(session.org, assignee=assignee, status="open",
                                             limit=PAGE))  # fmt: skip
    items = sorted((t for p in pages for t in p.items), key=lambda t: (t.created_at, t.id),
                   reverse=True)  # fmt: skip
    return items, None


def fields_of(task: Task) -> list[Field]:
    """The inputs of ``task``'s form: a field per property of an object schema (in order),
    or one JSON field for any other schema; none without a form."""
    schema = task.form
    if not isinstance(schema, dict):
        return []
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict):
        return [Field("", "Answer (JSON)", "json", True, _text(schema.get("description")))]
    required = set(schema.get("required") or [])
    return [_field(name, spec if isinstance(spec, dict) else {}, name in required)
            for name, spec in properties.items()]  # fmt: skip


def _field(name: str, spec: dict[str, Any], required: bool) -> Field:
    label = _text(spec.get("title")) or name
    hint = _text(spec.get("description"))
    default = spec.get("default")
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        return Field(name, label, "select", required, hint, tuple(enum), default)
    kind = spec.get("type")
    kinds = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}
    return Field(name, label, kinds.get(kind, "json") if isinstance(kind, str) else "json",
                 required, hint, (), default)  # fmt: skip


def answer_data(task: Task, fields: dict[str, Any]) -> tuple[Any, list[str]]:
    """The answer's data from the posted ``fields``, typed as the form's schema says, and the
    problems of the fields that could not be read (the service checks the rest)."""
    inputs = fields_of(task)
    if not inputs:
        return None, []
    if inputs[0].name == "":
        return _json(fields.get(FIELD, ""), "the answer")
    data: dict[str, Any] = {}
    problems: list[str] = []
    for f in inputs:
        raw = fields.get(FIELD + f.name)
        value, problem = _typed(f, raw)
        if problem:
            problems.append(problem)
        elif value is not None:
            data[f.name] = value
    return data, problems


def _typed(f: Field, raw: Any) -> tuple[Any, str | None]:
    if f.kind == "boolean":
        return raw == "true", None
    text = raw.strip() if isinstance(raw, str) else ""
    if text == "":
        return None, None  # left out: the schema's required check names it
    if f.kind in ("integer", "number"):
        try:
            return (int(text) if f.kind == "integer" else float(text)), None
        except ValueError:
            kind = "a whole number" if f.kind == "integer" else "a number"
            return None, f"{f.label}: {text!r} is not {kind}"
    if f.kind == "json":
        value, problems = _json(text, f.label)
        return value, problems[0] if problems else None
    if f.kind == "select":
        chosen = [v for v in f.options if str(v) == text]
        if not chosen:
            return None, f"{f.label}: choose one of {', '.join(map(str, f.options))}"
        return chosen[0], None
    return text, None


def _json(text: str, what: str) -> tuple[Any, list[str]]:
    import orjson

    try:
        return orjson.loads(text), []
    except orjson.JSONDecodeError:
        return None, [f"{what}: not JSON"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
