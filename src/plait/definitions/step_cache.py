"""A definition step's ``cache: {key, ttl, namespace}`` (step-result caching, every dialect but
the state machine's: a cache on one of its actions is an error at its path).

Like a step's ``metrics`` (``plait.definitions.metrics``), ``cache`` is lifted out of each step
of the document (by the step's JSON path) before its dialect reads it, and put back on the
normalised step after, so each dialect's loader need not know it. Only an action step can be
cached. ``key`` is a template over the names the step's input sees (``"{{ input.email }}"``);
``ttl`` is seconds or a duration such as ``"1h"`` (a number is seconds in every dialect, as a
cache's time to live usually is); ``namespace`` shares entries between steps and workflows of
one organization.
"""

from __future__ import annotations

from typing import Any

from plait.definitions.model import ActionStep, Definition, Step, StepCache, walk
from plait.definitions.step_limits import machine
from plait.definitions.validate import Findings, join
from plait.expressions import ExpressionError, compile_template
from plait.runtime.step_cache import TTL_FORMS, ttl_seconds

KEYS = ("key", "ttl", "namespace")
_NESTED = ("steps", "nodes", "then", "else", "fallback", "compensation", "branches")
"""Keys under which a document nests steps (in any dialect)."""
_MACHINE = object()
"""What was lifted from a state machine's action (which takes no cache)."""


def lift(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``document`` without its steps' ``cache`` (copied where it changes: the caller's
    document is left as it is), and each step's ``cache`` by the step's JSON path."""
    by_path: dict[str, Any] = {}
    lifted, unsupported = machine(_lifted(document, "$", by_path), ("cache",))
    for path, _ in unsupported:  # the machine dialect does not take it: an error at its path
        by_path[path] = _MACHINE
    return lifted, by_path


def _lifted(node: dict[str, Any], path: str, found: dict[str, Any]) -> dict[str, Any]:
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
                if "cache" in inner:  # a dump's ``cache: null`` is no cache
                    inner = dict(inner)
                    raw = inner.pop("cache")
                    if raw is not None:
                        found[where] = raw
                item = inner
            kept.append(item)
        if any(new is not old for new, old in zip(kept, items, strict=True)):
            copied = dict(copied) if copied is node else copied
            copied[key] = kept
    return copied


def apply(definition: Definition, lifted: dict[str, Any], findings: Findings) -> None:
    """Put each lifted ``cache`` back on the step of its path, checked (a problem at its path
    when it is not of the right shape, or not on an action step)."""
    by_path = {step.path: step for step in _every_step(definition.steps)}
    for path, raw in lifted.items():
        where = join(path, "cache")
        step = by_path.get(path)
        if raw is _MACHINE:
            findings.error(path, "a state machine's action cannot be cached: use another dialect")
        elif step is None:
            findings.error(where, "cache belongs on a step")
        elif not isinstance(step, ActionStep):
            findings.error(where, f"only an action step's result can be cached, not a "
                           f"{getattr(step, 'kind', 'group')} step's")  # fmt: skip
        else:
            step.cache = parse(raw, where, findings)


def parse(raw: Any, where: str, findings: Findings) -> StepCache | None:
    """``raw`` as a ``StepCache``, or None with its problems reported under ``where``."""
    if not isinstance(raw, dict):
        findings.error(where, "expected an object {key, ttl}, such as "
                       "{key: '{{ input.email }}', ttl: '1h'}")  # fmt: skip
        return None
    problems = len(findings.errors)
    for unknown in sorted(set(raw) - set(KEYS)):
        findings.error(join(where, unknown), "unknown key: a cache takes key, ttl and namespace")
    key, ttl, namespace = _key(raw, where, findings), None, raw.get("namespace")
    if "ttl" not in raw:
        findings.error(join(where, "ttl"), f"required: how long an entry lives, {TTL_FORMS}")
    else:
        try:
            ttl = ttl_seconds(raw["ttl"])
        except ValueError as exc:
            findings.error(join(where, "ttl"), str(exc))
    if namespace is not None and not (isinstance(namespace, str) and namespace):
        findings.error(join(where, "namespace"), "expected a non-empty string")
    if len(findings.errors) > problems or key is None or ttl is None:
        return None
    return StepCache(key=key, ttl=ttl, namespace=namespace)


def _key(raw: dict[str, Any], where: str, findings: Findings) -> str | None:
    at = join(where, "key")
    key = raw.get("key")
    if key is None:
        findings.error(at, "required: a template of what identifies a result, such as "
                       "'{{ input.email }}'")  # fmt: skip
        return None
    if not isinstance(key, str) or not key.strip():
        findings.error(at, f"expected a non-empty string (a template), not {key!r}")
        return None
    try:
        compile_template(key)
    except ExpressionError as exc:
        findings.error(at, str(exc))
        return None
    return key


def _every_step(steps: list[Step]) -> list[Step]:
    found: list[Step] = []
    for step in walk(steps):
        found.append(step)
        found.extend(_every_step(list(step.compensation)))
    return found
