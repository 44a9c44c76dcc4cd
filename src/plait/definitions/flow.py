"""A workflow's flow control keys (docs/flow-control.md): ``concurrency: {key, limit,
strategy}``, ``priority`` and ``singleton: {key, mode}`` at the top of a definition (every
dialect), and the same options of ``@engine.workflow`` (with ``debounce: {key, delay}``; a
definition's top-level ``debounce`` is its trigger's, see ``plait.definitions.load``).

They are lifted out of the document before its dialect reads it, checked here with the JSON
path of each problem, and put back on the normalised definition as checked (``apply``).
Keys are CEL expressions over the start's input (``input``; a code workflow's arguments are
``args`` too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from plait.definitions.model import Definition
from plait.definitions.validate import Findings, InvalidDefinition, join
from plait.expressions import ExpressionError, compile_expression
from plait.workflow import PRIORITIES, SINGLETON_MODES, STRATEGIES, FlowControl

KEYS = ("concurrency", "priority", "singleton")
"""The top-level keys of a definition that this module reads (every dialect)."""


def lift(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``document`` without its flow keys (a copy when it has any), and those keys (a key
    set to null is absent: a normalised definition writes ``concurrency: null``)."""
    if not any(key in document for key in KEYS):
        return document, {}
    kept = {k: v for k, v in document.items() if k not in KEYS}
    return kept, {k: document[k] for k in KEYS if document.get(k) is not None}


def apply(definition: Definition, raw: Mapping[str, Any], findings: Findings) -> None:
    """Check the lifted ``raw`` keys and set what passes on ``definition``."""
    checked = check(raw, findings)
    definition.concurrency = checked.get("concurrency")
    definition.priority = checked.get("priority", 0)
    definition.singleton = checked.get("singleton")


def of(definition: Definition) -> FlowControl | None:
    """The ``FlowControl`` of a normalised definition (None without any flow key)."""
    checked = {"concurrency": definition.concurrency, "priority": definition.priority or None,
               "singleton": definition.singleton}  # fmt: skip
    return control({k: v for k, v in checked.items() if v is not None})


def check(raw: Mapping[str, Any], findings: Findings, path: str = "$") -> dict[str, Any]:
    """``raw`` flow keys as checked (each problem an error at its JSON path), in the shape
    :func:`control` reads: what is wrong is left out."""
    checked: dict[str, Any] = {}
    if "concurrency" in raw:
        value = _concurrency(raw["concurrency"], findings, join(path, "concurrency"))
        if value is not None:
            checked["concurrency"] = value
    if "priority" in raw:
        priority = _priority(raw["priority"], findings, join(path, "priority"))
        if priority is not None:
            checked["priority"] = priority
    if "singleton" in raw:
        value = _singleton(raw["singleton"], findings, join(path, "singleton"))
        if value is not None:
            checked["singleton"] = value
    if "debounce" in raw:
        value = _debounce(raw["debounce"], findings, join(path, "debounce"))
        if value is not None:
            checked["debounce"] = value
    return checked


def control(checked: Mapping[str, Any]) -> FlowControl | None:
    """The ``FlowControl`` of keys :func:`check` passed (None when there are none)."""
    if not checked:
        return None
    concurrency = checked.get("concurrency") or {}
    singleton = checked.get("singleton") or {}
    debounce = checked.get("debounce") or {}
    return FlowControl(
        concurrency_key=concurrency.get("key"), concurrency_limit=concurrency.get("limit", 1),
        strategy=concurrency.get("strategy", "queue"), priority=checked.get("priority", 0),
        singleton_key=singleton.get("key"), singleton_mode=singleton.get("mode", "skip"),
        debounce_key=debounce.get("key"), debounce_delay=debounce.get("delay", 0.0),
    )  # fmt: skip


def options(
    *, concurrency: Any = None, priority: Any = None, singleton: Any = None, debounce: Any = None
) -> FlowControl | None:
    """The ``FlowControl`` of ``@engine.workflow``'s options (``InvalidDefinition`` with every
    problem, at the option's path: ``$.concurrency.limit``)."""
    raw = {"concurrency": concurrency, "priority": priority, "singleton": singleton,
           "debounce": debounce_option(debounce)}  # fmt: skip
    findings = Findings()
    checked = check({k: v for k, v in raw.items() if v is not None}, findings)
    if findings.errors:
        raise InvalidDefinition(findings.errors)
    return control(checked)


def debounce_option(value: Any) -> Any:
    """``("key", delay)`` as ``{key, delay}``, a ``timedelta`` delay (in either form) as
    seconds; anything else as is."""
    if isinstance(value, tuple) and len(value) == 2:
        value = {"key": value[0], "delay": value[1]}
    if isinstance(value, dict) and isinstance(value.get("delay"), timedelta):
        return {**value, "delay": value["delay"].total_seconds()}
    return value


def _concurrency(value: Any, findings: Findings, path: str) -> dict[str, Any] | None:
    if not _object(value, ("key", "limit", "strategy"), findings, path):
        return None
    key = _key(value.get("key"), findings, join(path, "key"))
    limit = value.get("limit", 1)
    if not _integer(limit) or limit < 1:
        findings.error(join(path, "limit"), f"must be a whole number of at least 1, not {limit!r}")
        return None
    strategy = value.get("strategy", "queue")
    if strategy not in STRATEGIES:
        findings.error(join(path, "strategy"), f"must be one of {', '.join(STRATEGIES)}, "
                                               f"not {strategy!r}")  # fmt: skip
        return None
    return None if key is None else {"key": key, "limit": limit, "strategy": strategy}


def _priority(value: Any, findings: Findings, path: str) -> int | None:
    if not _integer(value) or value not in PRIORITIES:
        low, high = PRIORITIES[0], PRIORITIES[-1]
        findings.error(path, f"must be a whole number from {low} to {high}, not {value!r}")
        return None
    return int(value)


def _singleton(value: Any, findings: Findings, path: str) -> dict[str, Any] | None:
    if not _object(value, ("key", "mode"), findings, path):
        return None
    key = _key(value.get("key"), findings, join(path, "key"))
    mode = value.get("mode", "skip")
    if mode not in SINGLETON_MODES:
        findings.error(join(path, "mode"), f"must be skip or cancel, not {mode!r}")
        return None
    return None if key is None else {"key": key, "mode": mode}


def _debounce(value: Any, findings: Findings, path: str) -> dict[str, Any] | None:
    if not _object(value, ("key", "delay"), findings, path):
        return None
    key = _key(value.get("key"), findings, join(path, "key"))
    delay = value.get("delay")
    number = isinstance(delay, int | float) and not isinstance(delay, bool)
    if not number or not math.isfinite(delay) or delay <= 0:
        findings.error(join(path, "delay"), f"must be a number of seconds above 0, not {delay!r}")
        return None
    return None if key is None else {"key": key, "delay": float(delay)}


def _object(value: Any, keys: tuple[str, ...], findings: Findings, path: str) -> bool:
    if not isinstance(value, dict):
        findings.error(path, f"must be an object with {', '.join(keys)}, not {value!r}")
        return False
    for name in value:
        if name not in keys:
            findings.error(join(path, name), f"unknown key{findings.hint(str(name), keys)}")
    return True


def _key(value: Any, findings: Findings, path: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        findings.error(path, "must be an expression over the input (a non-empty string)")
        return None
    try:
        compile_expression(value)
    except ExpressionError as exc:
        findings.error(path, f"does not compile: {exc}")
        return None
    return value


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
