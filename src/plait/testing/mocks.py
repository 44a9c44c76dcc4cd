"""Mocked steps: what a mock answers, the record of every step attempt, and the step hook that
puts the two together on a test's engine."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plait.runtime.steps import StepAttempt
    from plait.testing.clock import VirtualClock

StepRef = str | Callable[..., Any]
"""A step as a test names it: its name (every occurrence), its key (``fetch#2``: that
occurrence), or the function the workflow passes to ``ctx.step``."""

UNSET: Any = object()


def describe(step: StepRef) -> str:
    """``'charge'``, or ``function send_email`` for a step named by its function."""
    if isinstance(step, str):
        return repr(step)
    name = getattr(step, "__qualname__", None) or getattr(step, "__name__", None) or repr(step)
    return f"function {name}"


@dataclass(eq=False, repr=False)
class StepCall:
    """One attempt of a step, mocked or run for real, as a test sees it.

    ``args`` and ``kwargs`` are the values the workflow passed to ``ctx.step`` (the objects
    themselves); ``result`` or ``error`` is how the attempt ended (``ended`` is False while it
    runs). ``at`` is the virtual time the attempt started.
    """

    step: str
    key: str
    attempt: int
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    run_id: str
    workflow: str
    at: datetime
    fn: Callable[..., Any] = field(repr=False)
    """The function the workflow passed to ``ctx.step``."""
    mock: Mock | None = None
    result: Any = None
    error: BaseException | None = None
    ended: bool = False

    @property
    def mocked(self) -> bool:
        """Whether a mock answered this attempt (else the step's own function ran)."""
        return self.mock is not None

    def __str__(self) -> str:
        shown = [*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        if not self.ended:
            outcome = "still running"
        elif isinstance(self.error, asyncio.CancelledError):
            outcome = "cancelled (its timeout, or the run's cancel)"
        elif self.error is not None:
            outcome = f"raised {self.error!r}"
        else:
            outcome = f"returned {self.result!r}"
        how = "mocked" if self.mocked else "real"
        return (f"{self.key}({', '.join(shown)}) attempt {self.attempt} -> {outcome} "
                f"[{how}, run {self.run_id}]")  # fmt: skip

    def __repr__(self) -> str:
        return f"<StepCall {self}>"

    def _end(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.ended = result, error, True


class Mock:
    """What a mocked step answers instead of running its function (see ``WorkflowTest.mock``).

    Exactly one answer: ``returns`` a value, ``raises`` an exception (an instance or a class),
    ``sequence`` one item per call, the last repeating (an exception item is raised, any other
    returned: ``[TimeoutError("x"), {"id": 1}]`` fails once, then returns), or ``replace_with``
    a callable called with the step's arguments. ``times`` limits how many calls it answers;
    a used-up mock leaves the step to the
    next mock registered for it, or to its own function. ``delay`` (seconds of virtual time)
    is how long each answer takes, for testing step timeouts.
    """

    def __init__(
        self,
        step: StepRef,
        *,
        returns: Any = UNSET,
        raises: BaseException | type[BaseException] | None = None,
        sequence: Iterable[Any] | None = None,
        replace_with: Callable[..., Any] | None = None,
        times: int | None = None,
        delay: float = 0.0,
    ) -> None:
        given = {
            "returns": returns is not UNSET,
            "raises": raises is not None,
            "sequence": sequence is not None,
            "replace_with": replace_with is not None,
        }
        chosen = [name for name, present in given.items() if present]  # fmt: skip
        what = f"mock of step {describe(step)}"
        if len(chosen) != 1:
            got = ", ".join(f"{n}=" for n in chosen) or "none"
            raise TypeError(f"{what}: give exactly one of returns=, raises=, sequence= or "
                            f"replace_with= (got {got})")  # fmt: skip
        self.answers = None if sequence is None else list(sequence)
        if self.answers is not None and not self.answers:
            raise ValueError(f"{what}: a sequence needs at least one item")
        if times is not None and times < 1:
            raise ValueError(f"{what}: times must be 1 or more, got {times}")
        if delay < 0:
            raise ValueError(f"{what}: delay must not be negative, got {delay}")
        self.step = step
        self.times = times
        self.returns, self.raises, self.replace_with = returns, raises, replace_with
        self.delay = delay
        self.calls: list[StepCall] = []
        """The calls this mock answered."""

    def __repr__(self) -> str:
        return f"<Mock of step {describe(self.step)}: {len(self.calls)} calls>"

    @property
    def limited(self) -> bool:
        return self.times is not None

    @property
    def unfinished(self) -> bool:
        """Whether it answered no call, fewer than ``times``, or not every item of its
        sequence."""
        least = max(1, self.times or 0, len(self.answers or ()))
        return len(self.calls) < least

    @property
    def used_up(self) -> bool:
        """Whether it has answered all the calls it was given (never, without ``times``)."""
        return self.times is not None and len(self.calls) >= self.times

    def matches(self, attempt: StepAttempt) -> bool:
        if isinstance(self.step, str):
            return self.step in (attempt.name, attempt.key)
        return same_function(attempt.fn, self.step)

    def answer(self, index: int, clock: VirtualClock) -> Callable[..., Any]:
        """The callable that answers this mock's call number ``index`` (from 0)."""
        replacement = self.replace_with
        if replacement is not None and not self.delay and not _is_async(replacement):
            return replacement  # a plain function runs in the step thread pool, as steps do

        async def answering(*args: Any, **kwargs: Any) -> Any:
            if self.delay:
                await clock.sleep(self.delay)
            if replacement is not None:
                result = replacement(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result
            if self.answers is not None:
                item = self.answers[min(index, len(self.answers) - 1)]
            else:
                item = self.returns if self.raises is None else self.raises
            if isinstance(item, BaseException) or _is_error_class(item):
                raise item
            return item

        return answering


class StepMocks:
    """A test's mocks and the record of every step attempt; :meth:`hook` is the engine's
    step hook (``Engine.step_hook``)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.mocks: list[Mock] = []
        self.calls: list[StepCall] = []

    def add(self, mock: Mock) -> Mock:
        self.mocks.append(mock)
        return mock

    def chosen(self, attempt: StepAttempt) -> Mock | None:
        """The mock that answers ``attempt``: the first registered mock with ``times`` not used
        up; else the last registered unlimited one; else none."""
        matching = [m for m in self.mocks if m.matches(attempt)]
        limited = [m for m in matching if m.limited and not m.used_up]
        if limited:
            return limited[0]
        unlimited = [m for m in matching if not m.limited]
        return unlimited[-1] if unlimited else None

    def hook(self, attempt: StepAttempt) -> Callable[..., Any]:
        mock = self.chosen(attempt)
        at = datetime.fromtimestamp(self.clock.time(), UTC)
        call = StepCall(attempt.name, attempt.key, attempt.attempt, attempt.args,
                        dict(attempt.kwargs), attempt.run_id, attempt.workflow, at, attempt.fn,
                        mock)  # fmt: skip
        self.calls.append(call)
        if mock is None:
            return recorded(call, attempt.fn)
        mock.calls.append(call)
        return recorded(call, mock.answer(len(mock.calls) - 1, self.clock))

    def of(self, step: StepRef | None) -> list[StepCall]:
        """The calls of ``step`` (every call without one), in the order they started."""
        if step is None:
            return list(self.calls)
        if isinstance(step, str):
            return [c for c in self.calls if step in (c.step, c.key)]
        return [c for c in self.calls if same_function(c.fn, step)]


def recorded(call: StepCall, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` wrapped to note how ``call`` ended; sync stays sync (it runs in a thread)."""
    if _is_async(fn):

        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                call._end(error=exc)
                raise
            call._end(result)
            return result

        return run_async

    def run_sync(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call._end(error=exc)
            raise
        if inspect.isawaitable(result):
            return run_async_result(call, result)
        call._end(result)
        return result

    return run_sync


async def run_async_result(call: StepCall, pending: Any) -> Any:
    try:
        result = await pending
    except BaseException as exc:
        call._end(error=exc)
        raise
    call._end(result)
    return result


def same_function(fn: Callable[..., Any], target: Callable[..., Any]) -> bool:
    """Whether the step function ``fn`` is ``target``: itself, a bound method of it, or a
    ``functools.partial`` or decorator (``__wrapped__``) around it."""
    seen: Any = fn
    for _ in range(16):
        if seen is target or getattr(seen, "__func__", None) is target:
            return True
        if inspect.ismethod(seen) and seen == target:
            return True
        seen = getattr(seen, "func", None) or getattr(seen, "__wrapped__", None)
        if seen is None:
            return False
    return False


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


def _is_error_class(item: Any) -> bool:
    return isinstance(item, type) and issubclass(item, BaseException)
