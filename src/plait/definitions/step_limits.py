"""A definition step's flow limits: ``rateLimit``, ``bulkhead`` and ``circuitBreaker`` (every
dialect but the state machine's, whose actions take them from their registered action:
``@engine.action(...)``; docs/flow-control.md).

Like a step's ``metrics`` and ``cache``, they are lifted out of each step of the document (by
the step's JSON path) before its dialect reads them, and put back, checked, on the normalised
step after, so no dialect's loader needs to know them. Only an action step takes them; they
add to the limits its action was registered with (the step's own win, kind by kind), and are
kept under ``{workflow}/{step id}`` (the step's alone; its action's registered ones under the
action's name) unless they give a ``name`` (a dependency several actions or workflows share).
A canonical step's ``limits`` field is checked the same way. A workflow's own ``rateLimit`` (at
the top) is its start throttle: runs started per period, per ``key`` (CEL over the input); a
start past it waits, queued.
"""

from __future__ import annotations

from typing import Any

from plait.definitions.model import ActionStep, Definition, Step, walk
from plait.definitions.validate import Findings, join
from plait.runtime.limits import parse_limits, parse_throttle

KEYS = ("rateLimit", "bulkhead", "circuitBreaker")
THROTTLE = "rateLimit"
"""The top-level key of a workflow's start throttle (runs started per period, per key)."""
_NESTED = ("steps", "nodes", "then", "else", "fallback", "compensation", "branches")
"""Keys under which a document nests steps (in any dialect)."""
MACHINE = "$machine"
"""The key of what was lifted from a state machine's action (an error: see :func:`machine`)."""
_DATA = frozenset({"mapping", "input", "data", "params", "context", "output"})
"""Keys of a machine action whose values are the user's data, not steps."""


def lift(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``document`` without its steps' limits and its own ``rateLimit`` (copied where it
    changes: the caller's document is left as it is), and each step's limits by the step's
    JSON path (the workflow's start throttle under ``$``)."""
    found: dict[str, dict[str, Any]] = {}
    lifted = _lifted(document, "$", found)
    lifted, unsupported = machine(lifted, KEYS)
    for path, name in unsupported:
        found[path] = {MACHINE: name}
    if THROTTLE in lifted:
        lifted = dict(lifted)
        found["$"] = {THROTTLE: lifted.pop(THROTTLE)}
    return lifted, found


def _lifted(node: dict[str, Any], path: str, found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    copied = node
    for key in _NESTED:
        items = node.get(key)
        if not isinstance(items, list):
            continue
        kept: list[Any] = []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                where = f"{join(path, key)}[{index}]"
                inner = _lifted(item, where, found)
                if any(name in inner for name in KEYS):
                    inner = dict(inner)
                    found[where] = {name: inner.pop(name) for name in KEYS if name in inner}
                item = inner
            kept.append(item)
        if any(new is not old for new, old in zip(kept, items, strict=True)):
            copied = dict(copied) if copied is node else copied
            copied[key] = kept
    return copied


def machine(document: dict[str, Any], keys: tuple[str, ...]) -> tuple[dict[str, Any], list[Any]]:
    """``document`` without ``keys`` on the actions of its states when it is a state machine
    (copied where it changes), and where each was (its JSON path, the key): the machine dialect
    does not take them, and its loader would only warn of an unknown key."""
    states = document.get("states")
    if not isinstance(states, dict):
        return document, []
    found: list[tuple[str, str]] = []
    stripped = {state: _strip(raw, join("$.states", str(state)), keys, found)
                for state, raw in states.items()}  # fmt: skip
    return ({**document, "states": stripped}, found) if found else (document, [])


def _strip(node: Any, path: str, keys: tuple[str, ...], found: list[tuple[str, str]]) -> Any:
    if isinstance(node, list):
        return [_strip(item, join(path, i), keys, found) for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    action = "action" in node or "handler" in node or "function" in node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if action and key in keys:
            found.append((join(path, key), str(key)))
        elif key in _DATA:
            kept[key] = value
        else:
            kept[key] = _strip(value, join(path, str(key)), keys, found)
    return kept


def apply(definition: Definition, lifted: dict[str, dict[str, Any]], findings: Findings) -> None:
    """Put each step's lifted limits back on the step of its path, checked: every problem is
    reported at its JSON path (``$.steps[0].rateLimit.limit``). A canonical step's own
    ``limits`` are checked too (``$.steps[0].limits.rateLimit.limit``)."""
    by_path = {step.path: step for step in _every_step(definition.steps)}
    for path, own in by_path.items():
        if isinstance(own, ActionStep) and own.limits and path not in lifted:
            _canonical(own, path, findings)
    for path, raw in lifted.items():
        if MACHINE in raw:
            findings.error(path, f"a state machine's action does not take {raw[MACHINE]}: "
                           "register it with the action (@engine.action(...)) or use another "
                           "dialect")  # fmt: skip
            continue
        if path == "$":
            _throttle(definition, raw[THROTTLE], findings)
            continue
        step = by_path.get(path)
        if not isinstance(step, ActionStep):
            for name in raw:
                kind = "group" if step is None else getattr(step, "kind", "group")
                findings.error(join(path, name), f"{name} belongs on an action step, not a "
                               f"{kind} step")  # fmt: skip
            continue
        _, problems = parse_limits(raw)
        for where, message in problems:
            findings.error(path + where, message)
        if not problems:
            step.limits = raw


def _canonical(step: ActionStep, path: str, findings: Findings) -> None:
    """A canonical step's ``limits`` (kept as written when they are right, else dropped)."""
    where = join(path, "limits")
    raw = step.limits
    for key in sorted(set(raw) - set(KEYS), key=str):
        findings.error(join(where, str(key)), f"is not a flow limit (expected: {', '.join(KEYS)})")
    _, problems = parse_limits(raw)
    for at, message in problems:
        findings.error(where + at, message)
    if problems or set(raw) - set(KEYS):
        step.limits = {}


def _throttle(definition: Definition, raw: Any, findings: Findings) -> None:
    """The workflow's ``rateLimit``: runs started per period (per ``key``), checked."""
    _, problems = parse_throttle(raw)
    for where, message in problems:
        findings.error(f"$.{THROTTLE}{where}", message)
    if not problems:
        definition.rate_limit = raw


def _every_step(steps: list[Step]) -> list[Step]:
    found: list[Step] = []
    for step in walk(steps):
        found.append(step)
        found.extend(_every_step(list(step.compensation)))
    return found
