"""A run's steps a window at a time, for runs with too many steps to read whole (a page of
the console, ``GET /~{org}/runs/{id}/steps``): an outline of every step without its values,
a window of steps with theirs, one step, and the attempts of its steps that were retried."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from plait.store.backend import Backend
from plait.store.records import TRIGGER_EVENT_KEY, StepRecord
from plait.store.session import Session


@dataclass(frozen=True, slots=True)
class StepWindow:
    """Up to ``limit`` steps from a position on, and where the windows around it start."""

    steps: list[StepRecord]
    total: int
    """Steps the run recorded (position 0 and after)."""
    previous: int | None
    """The start of the window before this one; None for the first."""
    next: int | None
    """The start of the window after this one; None for the last."""
    last: int
    """The start of the last window (0 when the run has fewer steps than a window)."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a step that was retried (migration 022): ``status`` ``retrying`` (it
    failed and the next was due at ``next_at``), else the step's last status and end.
    ``started_at`` is a later attempt's due time."""

    step: str
    attempt: int
    status: str
    started_at: float | None
    ended_at: float | None
    next_at: float | None


class StepVerbs(Backend):
    """Reading a run's steps without reading all of them."""

    async def run_outline(self, run_id: str) -> list[StepRecord]:
        """Every step of the run in call order, by key, position, kind and status only (no
        name, attempts or times), without outputs and errors but those of the records a run
        document reads (progress, machine states, contexts, skips, the trigger event); one
        read."""
        rows = await self._all("run_step_outline", {"run_id": run_id,
                                                    "event_key": TRIGGER_EVENT_KEY})  # fmt: skip
        return [StepRecord(key, position, key, kind, status, 0, output)
                for key, position, kind, status, output in rows]  # fmt: skip

    async def step_window(self, run_id: str, start: int, limit: int) -> StepWindow:
        """Up to ``limit`` steps at position ``start`` and after, with their values, and the
        starts of the windows before and after it and of the last one; one consistent read."""

        def op(db: Session) -> StepWindow:
            params = {"run_id": run_id, "start": max(0, start), "limit": limit + 1}
            found = [StepRecord(*row) for row in db.run("step_window", params)]
            shown = found[:limit]
            after = found[limit].position if len(found) > limit else None
            row = db.run("step_window_start_before", {**params, "limit": limit}).fetchone()
            before = None if row is None or row[0] is None else int(row[0])
            count, last = db.run("step_count", {"run_id": run_id, "limit": limit}).fetchone()
            return StepWindow(shown, int(count), before, after, int(last or 0))

        window: StepWindow = await self._read(op)
        return window

    async def step_of_run(self, run_id: str, key: str) -> StepRecord | None:
        """The step ``key`` of the run with its values, or None."""
        row = await self._one("step_of_run", {"run_id": run_id, "key": key})
        return None if row is None else StepRecord(*row)

    async def step_attempts(
        self, run_id: str, keys: Collection[str]
    ) -> dict[str, list[AttemptRecord]]:
        """The attempts of the steps ``keys`` that were retried, by step, in order (a step
        that succeeded at once has none)."""
        wanted = set(keys)
        found: dict[str, list[AttemptRecord]] = {}
        for row in await self._all("step_attempts_of_run", {"run_id": run_id}):
            if row[0] in wanted:
                found.setdefault(row[0], []).append(AttemptRecord(*row))
        return found
