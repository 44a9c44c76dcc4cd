"""The action contract: a named callable that takes a step's resolved input and returns JSON.

An action is called as ``fn(input)`` or, if it declares a second parameter, ``fn(input, ctx)``
with an :class:`ActionContext`. Sync callables run in the engine's step thread pool; async ones
on the event loop. Raising any exception fails the attempt (retried under the step's policy);
``ActionError`` is the conventional type for failures with a clear message.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.errors import PlaitError

if TYPE_CHECKING:
    from plait.clock import Clock
    from plait.runtime.limits import StepLimits
    from plait.store.base import Store

ActionFn = Callable[..., Any]

# `<Noun>.create|update|delete|get|find`: document actions on the built-in document store.
DOCUMENT_ACTION = re.compile(r"^([A-Z][A-Za-z0-9]*)\.(create|update|delete|get|find)$")


class ActionError(PlaitError):
    """An action failed."""


class UnknownAction(PlaitError):
    """No action is registered under that name."""

    def __init__(self, name: str) -> None:
        self.action = name
        super().__init__(f"unknown action {name!r}")


@dataclass(frozen=True)
class ActionContext:
    """What an action may use besides its input."""

    run_id: str
    step_id: str
    workflow: str
    org: str
    store: Store
    clock: Clock
    log: logging.Logger = field(default=logging.getLogger("plait.actions"))
    clients: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """A registered action."""

    name: str
    fn: ActionFn
    takes_context: bool
    is_async: bool
    limits: StepLimits | None = None
    """Its rate limit, bulkhead and circuit breaker (``@engine.action(..., rate_limit=...)``),
    which every step calling it observes."""

    @classmethod
    def of(cls, name: str, fn: ActionFn, limits: StepLimits | None = None) -> Action:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        return cls(name, fn, len(params) >= 2, inspect.iscoroutinefunction(fn), limits)

    def bind(self, value: Any, ctx: ActionContext) -> Callable[[], Any]:
        """A zero-argument callable that runs the action on ``value``."""
        if self.takes_context:
            return lambda: self.fn(value, ctx)
        return lambda: self.fn(value)

    async def call(self, value: Any, ctx: ActionContext) -> Any:
        """Run the action here (async ones awaited, sync ones called inline)."""
        result = self.bind(value, ctx)()
        if inspect.isawaitable(result):
            result = await result
        return result


class Actions:
    """Actions by name. Document actions (``Deal.create`` ...) resolve to one handler per verb."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._document_handler: Callable[[str, str], Action] | None = None

    def register(
        self, name: str, fn: ActionFn, *, replace: bool = False, limits: StepLimits | None = None
    ) -> Action:
        if name in self._actions and not replace:
            raise PlaitError(f"an action named {name!r} is already registered")
        action = Action.of(name, fn, limits)
        self._actions[name] = action
        return action

    def set_document_handler(self, make: Callable[[str, str], Action]) -> None:
        """``make(noun, verb)`` builds the action for ``Noun.verb`` names."""
        self._document_handler = make

    def get(self, name: str) -> Action:
        found = self._actions.get(name)
        if found is not None:
            return found
        match = DOCUMENT_ACTION.match(name)
        if match and self._document_handler is not None:
            return self._document_handler(match[1], match[2])
        raise UnknownAction(name)

    def known(self, name: str) -> bool:
        return name in self._actions or bool(
            DOCUMENT_ACTION.match(name) and self._document_handler is not None
        )

    def copy(self) -> Actions:
        other = Actions()
        other._actions = dict(self._actions)
        other._document_handler = self._document_handler
        return other

    def names(self) -> list[str]:
        return sorted(self._actions)
