"""Workflow definitions registered on an engine."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from plait.errors import InvalidArguments

WorkflowFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class MetricSpec:
    """A business metric a workflow declares (brief 001 ``metrics: [{name, description}]``)."""

    name: str
    description: str | None = None


PRIORITIES = range(-10, 11)
"""The priorities a run may have (higher is claimed first; 0 by default)."""

STRATEGIES = ("queue", "cancel-newest", "cancel-in-progress")
"""What a start does over its concurrency key's limit (docs/flow-control.md)."""

SINGLETON_MODES = ("skip", "cancel")


@dataclass(frozen=True)
class FlowControl:
    """A workflow's flow control (docs/flow-control.md); keys are CEL expressions over the
    start's input, checked by ``plait.definitions.flow``."""

    concurrency_key: str | None = None
    concurrency_limit: int = 1
    strategy: str = "queue"
    """One of :data:`STRATEGIES`."""
    priority: int = 0
    singleton_key: str | None = None
    singleton_mode: str = "skip"
    """One of :data:`SINGLETON_MODES`."""
    debounce_key: str | None = None
    debounce_delay: float = 0.0


@dataclass(frozen=True)
class Workflow:
    """A code workflow: an ``async def f(ctx, ...)`` under a unique name."""

    name: str
    fn: WorkflowFn
    timeout: float | None = None
    triggers: tuple[str, ...] = ()
    """Event types that start a run of this (code) workflow."""
    ordered_replay: bool = True
    """False for interpreted definitions: replay matches steps by their unique keys only."""
    validate_input: Callable[[tuple[Any, ...]], None] | None = field(default=None, repr=False)
    """Extra argument check (a definition's input JSON Schema); raises ``InvalidArguments``."""
    planned_steps: tuple[str, ...] | None = None
    """A definition's top-level step ids, in order: what its progress counts (None: code,
    which reports its own with ``ctx.progress``, and state machines)."""
    progress_events: bool = False
    """Whether runs emit ``WorkflowProgress.updated`` events as they progress."""
    metrics: tuple[MetricSpec, ...] = ()
    """The business metrics its runs may record (``ctx.metric``): any other name is refused."""
    pricing: Any = field(default=None, compare=False)
    """Its pricing model (a ``plait.runtime.pricing.Pricing``), evaluated once when each run
    ends (docs/costs.md); None: its runs are not priced, and cost nothing to account."""
    flow: FlowControl | None = None
    """Its concurrency key, priority, singleton key and debounce (None: none of them)."""
    rate_limit: Any = None
    """Its start throttle, a ``plait.RateLimit`` (runs started per period, per its ``key``):
    a start past it creates the run waiting until its turn (None: unthrottled)."""
    signature: inspect.Signature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not inspect.iscoroutinefunction(self.fn):
            raise TypeError(f"workflow {self.name!r} must be an async function (async def)")
        object.__setattr__(self, "signature", inspect.signature(self.fn))
        if not self.signature.parameters:
            raise TypeError(f"workflow {self.name!r} must take the Context as its first parameter")

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fn(*args, **kwargs)

    def check_arguments(self, args: tuple[Any, ...]) -> None:
        """Raise ``InvalidArguments`` unless ``args`` fit the function after its context."""
        try:
            self.signature.bind(None, *args)
        except TypeError as exc:
            params = list(self.signature.parameters)[1:]
            expected = f"expected ({', '.join(params)})" if params else "expected no arguments"
            raise InvalidArguments(self.name, f"{exc}; {expected}, got {len(args)}") from exc
        if self.validate_input is not None:
            self.validate_input(args)
