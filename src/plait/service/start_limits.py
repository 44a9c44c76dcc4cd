"""A workflow's start throttle (docs/flow-control.md, "Rate limits"): at most ``limit`` runs
started per ``period`` (per value of its ``key``, CEL over the start's input), across every
process. A start's flow carries its throttle; the store reserves the next turn of its limit
in the transaction that creates the run (GCRA, exact on both backends:
``plait.store.limits.start_turn``), and a turn later than now makes the run ``waiting`` until
it (queued, holding no slot), as a debounced start is. A plain start pays for nothing."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from plait.errors import InvalidArguments
from plait.runtime.limits import RateLimit, throttle_of
from plait.store.records import RunFlow

if TYPE_CHECKING:
    from plait.workflow import Workflow

log = logging.getLogger(__name__)


def throttled(
    workflow: Workflow | None, scope: dict[str, Any], flow: RunFlow | None
) -> RunFlow | None:
    """``flow`` of a start of ``workflow`` with its throttle's limit (named after the
    workflow, and the key's value); ``InvalidArguments`` if the key cannot be evaluated."""
    rate = None if workflow is None else workflow.rate_limit
    if rate is None:
        return flow
    assert workflow is not None
    name = rate.name or workflow.name
    if rate.key is not None:
        name = f"{name}/{_key(workflow.name, rate.key, scope)}"
    throttle = (name, rate.interval, rate.tolerance)
    return RunFlow(throttle=throttle) if flow is None else replace(flow, throttle=throttle)


def event_throttled(
    rate: RateLimit | None, workflow: str, scope: dict[str, Any], flow: RunFlow | None
) -> RunFlow | None:
    """``flow`` of a run an event starts, with its workflow's throttle ``rate``; a key that
    fails is logged and the run starts unthrottled (as a failed debounce key)."""
    if rate is None:
        return flow
    name = rate.name or workflow
    if rate.key is not None:
        try:
            name = f"{name}/{_key(workflow, rate.key, scope)}"
        except InvalidArguments as exc:
            log.warning("rateLimit of %s failed (%s); starting unthrottled", workflow, exc)
            return flow
    throttle = (name, rate.interval, rate.tolerance)
    return RunFlow(throttle=throttle) if flow is None else replace(flow, throttle=throttle)


def definition_throttle(workflow_id: str, version: int, definition: dict[str, Any]) -> Any:
    """The start throttle (a ``RateLimit``, or None) of a stored definition's version, read
    once per version in this process."""
    key = (workflow_id, version)
    if key not in _THROTTLES:
        if len(_THROTTLES) >= 4096:
            _THROTTLES.clear()
        raw = definition.get("rateLimit", definition.get("rate_limit"))
        name = str(definition.get("name") or workflow_id)
        _THROTTLES[key] = None if raw is None else throttle_of(raw, name)
    return _THROTTLES[key]


_THROTTLES: dict[tuple[str, int], Any] = {}


def _key(workflow: str, source: str, scope: dict[str, Any]) -> str:
    """The value of the throttle's key over the start's input, as text (strings as they are,
    anything else as JSON); ``InvalidArguments`` when it fails."""
    from plait.expressions import EvaluationError, compile_expression

    try:
        value = compile_expression(source).evaluate(scope)
    except EvaluationError as exc:
        raise InvalidArguments(workflow, f"its rateLimit key {source!r} failed: {exc}") from exc
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
