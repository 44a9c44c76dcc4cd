"""What every dialect loader shares: source models, reading them with paths, durations, retries.

Each dialect module declares pydantic "source" models whose aliases are the dialect's own
camelCase keys, so a type error names the key the author wrote (``$.steps[0].timeout``). A source
model is read leniently: a value of the wrong type is reported and then dropped, so the rest of
the document is still read and checked; a step that cannot be read at all becomes a stand-in
that keeps its id (so references to it do not cascade into more errors) and that validation
skips.

Times in the brief's documents are milliseconds; the canonical model is in seconds. A duration
may also be written as a string with a unit: ``"250ms"``, ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from plait.definitions.model import ActionStep, Definition, Retry, Step, Trigger
from plait.definitions.validate import Findings, join

M = TypeVar("M", bound=BaseModel)

UNREADABLE_ACTION = "(unreadable)"
"""The action of a stand-in for a step that could not be read (never validated or run)."""


class Source(BaseModel):
    """A part of a source document. Strict (``"3"`` is not a number); unknown keys are kept and
    reported as warnings."""

    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=False)


@dataclass
class Normalised:
    """A dialect loader's result: the definition, where its top-level fields came from, and the
    steps that could not be read."""

    definition: Definition | None
    sources: dict[str, str] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)


# -- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1.0, "s": 1_000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


def _milliseconds(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match[1]) * _UNIT_MS[match[2]]
    raise PydanticCustomError(
        "duration", "expected a number or a duration like '30s', got {got}", {"got": show(value)}
    )


Millis = Annotated[float, BeforeValidator(_milliseconds)]
"""A duration in milliseconds: a number, or a string with a unit (``"30s"``)."""
PositiveMillis = Annotated[Millis, Field(gt=0)]
DelayMillis = Annotated[Millis, Field(ge=0)]


def seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000.0


# -- retries ------------------------------------------------------------------------------------

Backoff = Literal["exponential", "linear", "constant"]


class BackoffSource(Source):
    """The object form of ``backoff`` (function dialect): exponential unless ``type`` says."""

    type: Backoff | None = None
    initial_delay: DelayMillis | None = Field(default=None, alias="initialDelay")
    base_delay: DelayMillis | None = Field(default=None, alias="baseDelay")
    multiplier: float | None = Field(default=None, gt=0)
    max_delay: DelayMillis | None = Field(default=None, alias="maxDelay")


def _name_or_object(value: Any) -> str:
    return "~object" if isinstance(value, dict) else "~name"


# Union members are tagged ``~...`` so that error paths can drop the tag (see ``loc_path``).
NameOrObject = Annotated[
    Annotated[Backoff, Tag("~name")] | Annotated[BackoffSource, Tag("~object")],
    Discriminator(_name_or_object),
]


class RetrySource(Source):
    """``retryPolicy`` / ``retryStrategy`` / ``defaultRetryPolicy``; delays in milliseconds.
    ``backoff`` is a strategy name or an object with the delays."""

    max_attempts: int | None = Field(default=None, alias="maxAttempts", ge=1)
    backoff: NameOrObject | None = None
    initial_delay: DelayMillis | None = Field(default=None, alias="initialDelay")
    base_delay: DelayMillis | None = Field(default=None, alias="baseDelay")
    multiplier: float | None = Field(default=None, gt=0)
    max_delay: DelayMillis | None = Field(default=None, alias="maxDelay")
    jitter: float | None = Field(default=None, ge=0, le=1)
    non_retryable: list[str] | None = Field(default=None, alias="nonRetryable")


def retry(source: RetrySource | None) -> Retry | None:
    """The canonical retry policy of a source one (unset fields keep the model's defaults)."""
    if source is None:
        return None
    values: dict[str, Any] = {}
    delays = [source.initial_delay, source.base_delay, source.max_delay, source.multiplier]
    if isinstance(source.backoff, BackoffSource):
        inner = source.backoff
        values["backoff"] = inner.type or "exponential"
        delays = [
            _first(inner.initial_delay, inner.base_delay, source.initial_delay),
            _first(inner.base_delay, source.base_delay),
            _first(inner.max_delay, source.max_delay),
            _first(inner.multiplier, source.multiplier),
        ]
    elif source.backoff is not None:
        values["backoff"] = source.backoff
    initial, base, maximum, multiplier = delays
    _put(values, "max_attempts", source.max_attempts)
    _put(values, "initial_delay", seconds(_first(initial, base)))
    _put(values, "max_delay", seconds(maximum))
    _put(values, "multiplier", multiplier)
    _put(values, "jitter", source.jitter)
    _put(values, "non_retryable", source.non_retryable)
    return Retry(**values)


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _put(values: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        values[key] = value


# -- triggers -----------------------------------------------------------------------------------


def _one_or_many(value: Any) -> str:
    return "~many" if isinstance(value, list) else "~one"


# A `triggerEvent`: one event type or a list of them.
Events = Annotated[
    Annotated[str, Tag("~one")] | Annotated[list[str], Tag("~many")], Discriminator(_one_or_many)
]


def trigger(events: str | list[str] | None) -> Trigger | None:
    """A trigger on event types (``triggerEvent``), or none (started manually or by API)."""
    if events is None:
        return None
    return Trigger(events=[events] if isinstance(events, str) else list(events))


# -- reading source models ----------------------------------------------------------------------


def read(model: type[M], raw: Any, path: str, findings: Findings) -> M | None:
    """Validate ``raw`` against ``model``; report every problem at its source path.

    Values of the wrong type are reported, dropped, and the rest is read again, so one bad field
    does not hide the others. Returns ``None`` when a required key is missing or wrong.
    """
    if not isinstance(raw, dict):
        findings.error(path, f"expected an object, got {show(raw)}")
        return None
    data = copy.deepcopy(raw)
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        details = exc.errors()
        for error in details:
            findings.error(loc_path(path, error["loc"]), message(error))
        if any(error["type"] == "missing" for error in details):
            return None
        for loc in sorted((error["loc"] for error in details), key=_loc_key, reverse=True):
            _remove(data, loc)
        try:
            result = model.model_validate(data)
        except ValidationError:
            return None
    unknown_keys(result, path, findings)
    return result


def _loc_key(loc: tuple[int | str, ...]) -> tuple[tuple[int, int | str], ...]:
    # Integers and strings never share a position under one parent; rank them apart anyway.
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in loc)


def _remove(data: Any, loc: tuple[int | str, ...]) -> None:
    loc = _untagged(loc)
    parent = data
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1] if loc else None
    in_dict = isinstance(parent, dict) and last in parent
    if in_dict or (isinstance(parent, list) and isinstance(last, int) and last < len(parent)):
        del parent[last]


def unknown_keys(model: BaseModel, path: str, findings: Findings) -> None:
    """Warn about keys of the document that no source model declares (typos, mostly)."""
    for key in model.model_extra or {}:
        findings.warn(join(path, key), f"unknown key {key!r} is ignored")
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        where = join(path, info.alias or name)
        if isinstance(value, BaseModel):
            unknown_keys(value, where, findings)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    unknown_keys(item, join(where, index), findings)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    unknown_keys(item, join(where, key), findings)


def loc_path(path: str, loc: tuple[int | str, ...]) -> str:
    """``path`` extended by a pydantic error location (union tags dropped)."""
    for part in _untagged(loc):
        path = join(path, part)
    return path


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    return tuple(part for part in loc if not (isinstance(part, str) and part.startswith("~")))


_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "is_instance_of": "an object",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def message(error: ErrorDetails) -> str:
    """A plain message for one pydantic error: what was expected and what was found."""
    kind, value, context = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {show(value)}"
    if kind == "missing":
        loc = _untagged(error["loc"])
        return f"required key {loc[-1]!r} is missing" if loc else "required"
    if kind == "literal_error":
        return f"expected {context.get('expected')}, got {show(value)}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"must be {words} {context.get(bound)}, got {show(value)}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "union_tag_invalid":
        return f"unknown kind {show(context.get('tag'))}; expected {context.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"required key {context.get('discriminator', 'kind')} is missing"
    text = str(error["msg"])
    return text.removeprefix("Value error, ")


def show(value: Any) -> str:
    """A short rendering of a source value for messages (JSON spelling, strings quoted)."""
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- steps and definitions ----------------------------------------------------------------------


def stand_in(raw: Any, path: str, default_id: str, unreadable: set[str]) -> ActionStep:
    """A placeholder for a step that could not be read: its id and dependencies, if legible."""
    item = raw if isinstance(raw, dict) else {}
    step_id = item.get("id")
    depends = item.get("dependsOn")
    unreadable.add(path)
    return ActionStep(
        id=step_id if isinstance(step_id, str) and step_id else default_id,
        action=UNREADABLE_ACTION,
        depends_on=[d for d in depends if isinstance(d, str)] if isinstance(depends, list) else [],
        path=path,
    )


def chain(steps: Sequence[Step]) -> None:
    """Make each step start after the one before it (dialects whose steps run in order)."""
    for previous, step in itertools.pairwise(steps):
        step.after = [previous.id]


def build(findings: Findings, values: dict[str, Any]) -> Definition | None:
    """The canonical definition from normalised ``values``; problems the source models did not
    catch are reported at the canonical field's path."""
    try:
        return Definition.model_validate(values, context={"draft": findings.draft})
    except ValidationError as exc:
        for error in exc.errors():
            findings.error(loc_path("$", error["loc"]), message(error))
        return None


def name(value: str | None, path: str, findings: Findings) -> str:
    """The workflow's name; a missing one is an error (unless its type already was)."""
    if value:
        return value
    if not any(problem.path == path for problem in findings.errors):
        findings.error(path, "a workflow needs a name")
    return "unnamed"


def template_condition(text: str | None) -> str | None:
    """The expression of a condition: the inside of ``{{ ... }}`` when the whole string is one
    template, else the text itself."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*\{\{(.*)\}\}\s*", text, flags=re.DOTALL)
    if match and "{{" not in match[1] and "}}" not in match[1]:
        return match[1].strip()
    return text


def decode_json(document: dict[str, Any], key: str, findings: Findings) -> None:
    """A field stored as a JSON-encoded string (the entity record's ``steps``): decode it."""
    value = document.get(key)
    if not isinstance(value, str):
        return
    try:
        document[key] = json.loads(value)
    except json.JSONDecodeError as exc:
        findings.error(f"$.{key}", f"a string here must hold JSON, and this does not: {exc}")
        del document[key]
