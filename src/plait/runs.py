"""What callers see of runs: ``RunInfo``, ``StepInfo`` and ``RunHandle``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plait import values
from plait.errors import ResultTimeout, RunNotFound, WorkflowCancelled, WorkflowFailed
from plait.store.records import TERMINAL, RunRecord, StepRecord

if TYPE_CHECKING:
    from plait.engine import Engine


def _time(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


@dataclass(frozen=True)
class StepInfo:
    """One recorded step of a run."""

    key: str
    name: str
    kind: str
    status: str
    attempts: int
    output: Any
    error: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    wake_at: datetime | None

    @classmethod
    def of(cls, s: StepRecord) -> StepInfo:
        return cls(
            s.key, s.name, s.kind, s.status, s.attempts, values.decode(s.output),
            values.decode(s.error), _time(s.started_at), _time(s.finished_at), _time(s.wake_at),
        )  # fmt: skip


@dataclass(frozen=True)
class RunInfo:
    """A run: its status, input, output or error, timestamps and steps."""

    id: str
    workflow: str
    status: str
    input: list[Any]
    output: Any
    error: dict[str, Any] | None
    trigger: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    wake_at: datetime | None
    executions: int
    steps: list[StepInfo] = field(default_factory=list)
    org: str = "default"
    workflow_id: str | None = None
    workflow_version: int | None = None
    event_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    """Operations done on the run (cancel, resume, fork, retry): who, when, why."""
    parent_run_id: str | None = None
    """The run that started this one as a child workflow."""
    children: list[str] = field(default_factory=list)
    """Ids of the child runs this run started, oldest first (``Engine.get_run`` only)."""
    state: dict[str, Any] = field(default_factory=dict)
    """What the run published with ``ctx.set_state`` (``Engine.get_run`` only)."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, r: RunRecord) -> RunInfo:
        created, updated = _time(r.created_at), _time(r.updated_at)
        assert created is not None and updated is not None
        return cls(
            r.id, r.workflow, r.status, values.decode(r.input), values.decode(r.output),
            values.decode(r.error), r.trigger, created, _time(r.started_at),
            _time(r.finished_at), updated, _time(r.wake_at), r.executions,
            [StepInfo.of(s) for s in r.steps if s.position >= 0], r.org, r.workflow_id,
            r.workflow_version,
            r.event_id, parent_run_id=r.parent_run_id,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601 strings)."""
        data: dict[str, Any] = _isoformat(asdict(self))
        return data


def _isoformat(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _isoformat(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_isoformat(v) for v in value]
    return value


class RunHandle:
    """A started run: wait for its result, inspect or cancel it."""

    def __init__(self, engine: Engine, run_id: str, workflow: str) -> None:
        self.engine = engine
        self.id = run_id
        self.workflow = workflow

    def __repr__(self) -> str:
        return f"<RunHandle {self.id} of {self.workflow!r}>"

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to end and return its output.

        Raises ``WorkflowFailed`` (with the stored error), ``WorkflowCancelled``, or
        ``ResultTimeout`` when ``timeout`` seconds pass first.
        """
        try:
            return await asyncio.wait_for(self._result(), timeout)
        except TimeoutError as exc:
            raise ResultTimeout(self.id, timeout or 0.0) from exc

    async def _result(self) -> Any:
        store = await self.engine.opened_store()
        worker = self.engine.worker
        poll = 0.005
        while True:
            local = worker.wait_local(self.id) if worker is not None and worker.running else None
            try:
                record = await store.get_run(self.id, with_steps=False)
                if record is None:
                    raise RunNotFound(self.id)
                if record.status in TERMINAL:
                    return _ended(self.id, record.status, record.output, record.error)
                if local is not None:
                    done, _ = await asyncio.wait({local}, timeout=max(poll, 1.0))
                    if done:
                        outcome = local.result()
                        return _ended(self.id, outcome.status, outcome.output, outcome.error)
                else:
                    await asyncio.sleep(poll)
                    poll = min(poll * 2, 0.25)
            finally:
                if local is not None and worker is not None:
                    worker.forget_waiter(self.id, local)

    async def info(self) -> RunInfo:
        """The run as stored now."""
        return await self.engine.get_run(self.id)

    async def cancel(self) -> RunInfo:
        """Cancel the run (see ``Engine.cancel``)."""
        return await self.engine.cancel(self.id)


def _ended(run_id: str, status: str, output: bytes | None, error: bytes | None) -> Any:
    if status == "succeeded":
        return values.decode(output)
    if status == "cancelled":
        info = values.decode(error) if error else None
        raise WorkflowCancelled(run_id, info.get("message") if isinstance(info, dict) else None)
    raise WorkflowFailed(run_id, values.decode(error))
