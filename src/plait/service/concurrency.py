"""Flow control of starts (docs/flow-control.md): a run's priority, the values of its
workflow's concurrency, singleton and debounce keys (CEL over the start's input), and what a
start does to the live runs of its keys.

The store keeps the limits exact (``plait.store.concurrency``): slots are taken by claims
under a row lock, a ``cancel-newest`` start is decided under its key's lock, a debounced or
singleton ``skip`` start joins the live run of its key in the transaction that would create
it. Cancelling older runs (``cancel-in-progress``, a singleton's ``cancel``) goes through the
ordinary cancel, right after the new run is stored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from plait.errors import InvalidArguments
from plait.store.records import RunFlow
from plait.workflow import PRIORITIES, FlowControl

if TYPE_CHECKING:
    from plait.expressions import Expression
    from plait.service.deps import Deps
    from plait.store.base import Store

log = logging.getLogger(__name__)

LITERAL = "\0"
"""Marks a start's own debounce key (``with_debounce``): the text after it is the key's value,
not an expression (no expression holds a NUL), so a value is never compiled or cached."""


def check_priority(workflow: str, priority: Any) -> int:
    """``priority`` if it is a whole number in :data:`PRIORITIES` (else ``InvalidArguments``)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority not in PRIORITIES:
        low, high = PRIORITIES[0], PRIORITIES[-1]
        raise InvalidArguments(workflow, f"priority must be a whole number from {low} to "
                                         f"{high}, not {priority!r}")  # fmt: skip
    return priority


def run_flow(
    workflow: str, flow: FlowControl | None, scope: dict[str, Any], now: float, *,
    priority: int | None = None,
) -> RunFlow | None:  # fmt: skip
    """What flow control decides for a start of ``workflow`` whose input is ``scope``
    (``input``, and a code workflow's ``args``); None for a plain start (the fast path).
    A key that fails to evaluate refuses the start (``InvalidArguments``)."""
    chosen = check_priority(workflow, priority) if priority is not None else None
    if flow is None:
        return None if not chosen else RunFlow(priority=chosen)
    debounce = _value(workflow, "debounce", flow.debounce_key, scope)
    return RunFlow(
        priority=flow.priority if chosen is None else chosen,
        concurrency_key=_value(workflow, "concurrency", flow.concurrency_key, scope),
        concurrency_limit=flow.concurrency_limit if flow.concurrency_key else None,
        strategy=flow.strategy,
        singleton_key=_value(workflow, "singleton", flow.singleton_key, scope),
        singleton_skip=flow.singleton_mode == "skip",
        debounce_key=debounce,
        wake_at=None if debounce is None else now + flow.debounce_delay,
    )  # fmt: skip


def with_debounce(workflow: str, flow: FlowControl | None, debounce: Any) -> FlowControl | None:
    """``flow`` with a start's own ``debounce`` (``{key, delay}`` or ``("key", delay)``, the
    delay in seconds or a ``timedelta``, where ``key`` is the key's value itself, not an
    expression); ``InvalidArguments`` naming ``workflow`` for anything else."""
    if debounce is None:
        return flow
    from dataclasses import replace

    from plait.definitions.flow import debounce_option

    value = debounce_option(debounce)
    if not isinstance(value, dict) or not isinstance(value.get("key"), str):
        raise InvalidArguments(workflow, "debounce must be {key, delay} or (key, seconds)")
    delay = value.get("delay")
    if (isinstance(delay, bool) or not isinstance(delay, int | float)
            or not math.isfinite(delay) or delay <= 0):  # fmt: skip
        raise InvalidArguments(workflow, "debounce delay must be a finite number of seconds "
                                         f"above 0, not {delay!r}")  # fmt: skip
    return replace(flow or FlowControl(), debounce_key=LITERAL + value["key"],
                   debounce_delay=float(delay))  # fmt: skip


async def settle(deps: Deps, store: Store, org: str, workflow: str, run_id: str,
                 flow: RunFlow | None, limit: int) -> None:  # fmt: skip
    """After ``run_id`` was created: cancel the live runs its start displaces, all but the
    newest (by creation time, then id) of its key: its ``limit`` newest under
    ``cancel-in-progress``, its newest under a singleton's ``cancel``. The new run counts
    among them, so concurrent starts agree: the one that reads last sees them all and keeps
    the newest (a new run that a newer one overtook is cancelled too), and none cancels a
    newer run."""
    if flow is None:
        return
    older: list[str] = []
    why = ""
    if flow.concurrency_key is not None and flow.strategy == "cancel-in-progress":
        live = await store.live_runs_of_key(org, workflow, flow.concurrency_key)
        older += live[: max(0, len(live) - limit)]
        why = f"concurrency key {flow.concurrency_key!r}: a newer run took its place"
    if flow.singleton_key is not None and not flow.singleton_skip:
        live = await store.live_runs_of_key(org, workflow, flow.singleton_key, singleton=True)
        older += live[:-1]
        why = f"singleton key {flow.singleton_key!r}: a newer run took its place"
    if older:
        await _cancel(deps, store, older, f"{why} ({live[-1]})")


async def _cancel(deps: Deps, store: Store, run_ids: Sequence[str], reason: str) -> None:
    for older in dict.fromkeys(run_ids):
        done = await store.cancel_run(older, deps.now(), reason=reason, actor=None)
        if done is not None:
            deps.local.cancel(done.cancelled)


def _value(workflow: str, what: str, source: str | None, scope: dict[str, Any]) -> str | None:
    """The value of a key expression over ``scope``, as text (strings as they are, anything
    else as JSON)."""
    if source is None:
        return None
    if source.startswith(LITERAL):
        return source[len(LITERAL) :]
    from plait.expressions import EvaluationError

    expression = _compiled(source)
    try:
        value = expression.evaluate(scope)
    except EvaluationError as exc:
        raise InvalidArguments(workflow, f"its {what} key {source!r} failed: {exc}") from exc
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Expression:
    """A key expression compiled once (workflows' keys are few; the cache is bounded all the
    same)."""
    from plait.expressions import compile_expression

    return compile_expression(source)
