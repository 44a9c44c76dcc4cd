"""What a bulk operation on runs did: for each run, done, skipped (and why) or not found."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plait.resources.base import Resource

BulkAction = Literal["cancel", "retry", "resume"]


class BulkRunResult(Resource):
    """What the operation did to one run. ``result``: ``done``, ``skipped`` (``reason`` says
    why: a succeeded run cannot be cancelled) or ``not-found``."""

    run_id: str
    result: Literal["done", "skipped", "not-found"]
    reason: str | None = None
    status: str | None = Field(None, description="The run's status after the operation.")
    new_run_id: str | None = Field(None, description="A retry's new run.")


class BulkResult(Resource):
    """A bulk cancel, retry or resume: each run's result, in the order taken (the ids given,
    or the runs matching the filter, newest first), and the counts."""

    type: Literal["BulkResult"] = Field("BulkResult", alias="$type")
    action: BulkAction
    results: list[BulkRunResult]
    done: int
    skipped: int
    not_found: int

    @classmethod
    def of(cls, action: BulkAction, results: list[BulkRunResult]) -> BulkResult:
        def count(result: str) -> int:
            return sum(1 for r in results if r.result == result)

        return cls(action=action, results=results, done=count("done"),
                   skipped=count("skipped"), not_found=count("not-found"))  # fmt: skip

    def summary(self) -> str:
        """One line a person reads: ``3 runs cancelled, 1 skipped (already succeeded)``."""
        verb = {"cancel": "cancelled", "retry": "retried", "resume": "resumed"}[self.action]
        parts = [f"{self.done} {'run' if self.done == 1 else 'runs'} {verb}"]
        if self.skipped:
            reasons = sorted({r.reason or "" for r in self.results if r.result == "skipped"})
            parts.append(f"{self.skipped} skipped ({'; '.join(reasons)})")
        if self.not_found:
            parts.append(f"{self.not_found} not found")
        return ", ".join(parts)
