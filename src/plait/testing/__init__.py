"""Test helpers shipped with plait.

- :class:`WorkflowTest` runs code workflows on the real engine with an in-memory database, a
  virtual clock and mocked steps, and asserts on the steps they called
  (see docs/testing.md, "Code workflows in Python").
- :class:`VirtualClock` skips time instead of waiting; :func:`assert_eventually` polls.
"""

from plait.testing.clock import VirtualClock, assert_eventually
from plait.testing.mocks import Mock, StepCall
from plait.testing.workflows import RunResult, WorkflowTest

__all__ = ["Mock", "RunResult", "StepCall", "VirtualClock", "WorkflowTest", "assert_eventually"]
