"""plait: durable workflows for Python.

>>> from plait import Engine, Context, RetryPolicy
"""

from plait.clock import Clock, SystemClock
from plait.engine import Engine
from plait.errors import (
    ChildWorkflowFailed,
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
from plait.resources.base import Page
from plait.resources.runs import Run, Step
from plait.retry import RetryPolicy
from plait.runtime.context import Context
from plait.runtime.human import Escalation
from plait.service.handles import RunHandle
from plait.settings import Settings
from plait.workflow import Workflow

__version__ = "0.1.0"

__all__ = [
    "ChildWorkflowFailed",
    "Clock",
    "Context",
    "Engine",
    "Escalation",
    "InvalidArguments",
    "NonDeterminismError",
    "Page",
    "PlaitError",
    "ResultTimeout",
    "RetryPolicy",
    "Run",
    "RunConflict",
    "RunHandle",
    "RunNotFound",
    "SerializationError",
    "Settings",
    "Step",
    "StepFailed",
    "StepTimeout",
    "SystemClock",
    "TaskExpired",
    "UnknownWorkflow",
    "Workflow",
    "WorkflowCancelled",
    "WorkflowFailed",
    "WorkflowTimeout",
    "__version__",
]
