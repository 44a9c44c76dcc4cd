"""Bounds on what one definition document may make plait do, checked before any dialect reads it.

    check_text(text, settings)         # its size as text, before it is parsed
    check_document(document, settings) # nesting, size as JSON, step count, name lengths

Each check is one pass over the parsed document without recursion, so a document far over a
limit (50,000 steps, 5,000 levels of nesting) costs milliseconds to refuse and no step model is
built for it. A refusal is a :class:`DefinitionLimitExceeded` that names the limit, the value,
the setting and the JSON path. YAML aliases are bounded by the loader (``plait.definitions.load``).

Steps are counted where the dialects put them (``steps``, ``nodes``, ``then``, ``else``,
``fallback``, ``compensation``, a state machine's ``states`` and their ``entry``, ``exit`` and
``actions``), nested ones included. Names are the workflow's, step ids and names, action and
function names, child workflow names, event types (``triggerEvent``, ``event``, ``events``,
``start``) and state names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from plait.definitions.model import ActionStep, Definition
from plait.definitions.validate import (
    DefinitionLimitExceeded,
    InvalidDefinition,
    Problem,
    at,
    everything,
    join,
)
from plait.settings import Settings

__all__ = ["DefinitionLimitExceeded", "check_document", "check_model", "check_text"]

STEP_KEYS = frozenset(
    {
        "steps",
        "nodes",
        "then",
        "else",
        "fallback",
        "compensation",
        "entry",
        "onEntry",
        "exit",
        "onExit",
        "actions",
        "action",
        "onError",
    }
)
"""Keys whose objects (one, or a list of them) are steps."""
STEP_MAPS = frozenset({"states", "fallbackSteps"})
"""Keys whose object maps names to steps (or lists of steps)."""
INNER = frozenset({"machine", "errorHandling", "timeoutTransition", "config", "trigger", "on"})
"""Keys of objects that hold steps or names but are not steps themselves."""
NAMES = frozenset(
    {
        "name",
        "id",
        "action",
        "function",
        "workflow",
        "event",
        "events",
        "triggerEvent",
        "start",
        "initial",
        "initialState",
    }
)
"""Keys that hold names (a string, a list of them, or an object whose keys and values are)."""
_STRUCTURE = STEP_KEYS | STEP_MAPS | INNER
MAPS = STEP_MAPS | {"on"}
NAMED = NAMES | MAPS
"""Keys of names, and of maps whose keys are names (states, event names)."""


def check_text(text: str, settings: Settings) -> None:
    """Refuse a document whose text is over ``max_document_bytes`` (UTF-8), before parsing."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > settings.max_document_bytes:
        raise DefinitionLimitExceeded(
            "the size of the definition in bytes",
            size,
            settings.max_document_bytes,
            "max_document_bytes",
            "$",
        )


def check_document(document: dict[str, Any], settings: Settings) -> None:
    """Refuse a parsed document over a limit: the step count (counted before any step is read,
    and only until it is over), nesting depth, size of its JSON form, then name lengths."""
    steps, complete, long_name = _walk(document, settings)
    if steps > settings.max_steps:
        where = next((join("$", k) for k in ("steps", "nodes", "states") if k in document), "$")
        raise DefinitionLimitExceeded(
            "the number of steps",
            steps if complete else f"{steps} or more",
            settings.max_steps,
            "max_steps",
            where,
        )
    _check_shape(document, settings)
    try:
        size = len(orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError as exc:
        raise InvalidDefinition([_unstorable(document, exc)]) from exc
    if size > settings.max_document_bytes:
        raise DefinitionLimitExceeded(
            "the size of the definition as JSON in bytes",
            size,
            settings.max_document_bytes,
            "max_document_bytes",
            "$",
        )
    if long_name is not None:
        path, length = long_name
        raise DefinitionLimitExceeded(
            "the length of the name", length, settings.max_name_length, "max_name_length", path
        )


def check_model(definition: Definition, settings: Settings) -> None:
    """The same bounds for a canonical definition built in Python (no text, no source)."""
    machine_steps = definition.machine.steps() if definition.machine is not None else []
    steps = list(everything([*definition.steps, *machine_steps]))
    count = len(steps) + (len(definition.machine.states) if definition.machine else 0)
    if count > settings.max_steps:
        raise DefinitionLimitExceeded(
            "the number of steps", count, settings.max_steps, "max_steps", "$.steps"
        )
    names = [("$.name", definition.name)]
    events = definition.trigger.events if definition.trigger is not None else []
    names.extend((f"$.trigger.events[{i}]", event) for i, event in enumerate(events))
    for step in steps:
        names.append((at(step, "id"), step.id))
        if isinstance(step, ActionStep):
            names.append((at(step, "action"), step.action))
    for path, name in names:
        if len(name) > settings.max_name_length:
            raise DefinitionLimitExceeded(
                "the length of the name",
                len(name),
                settings.max_name_length,
                "max_name_length",
                path,
            )


# -- one pass over the document -----------------------------------------------------------------


def _check_shape(document: dict[str, Any], settings: Settings) -> None:
    """Depth and node count, without recursion: a value shared by many references (YAML
    aliases, Python objects) is counted each time, so the count bounds the work of any later
    walk; each node is at least one byte of the JSON form."""
    limit, budget = settings.max_document_depth, settings.max_document_bytes
    stack: list[tuple[Any, int]] = [(document, 0)]
    nodes = 1
    while stack:
        value, depth = stack.pop()
        items = value.values() if isinstance(value, dict) else value
        nodes += len(items)
        if nodes > budget:
            raise DefinitionLimitExceeded(
                "the size of the definition as JSON in bytes",
                f"more than {budget}",
                budget,
                "max_document_bytes",
                "$",
            )
        inner = [(item, depth + 1) for item in items if isinstance(item, dict | list)]
        if inner and depth + 1 > limit:
            raise DefinitionLimitExceeded(
                "the nesting depth of the definition",
                depth + 1,
                limit,
                "max_document_depth",
                _deep_path(document, limit),
            )
        stack.extend(inner)


def _unstorable(document: dict[str, Any], exc: Exception) -> Problem:
    """Where the document holds what JSON storage cannot: an integer beyond 64 bits."""
    stack: list[tuple[Any, str]] = [(document, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            return Problem(path, "the number is too large: integers must fit in 64 bits")
        if isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(
                (item, join(path, k if isinstance(k, int) else str(k))) for k, item in items
            )
    return Problem("$", f"the document cannot be stored as JSON: {exc}")


def _deep_path(document: dict[str, Any], limit: int) -> str:
    """The path of the first object or list nested more than ``limit`` deep."""
    stack: list[tuple[Any, str, int]] = [(document, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limit:
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend(
            (item, join(path, key if isinstance(key, int) else str(key)), depth + 1)
            for key, item in items
            if isinstance(item, dict | list)
        )
    return "$"


def _walk(document: dict[str, Any], settings: Settings) -> tuple[int, bool, tuple[str, int] | None]:
    """The number of steps (the walk stops once it is over ``max_steps``, or after as many
    objects as the size budget: the count is then not ``complete``), and the path and length of
    the first name over ``max_name_length``."""
    steps, visited, longest = 0, 0, settings.max_name_length
    metadata = document.get("metadata")
    long_name = None
    if isinstance(metadata, dict):
        long_name = _long_name("name", metadata.get("name"), "$.metadata", longest)
    stack: list[tuple[dict[str, Any], str]] = [(document, "$")]
    while stack:
        if steps > settings.max_steps or visited > settings.max_document_bytes:
            complete = not any(
                key in _STRUCTURE and isinstance(value, dict | list)
                for item, _ in stack
                for key, value in item.items()
            )
            return steps, complete, long_name
        item, path = stack.pop()
        visited += 1
        for key, value in item.items():
            if long_name is None and key in NAMED:
                long_name = _long_name(str(key), value, path, longest)
            if key in _STRUCTURE:
                found = list(_inside(key, value, join(path, key)))
                steps += 0 if key in INNER else len(found)
                stack.extend(found)
    return steps, True, long_name


def _inside(key: str, value: Any, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    """The objects under ``key``, with their paths."""
    if key in MAPS and isinstance(value, dict):
        for name, item in value.items():
            yield from _objects(item, join(where, str(name)))
    else:
        yield from _objects(value, where)


def _objects(value: Any, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(value, dict):
        yield value, where
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield item, f"{where}[{index}]"


def _long_name(key: str, value: Any, path: str, longest: int) -> tuple[str, int] | None:
    """The path and length of the first name over ``longest`` in the field ``key`` of the object
    at ``path``: a string, a list of them, or an object whose keys are names (states, ``on``)
    and, for ``events``, values too."""
    if isinstance(value, str):
        return (join(path, key), len(value)) if len(value) > longest else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and len(item) > longest:
                return join(join(path, key), index), len(item)
    if isinstance(value, dict) and (key in MAPS or key == "events"):
        for name, item in value.items():
            if isinstance(name, str) and len(name) > longest:
                return join(join(path, key), name), len(name)
            if key == "events" and isinstance(item, str) and len(item) > longest:
                return join(join(path, key), name), len(item)
    return None
