"""``type: human-task`` steps of the service-steps dialect (brief 003)::

    {"id": "human-approval", "type": "human-task", "timeout": 86400000,
     "assignTo": 'results["policy-check"].approver',
     "escalationPolicy": {"timeout": 43200000, "escalateTo": "manager"}}

``assignTo`` and ``escalateTo`` are expressions, like the values of a ``mapping``: one whose
names resolve to nothing known (``'manager'``) is decided, here at save time, to be the literal
string, and a warning says so. A ``{{ }}`` template is taken as written. Durations are
milliseconds (or strings with a unit); ``timeout`` is the task's due time. ``choices`` default
to ``["approve", "reject"]``; ``form`` is a JSON Schema of the answer's data.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from plait.definitions.dialects import PositiveMillis, Source, read, seconds, show
from plait.definitions.model import HumanTaskStep
from plait.definitions.validate import RESERVED, Findings, compile_message, join, within
from plait.expressions import ExpressionError, compile_mapping_value

KEYS = frozenset({"title", "assignTo", "escalationPolicy", "choices", "form", "data"})
"""The keys only a human-task step reads."""


class EscalationSource(Source):
    timeout: PositiveMillis
    escalate_to: str = Field(alias="escalateTo", min_length=1)


def known_names(document: dict[str, Any]) -> frozenset[str]:
    """Names an expression of the document may read: the reserved ones, the trigger's entity
    and every step id (nested ones too)."""
    found: set[str] = set(RESERVED)
    events = document.get("triggerEvent")
    for event in (
        [events] if isinstance(events, str) else events if isinstance(events, list) else []
    ):
        if isinstance(event, str) and "." in event:
            found.add(event.split(".", 1)[0].lower())
    _ids(document.get("steps"), found)
    return frozenset(found)


def _ids(value: Any, found: set[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _ids(item, found)
    elif isinstance(value, dict):
        if isinstance(value.get("id"), str):
            found.add(value["id"])
        for key in ("steps", "then", "else", "onError", "fallback", "compensation"):
            _ids(value.get(key), found)


def human_task(
    item: BaseModel, path: str, common: dict[str, Any], findings: Findings, known: frozenset[str]
) -> HumanTaskStep:
    """The canonical step of a human-task source step (``item``: the read ``ServiceStep``)."""
    raw = item.model_dump(by_alias=True, exclude_unset=True)
    assign = _expression(raw.get("assignTo"), join(path, "assignTo"), findings, known)
    if assign is None:
        findings.error(join(path, "assignTo"), "a human-task step needs 'assignTo' (who decides)")
    escalation = _escalation(raw, path, findings)
    escalate_to = None
    if escalation is not None:
        where = join(join(path, "escalationPolicy"), "escalateTo")
        escalate_to = _expression(escalation.escalate_to, where, findings, known)
    common["sources"].update({"assign_to": "assignTo",
                              "escalate_to": "escalationPolicy.escalateTo",
                              "escalate_after": "escalationPolicy.timeout"})  # fmt: skip
    return HumanTaskStep(
        title=_text(raw, "title", path, findings), description=raw.get("description"),
        assign_to=assign or "?", choices=_choices(raw, path, findings),
        form=_form(raw, path, findings), data=raw.get("data"),
        escalate_after=None if escalation is None else seconds(escalation.timeout),
        escalate_to=escalate_to, **common,
    )  # fmt: skip


def person(value: Any, where: str, findings: Findings, known: frozenset[str]) -> str | None:
    """Who, as ``assignTo`` reads it (a step's ``reviewer`` too): see ``_expression``."""
    return _expression(value, where, findings, known)


def _expression(value: Any, where: str, findings: Findings, known: frozenset[str]) -> str | None:
    """A template of who: ``{{ expr }}`` for an expression, else the literal (with a warning)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        findings.error(where, f"expected an expression or a name, got {show(value)}")
        return None
    try:
        template, literal = compile_mapping_value(value, known)
    except ExpressionError as exc:
        findings.error(within(where, exc.path), compile_message(exc))
        return None
    if literal:
        findings.warn(where, f"{value!r} is not an expression over known names; it is used as "
                      "the literal string (a person's name)")  # fmt: skip
        return value
    if [(p, e.source) for p, e in template.expressions] == [("", value)]:
        return "{{ " + value + " }}"
    return value


def _escalation(raw: dict[str, Any], path: str, findings: Findings) -> EscalationSource | None:
    value = raw.get("escalationPolicy")
    if value is None:
        return None
    return read(EscalationSource, value, join(path, "escalationPolicy"), findings)


def _text(raw: dict[str, Any], key: str, path: str, findings: Findings) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and value):
        return value
    findings.error(join(path, key), f"expected a non-empty string, got {show(value)}")
    return None


def _choices(raw: dict[str, Any], path: str, findings: Findings) -> list[str] | None:
    value = raw.get("choices")
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(c, str) and c for c in value):
        if len(set(value)) != len(value):
            findings.error(join(path, "choices"), "choices must be distinct")
        return list(value)
    findings.error(join(path, "choices"),
                   f"expected a non-empty list of strings, got {show(value)}")  # fmt: skip
    return None


def _form(raw: dict[str, Any], path: str, findings: Findings) -> dict[str, Any] | None:
    value = raw.get("form")
    if value is None or isinstance(value, dict):
        return value
    findings.error(join(path, "form"), f"expected a JSON Schema (an object), got {show(value)}")
    return None
