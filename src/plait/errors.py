"""The plait error hierarchy.

Every error a user can catch derives from :class:`PlaitError`. Errors carry the ids they concern
as attributes (``run_id``, ``workflow``, ``step``) so that callers never parse messages. The
exceptions that unwind a run are not here: they derive from ``BaseException`` (see
``plait.runtime.unwind``) so that user code cannot swallow them with ``except Exception``.
"""

from __future__ import annotations

from typing import Any


class PlaitError(Exception):
    """A plait operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(PlaitError):
    """The engine's configuration is invalid."""


class LimitExceeded(PlaitError):
    """A document, expression or request goes over one of plait's limits.

    Attributes:
        what: what was measured, e.g. ``the definition`` or ``run tree depth``.
        value: the measured value.
        limit: the limit in force.
        setting: the ``Settings`` field that changes it (environment ``PLAIT_<SETTING>``).
        path: JSON path of the offending part of a document, if any.
    """

    def __init__(
        self, what: str, value: Any, limit: Any, setting: str, path: str | None = None
    ) -> None:
        self.what = what
        self.value = value
        self.limit = limit
        self.setting = setting
        self.path = path
        super().__init__(
            f"{what} is {value}; the limit is {limit} "
            f"(setting {setting}, environment variable PLAIT_{setting.upper()})"
        )


class StoreError(PlaitError):
    """The database could not be used."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached right now; retry later."""


class UnknownWorkflow(PlaitError):
    """No workflow is registered under that name."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        self.workflow = name
        hint = f" (registered: {', '.join(sorted(known))})" if known else ""
        super().__init__(f"unknown workflow {name!r}{hint}")


class DuplicateWorkflow(PlaitError):
    """A workflow with that name is already registered."""

    def __init__(self, name: str) -> None:
        self.workflow = name
        super().__init__(f"a workflow named {name!r} is already registered on this engine")


class InvalidArguments(PlaitError):
    """The arguments do not fit the workflow's signature."""

    def __init__(self, workflow: str, reason: str) -> None:
        self.workflow = workflow
        super().__init__(f"workflow {workflow!r}: {reason}")


class SerializationError(PlaitError):
    """A value cannot be stored as JSON."""

    def __init__(self, what: str, type_name: str, detail: str) -> None:
        self.what = what
        self.type_name = type_name
        super().__init__(f"{what} cannot be stored as JSON: {type_name} ({detail})")


class InvalidText(PlaitError):
    """Text contains a character plait does not store: NUL (U+0000) or a lone surrogate.

    Attributes:
        path: JSON path of the offending string, e.g. ``$.data.note`` or ``$.query.workflow``.
        reason: what is wrong with it, e.g. ``contains a NUL character (U+0000) at index 3``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}; plait stores any Unicode text but NUL and lone "
                         "surrogates")  # fmt: skip


class InvalidQuery(PlaitError):
    """A query's parameters are invalid."""


class SchemaViolation(PlaitError):
    """A value does not match its JSON Schema."""


class NotFound(PlaitError):
    """The resource does not exist (or belongs to another organization: the same answer)."""


class WorkflowNotFound(NotFound):
    """No workflow has that id or name in the organization."""

    def __init__(self, ref: str) -> None:
        self.workflow = ref
        super().__init__(f"no workflow {ref!r}")


class WorkflowNameTaken(PlaitError):
    """Another workflow of the organization has that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a workflow named {name!r} already exists")


class IllegalTransition(PlaitError):
    """A lifecycle verb does not apply in the workflow's current state."""

    def __init__(self, workflow_id: str, verb: str, current: str, target: str) -> None:
        self.workflow_id = workflow_id
        self.verb = verb
        self.current = current
        self.target = target
        super().__init__(
            f"cannot {verb} workflow {workflow_id}: it is {current}, and {current} -> {target} "
            "is not a transition of the workflow lifecycle"
        )


class HookVetoed(PlaitError):
    """A before hook refused a lifecycle verb."""

    def __init__(self, verb: str, reason: str) -> None:
        self.verb = verb
        self.reason = reason
        super().__init__(f"{verb} refused by a before hook: {reason}")


class ReadOnlyWorkflow(PlaitError):
    """Code workflows are defined in Python: the registry shows them but cannot change them."""

    def __init__(self, name: str) -> None:
        self.workflow = name
        super().__init__(f"workflow {name!r} is defined in code and is read-only here")


class RunNotFound(NotFound):
    """No run has that id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}")


class RunConflict(PlaitError):
    """A run with that id already exists for another workflow."""

    def __init__(self, run_id: str, workflow: str) -> None:
        self.run_id = run_id
        self.workflow = workflow
        super().__init__(f"run id {run_id!r} is already used by workflow {workflow!r}")


class RunNotResumable(PlaitError):
    """Only a failed run can be resumed."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(
            f"cannot resume run {run_id}: it is {status}; only a failed run resumes from its "
            "failed step (retry starts a new run from scratch)"
        )


class RunCompensated(RunNotResumable):
    """The run's completed steps were undone by their compensations: resuming it, or forking it
    past an undone step, would carry on from work that no longer holds."""

    def __init__(self, run_id: str, undone: list[str], step: str | None = None) -> None:
        self.run_id = run_id
        self.status = "failed"
        self.undone = undone
        what = "resume" if step is None else f"fork from step {step!r}"
        PlaitError.__init__(  # RunNotResumable's message is about the status
            self,
            f"cannot {what} run {run_id}: it was rolled back (compensations undid "
            f"{', '.join(undone)}); retry it to run it again from scratch",
        )


class StepNotFound(NotFound):
    """The run has no step with that key or number."""

    def __init__(self, run_id: str, step: str, known: list[str]) -> None:
        self.run_id = run_id
        self.step = step
        listing = ", ".join(known[:20]) if known else "none yet"
        super().__init__(f"run {run_id} has no step {step!r} (its steps: {listing})")


class NonDeterminismError(PlaitError):
    """The workflow code no longer matches the steps recorded for the run."""

    def __init__(self, run_id: str, step: str, recorded: str | None, new: str | None) -> None:
        self.run_id = run_id
        self.step = step
        self.recorded = recorded
        self.new = new
        super().__init__(
            f"run {run_id}: step {step!r} does not replay: the history recorded "
            f"{recorded or 'nothing'} there, the code now calls {new or 'nothing'}; "
            "workflow code changed while the run was in flight"
        )


class StepTimeout(PlaitError):
    """A step attempt ran longer than its timeout."""

    def __init__(self, step: str, seconds: float) -> None:
        self.step = step
        self.seconds = seconds
        super().__init__(f"step {step!r} timed out after {seconds:g}s")


class RequiredStepSkipped(PlaitError):
    """A declarative step marked ``required: true`` was skipped, by its condition or because
    a step it depends on failed: the run fails (brief 003), naming the step."""

    def __init__(self, step: str, unmet: list[str] | None = None) -> None:
        self.step = step
        self.unmet = list(unmet or [])
        why = (f"a step it depends on failed ({', '.join(map(repr, self.unmet))})"
               if self.unmet else "its condition is false")  # fmt: skip
        super().__init__(f"required step {step!r} was skipped: {why}")


class StepFailed(PlaitError):
    """A step failed after its last attempt.

    Raised into workflow code in place of the step's own exception, both when the step fails and
    when a recorded failure is replayed, so that ``except StepFailed`` behaves the same on every
    replay. ``error_type``, ``message`` and ``traceback`` describe the original error.
    """

    def __init__(self, run_id: str, step: str, error: dict[str, Any]) -> None:
        self.run_id = run_id
        self.step = step
        self.error = error
        self.error_type: str = error.get("type", "Exception")
        self.message: str = error.get("message", "")
        self.traceback: str = error.get("traceback", "")
        super().__init__(f"step {step!r} failed: {self.error_type}: {self.message}")


class WorkflowFailed(PlaitError):
    """A run ended ``failed``; ``error`` holds the stored error (type, message, traceback)."""

    def __init__(self, run_id: str, error: dict[str, Any] | None) -> None:
        self.run_id = run_id
        self.error = error or {}
        self.error_type: str = self.error.get("type", "Exception")
        where = f" in step {self.error['step']!r}" if self.error.get("step") else ""
        super().__init__(
            f"run {run_id} failed{where}: {self.error_type}: {self.error.get('message', '')}"
        )


class WorkflowCancelled(PlaitError):
    """The run was cancelled."""

    def __init__(self, run_id: str, message: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message or f"run {run_id} was cancelled")


class WorkflowTimeout(PlaitError):
    """The run exceeded its timeout."""

    def __init__(self, run_id: str, seconds: float | None = None) -> None:
        self.run_id = run_id
        after = f" after {seconds:g}s" if seconds is not None else ""
        super().__init__(f"run {run_id} timed out{after}")


class ResultTimeout(PlaitError, TimeoutError):
    """Waiting for a run's result took longer than the caller allowed."""

    def __init__(self, run_id: str, seconds: float) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} did not finish within {seconds:g}s")


# -- human tasks --------------------------------------------------------------------------------


class TaskExpired(StepFailed):
    """A human task reached its due time while still open: its step failed.

    ``task_id`` and ``due_at`` (ISO 8601) name the task; raised where ``ctx.human_task`` is
    awaited (and caught as any ``StepFailed`` by a definition's error handling).
    """

    def __init__(self, run_id: str, step: str, error: dict[str, Any]) -> None:
        super().__init__(run_id, step, error)
        self.task_id: str | None = error.get("taskId")
        self.due_at: str | None = error.get("dueAt")


class TaskNotFound(NotFound):
    """No task has that id in the organization."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no task {task_id!r}")


class TaskNotOpen(PlaitError):
    """The task is no longer open: it was completed, expired or cancelled."""

    def __init__(self, task_id: str, status: str, detail: str = "") -> None:
        self.task_id = task_id
        self.status = status
        super().__init__(f"task {task_id} cannot be completed: it is {status}{detail}")


class InvalidDecision(PlaitError):
    """The answer does not fit the task: a decision it does not offer, or form data that does
    not match its schema."""

    def __init__(self, task_id: str, reason: str, path: str = "$.body.decision") -> None:
        self.task_id = task_id
        self.path = path
        self.reason = reason
        super().__init__(f"task {task_id}: {reason}")


class TaskForbidden(PlaitError):
    """The caller may not complete this task."""

    def __init__(self, task_id: str, reason: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id}: {reason}")


# -- child workflows and signals ----------------------------------------------------------------


class ChildWorkflowFailed(StepFailed):
    """A child run the workflow waited on failed or was cancelled: the waiting step failed.

    ``child_run_id`` names the child, ``child_status`` is how it ended and ``child_error`` is
    its stored error; a definition's error handling and compensation treat it as any step
    failure.
    """

    def __init__(self, run_id: str, step: str, error: dict[str, Any]) -> None:
        super().__init__(run_id, step, error)
        self.child_run_id: str | None = error.get("childRunId")
        self.child_status: str | None = error.get("childStatus")
        self.child_error: dict[str, Any] | None = error.get("cause")


class RunEnded(PlaitError):
    """The run has already ended, so it can receive nothing more."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} has already ended ({status}); it takes no signals")


class InstanceNotFound(NotFound):
    """No instance of the state machine has that key, and the event cannot create one."""

    def __init__(self, workflow: str, key: str, event: str) -> None:
        self.workflow = workflow
        self.key = key
        self.event = event
        super().__init__(
            f"no instance {key!r} of state machine {workflow!r}, and an event {event!r} cannot "
            "create one (only events with a transition from the initial state, or listed in "
            "'start', can)"
        )


class InstanceEnded(PlaitError):
    """The state-machine instance has ended: it takes no more events."""

    def __init__(self, workflow: str, key: str, run_id: str, status: str) -> None:
        self.workflow = workflow
        self.key = key
        self.run_id = run_id
        self.status = status
        super().__init__(
            f"instance {key!r} of state machine {workflow!r} has ended (run {run_id} {status}); "
            "it takes no more events"
        )


class NotAStateMachine(PlaitError):
    """The workflow is not a state machine, so it has no instances."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        super().__init__(f"workflow {workflow!r} is not a state machine: it has no instances")


class WorkflowNotActive(PlaitError):
    """The workflow is not Activated, so it takes no events."""

    def __init__(self, workflow: str, status: str) -> None:
        self.workflow = workflow
        self.status = status
        super().__init__(f"workflow {workflow!r} is {status}: it takes events only when Activated")


class SecretInvalid(PlaitError):
    """A secret's name or value cannot be stored.

    Attributes:
        field: the field at fault, ``name`` or ``value``.
        path: its JSON path in a request (``$.body.name``).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.path = f"$.body.{field}"
        self.reason = reason
        super().__init__(f"secret {field}: {reason}")


class SecretNotFound(NotFound):
    """The organization has no secret of that name."""

    def __init__(self, org: str, name: str) -> None:
        self.org = org
        self.name = name
        super().__init__(
            f"organization {org!r} has no secret {name!r} (set it with `plait secrets set "
            f"{name}` or POST /~{org}/secrets)"
        )


class CircuitOpen(PlaitError):
    """A step's circuit breaker is open: its dependency failed too often lately, so the step
    fails at once (never retried) instead of calling it (see docs/flow-control.md)."""

    retryable = False

    def __init__(self, circuit: str, half_open_at: float | None) -> None:
        self.circuit = circuit
        self.half_open_at = half_open_at
        when = "" if half_open_at is None else f" until {half_open_at:.3f} (epoch seconds)"
        super().__init__(f"circuit {circuit!r} is open{when}: the call was not made")


class CircuitNotFound(NotFound):
    """The organization has no circuit of that name (none of its steps has used it yet)."""

    def __init__(self, org: str, name: str) -> None:
        self.org = org
        self.name = name
        super().__init__(f"organization {org!r} has no circuit {name!r} (a circuit exists once "
                         "a step declaring it has run)")  # fmt: skip


class IdempotencyKeyInvalid(PlaitError):
    """An idempotency key must be 1 to 255 printable characters.

    Attributes:
        path: where the key was sent in a request (``$.headers["Idempotency-Key"]``).
        reason: what is wrong with it.
    """

    def __init__(self, reason: str) -> None:
        self.path = '$.headers["Idempotency-Key"]'
        self.reason = reason
        super().__init__(f"invalid idempotency key: {reason}")


class IdempotencyKeyReused(PlaitError):
    """The idempotency key was first used for another request.

    Attributes:
        key: the idempotency key.
        operation: what the request that first used it did, e.g. ``runs.cancel run_…``.
        path: where the key was sent in a request (``$.headers["Idempotency-Key"]``).
    """

    def __init__(self, key: str, operation: str, seconds: float) -> None:
        self.key = key
        self.operation = operation
        self.path = '$.headers["Idempotency-Key"]'
        super().__init__(
            f"idempotency key {key!r} was first used for another request ({operation}, or the "
            f"same with other arguments): for {seconds:g} s after its first use a key names "
            "that one request (setting idempotency_seconds, environment variable "
            "PLAIT_IDEMPOTENCY_SECONDS); send a new key for a new request"
        )


class IdempotencyKeyInProgress(PlaitError):
    """A request with the same idempotency key is still being handled; retry shortly.

    Attributes:
        key: the idempotency key.
        operation: what the request in progress does.
    """

    def __init__(self, key: str, operation: str) -> None:
        self.key = key
        self.operation = operation
        super().__init__(
            f"a request with idempotency key {key!r} ({operation}) is still being handled; "
            "retry shortly to get its result"
        )


class InvalidMetric(PlaitError):
    """A business metric cannot be recorded.

    Its name is not declared by the workflow, its value is not a number, or its labels are not
    within their limits.

    Attributes:
        workflow: the workflow recording it.
        metric: the metric's name.
        reason: what is wrong.
    """

    def __init__(self, workflow: str, metric: str, reason: str) -> None:
        self.workflow = workflow
        self.metric = metric
        self.reason = reason
        super().__init__(f"workflow {workflow!r}, metric {metric!r}: {reason}")


class InvalidParameter(InvalidQuery):
    """A request's parameter is not one plait accepts.

    Such as a ``window`` or an ``include``: 422 over REST, with its path; exit code 2 (usage)
    in the CLI.

    Attributes:
        path: JSON path of the parameter, e.g. ``$.query.window``.
        reason: what is wrong and what is accepted.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class TooManyStreams(PlaitError):
    """Too many live streams are open with one API key.

    Attributes:
        key_id: the API key.
        limit: how many it may hold open (the setting ``stream_max_per_key``).
    """

    setting = "stream_max_per_key"

    def __init__(self, key_id: str, limit: int) -> None:
        self.key_id = key_id
        self.limit = limit
        super().__init__(
            f"API key {key_id} already holds {limit} open streams, the limit (setting "
            f"stream_max_per_key = {limit}, environment variable PLAIT_STREAM_MAX_PER_KEY): "
            "close one, or resume later with its Last-Event-ID"
        )


class InvalidStreamRequest(InvalidQuery):
    """A live stream's request is invalid.

    Its cursor (``Last-Event-ID``) or its ``types``: 400 over REST, with its path; exit code 2
    (usage) in the CLI.

    Attributes:
        path: JSON path of the parameter, e.g. ``$.query.types``.
        reason: what is wrong and what is accepted.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class LeaseLost(BaseException):
    """Internal: this worker no longer holds the run's lease (another owner or a cancel took it).

    A ``BaseException`` so that user code cannot swallow it; the worker stops executing the run.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"lease on run {run_id} was lost")
