"""Assertions on the steps a test's runs called, with messages that show the calls."""

from __future__ import annotations

from collections import Counter
from typing import Any

from plait.testing.mocks import Mock, StepCall, StepMocks, StepRef, describe


class StepAssertions:
    """``calls`` and the ``assert_*`` methods of ``WorkflowTest``: every attempt of every step,
    mocked or real, is recorded with its arguments (unittest.mock's ``ANY`` matches any)."""

    _mocks: StepMocks

    def calls(self, step: StepRef | None = None) -> list[StepCall]:
        """The attempts of ``step`` (by name, key or function; all steps without one), in the
        order they started. A retried step has one call per attempt."""
        return self._mocks.of(step)

    def assert_called(self, step: StepRef, *, times: int | None = None) -> None:
        """Assert that ``step`` was called (exactly ``times`` times, counting every attempt)."""
        calls = self.calls(step)
        if not calls:
            raise AssertionError(f"step {describe(step)} was never called; {self._called()}")
        if times is not None and len(calls) != times:
            raise AssertionError(
                f"step {describe(step)} was called {_times(len(calls))}, expected "
                f"{_times(times)}:\n{_listed(calls)}"
            )

    def assert_not_called(self, step: StepRef) -> None:
        """Assert that no attempt of ``step`` was made."""
        calls = self.calls(step)
        if calls:
            raise AssertionError(
                f"step {describe(step)} was called {_times(len(calls))}, expected never:\n"
                f"{_listed(calls)}"
            )

    def assert_called_with(self, step: StepRef, /, *args: Any, **kwargs: Any) -> None:
        """Assert that the last call of ``step`` had exactly these arguments."""
        self.assert_called(step)
        last = self.calls(step)[-1]
        if (last.args, last.kwargs) != (args, kwargs):
            raise AssertionError(
                f"step {describe(step)} was last called with {_arguments(last.args, last.kwargs)}"
                f", expected {_arguments(args, kwargs)}:\n{_listed(self.calls(step))}"
            )

    def assert_any_call(self, step: StepRef, /, *args: Any, **kwargs: Any) -> None:
        """Assert that some call of ``step`` had exactly these arguments."""
        self.assert_called(step)
        calls = self.calls(step)
        if not any((c.args, c.kwargs) == (args, kwargs) for c in calls):
            raise AssertionError(
                f"no call of step {describe(step)} had {_arguments(args, kwargs)}:\n"
                f"{_listed(calls)}"
            )

    def assert_mocks_used(self) -> None:
        """Assert that every mock answered at least one call (a mock that never did names a
        step the runs never reached, often a misspelt one), a mock with ``times`` that many,
        and a ``sequence`` one call per item."""
        unused = [m for m in self._mocks.mocks if m.unfinished]
        if unused:
            lines = [f"  mock of step {describe(m.step)}: answered {_times(len(m.calls))}"
                     + _expected(m) for m in unused]  # fmt: skip
            raise AssertionError("mocks not used up:\n" + "\n".join(lines) + f"\n{self._called()}")

    def _called(self) -> str:
        counts = Counter(c.step for c in self._mocks.calls)
        if not counts:
            return "no step was called"
        return "steps called: " + ", ".join(f"{name!r} ({n})" for name, n in counts.items())


def _expected(mock: Mock) -> str:
    if mock.times is not None:
        return f", expected {_times(mock.times)}"
    if mock.answers is not None and len(mock.answers) > 1:
        return f", expected one call per item of its sequence of {len(mock.answers)}"
    return ""


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    shown = [*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]
    return f"({', '.join(shown)})"


def _listed(calls: list[StepCall]) -> str:
    return "\n".join(f"  {i}. {call}" for i, call in enumerate(calls, 1))
