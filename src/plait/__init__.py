"""plait: durable workflows for Python.

>>> from plait import Engine, Context, RetryPolicy
"""

import importlib
from typing import TYPE_CHECKING, Any

from plait.clock import Clock, SystemClock
from plait.engine import Engine
from plait.errors import (
    ChildWorkflowFailed,
    CircuitOpen,
    InvalidArguments,
    NonDeterminismError,
    PlaitError,
    ResultTimeout,
    RunConflict,
    RunNotFound,
    SerializationError,
    StepFailed,
    StepTimeout,
    TaskExpired,
    UnknownWorkflow,
    WorkflowCancelled,
    WorkflowFailed,
    WorkflowTimeout,
)
from plait.retry import RetryPolicy
from plait.runtime.context import Context
from plait.runtime.human import Escalation
from plait.runtime.limits import Bulkhead, CircuitBreaker, RateLimit
from plait.runtime.step_cache import Cache
from plait.service.handles import RunHandle
from plait.settings import Settings
from plait.workflow import Workflow

if TYPE_CHECKING:
    from plait.resources.base import Page
    from plait.resources.events import Event, EventPage
    from plait.resources.runs import Run, RunPage, Signal, Step
    from plait.resources.tasks import Task, TaskPage
    from plait.resources.workflows import StoredWorkflow, WorkflowPage

__version__ = "0.1.0"

_RESOURCES = {
    "Page": "plait.resources.base",
    "Run": "plait.resources.runs",
    "RunPage": "plait.resources.runs",
    "Signal": "plait.resources.runs",
    "Step": "plait.resources.runs",
    "Event": "plait.resources.events",
    "EventPage": "plait.resources.events",
    "Task": "plait.resources.tasks",
    "TaskPage": "plait.resources.tasks",
    "StoredWorkflow": "plait.resources.workflows",
    "WorkflowPage": "plait.resources.workflows",
}
"""Resource models, imported on first use (``import plait`` does not pay for pydantic)."""


def __getattr__(name: str) -> Any:
    module = _RESOURCES.get(name)
    if module is None:
        raise AttributeError(f"module 'plait' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Bulkhead",
    "Cache",
    "ChildWorkflowFailed",
    "CircuitBreaker",
    "CircuitOpen",
    "Clock",
    "Context",
    "Engine",
    "Escalation",
    "Event",
    "EventPage",
    "InvalidArguments",
    "NonDeterminismError",
    "Page",
    "PlaitError",
    "RateLimit",
    "ResultTimeout",
    "RetryPolicy",
    "Run",
    "RunConflict",
    "RunHandle",
    "RunNotFound",
    "RunPage",
    "SerializationError",
    "Settings",
    "Signal",
    "Step",
    "StepFailed",
    "StepTimeout",
    "StoredWorkflow",
    "SystemClock",
    "Task",
    "TaskExpired",
    "TaskPage",
    "UnknownWorkflow",
    "Workflow",
    "WorkflowCancelled",
    "WorkflowFailed",
    "WorkflowPage",
    "WorkflowTimeout",
    "__version__",
]
