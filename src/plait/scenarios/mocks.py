"""The actions a scenario's run calls: its mocks, the actions that may run for real, and a
stand-in for every other action that fails the scenario when a step reaches it.

Run for real without a mock: ``log``, ``emit``, ``code`` (Python in plait's sandbox) and the
document actions (``Customer.create`` ...), which only touch the scenario's throwaway database;
and, when a caller passes them (``plait test --app``), the actions registered on its engine.
Everything else (``http``, ``email``, registered Python actions) must be mocked: a step that
reaches an unmocked one fails, and the scenario fails naming the action and the step. Every
call, mocked or real, is recorded with its step and input.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plait.actions.base import DOCUMENT_ACTION, Action, ActionContext, ActionError, Actions

if TYPE_CHECKING:
    from plait.resources.scenarios import Mock, MockOutcome

RUN_FOR_REAL = frozenset({"log", "emit", "code"})
"""Built-in actions that run unmocked: they only touch the scenario's throwaway database."""


class UnmockedAction(ActionError):
    """A step reached an action that the scenario does not mock."""


@dataclass(frozen=True)
class Call:
    """An action call: which action, from which step, with what input."""

    action: str
    step: str
    input: Any
    mocked: bool


@dataclass
class Journal:
    """What the actions of one scenario saw: every call, and the unmocked actions reached."""

    calls: list[Call] = field(default_factory=list)
    unmocked: list[tuple[str, str]] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for call in self.calls if call.action == action)


def step_of(ctx: ActionContext) -> str:
    """The step key of an action's call (its ``step_id`` is ``{run_id}/{step key}``)."""
    return ctx.step_id.split("/", 1)[1] if "/" in ctx.step_id else ctx.step_id


class ScenarioActions(Actions):
    """Actions by name for one scenario: mocks first, then the actions allowed to run for real,
    then a stand-in that fails. Every name is known: a scenario only needs mocks for the
    actions its run reaches."""

    def __init__(self, mocks: dict[str, Mock], journal: Journal, real: Actions | None = None):
        super().__init__()
        self.mocks = mocks
        self.journal = journal
        self.real = real
        self._made: dict[str, Action] = {}
        from plait.actions.builtin import register_builtins
        from plait.actions.code_action import code_action

        register_builtins(self)
        self.register("code", code_action)

    def register(self, name: str, fn: Any, *, replace: bool = False, limits: Any = None) -> Action:
        """Register ``name`` (again: the engine's catalog registers the built-ins once more)."""
        return super().register(name, fn, replace=True, limits=limits)

    def known(self, name: str) -> bool:
        return True

    def copy(self) -> Actions:
        return self

    def get(self, name: str) -> Action:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = Action.of(name, self._make(name))
        return made

    def _make(self, name: str) -> Any:
        if name in self.mocks:
            return _mocked(name, self.mocks[name].outcomes, self.journal)
        if self.real is not None and name in self.real.names():
            return _recorded(self.real.get(name), self.journal)
        if name in RUN_FOR_REAL or DOCUMENT_ACTION.match(name):
            return _recorded(super().get(name), self.journal)
        return _unmocked(name, self.journal)


def _mocked(name: str, outcomes: list[MockOutcome], journal: Journal) -> Any:
    async def mocked(value: Any, ctx: ActionContext) -> Any:
        index = journal.count(name)
        journal.calls.append(Call(name, step_of(ctx), value, mocked=True))
        outcome = outcomes[min(index, len(outcomes) - 1)]
        if outcome.delay:
            await ctx.clock.sleep(outcome.delay)
        if outcome.error is not None:
            raise _error(outcome.type)(f"{name} (mocked): {outcome.error}")
        return outcome.value

    return mocked


def _error(type_name: str | None) -> type[Exception]:
    """``ActionError``, or an error class named ``type_name`` (recorded under that name, so
    that a retry policy's ``nonRetryable`` and the expectations can name it)."""
    if not type_name:
        return ActionError
    cls = type(type_name, (ActionError,), {"__doc__": f"A mocked {type_name}."})
    cls.__module__ = "builtins"
    return cls


def _recorded(action: Action, journal: Journal) -> Any:
    async def recorded(value: Any, ctx: ActionContext) -> Any:
        journal.calls.append(Call(action.name, step_of(ctx), value, mocked=False))
        if action.is_async:
            return await action.call(value, ctx)
        return await asyncio.to_thread(action.bind(value, ctx))

    return recorded


def _unmocked(name: str, journal: Journal) -> Any:
    async def unmocked(value: Any, ctx: ActionContext) -> Any:
        step = step_of(ctx)
        journal.calls.append(Call(name, step, value, mocked=False))
        if (name, step) not in journal.unmocked:
            journal.unmocked.append((name, step))
        raise UnmockedAction(f"step {step!r} reached action {name!r}, which the scenario does "
                             f"not mock (add mocks: {{{name}: ...}})")  # fmt: skip

    return unmocked
