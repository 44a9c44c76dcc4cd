"""Retention as every interface shows it: a policy (how long, and how many, ended runs are
kept), an organization's policies with the default they fall back on, and what a purge or a
pruner's pass deleted."""

from __future__ import annotations

from pydantic import Field

from plait.resources.base import Resource, Stamp

STATUSES = ("succeeded", "partial", "failed", "cancelled")
"""The keys of a policy's ``statuses``: how a run ended (``partial``: succeeded past steps that
failed; ``succeeded`` covers it too unless ``partial`` has its own entry)."""


class Limits(Resource):
    """How long, and how many, ended runs of one status are kept (``None``: as the level above
    says)."""

    max_age_days: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="Delete runs that ended longer ago than this; 0 keeps them.",
    )  # fmt: skip
    max_runs: int | None = Field(
        None, ge=0, description="Keep only the newest this many ended runs; 0: no such limit."
    )


class Policy(Limits):
    """A retention policy of an organization or of one of its workflows: its limits, and
    limits of its own for the runs of some statuses. What it leaves ``None`` falls back on the
    organization's policy (for a workflow's), then on the engine's default."""

    statuses: dict[str, Limits] = Field(
        default_factory=dict,
        description="Limits of the runs that ended with one status: succeeded, partial, failed "
        "or cancelled. ``maxRuns`` here counts that status's runs only.",
    )


class WorkflowPolicy(Resource):
    """The policy of one workflow (by name)."""

    workflow: str
    policy: Policy
    updated_at: Stamp


class Retention(Resource):
    """An organization's retention: the engine's default, its own policy, its workflows'."""

    organization: str
    default: Policy = Field(
        description="The engine's settings: run_retention_days (PLAIT_RUN_RETENTION_DAYS)."
    )
    policy: Policy | None = Field(None, description="The organization's own policy, if set.")
    updated_at: Stamp | None = None
    workflows: list[WorkflowPolicy] = Field(default_factory=list)
    event_retention_days: float = Field(description="Setting event_retention_days; 0: forever.")
    task_retention_days: float = Field(description="Setting task_retention_days; 0: forever.")
    audit_retention_days: float = Field(description="Setting audit_retention_days; 0: forever.")
    archive: str | None = Field(None, description="Setting archive: where deleted runs go.")


class Purge(Resource):
    """What a purge deleted (or, on a dry run, would delete)."""

    organization: str
    before: Stamp = Field(description="Runs that ended before this went.")
    workflow: str | None = None
    statuses: list[str] = Field(default_factory=list, description="Empty: every status.")
    dry_run: bool = False
    runs: int = Field(description="How many runs were deleted (would be, on a dry run).")
    archives: list[str] = Field(
        default_factory=list, description="The archive files written (gzip JSON lines)."
    )
    more: bool = Field(
        False, description="It stopped at its bound with runs left to delete: purge again."
    )


class Pruned(Resource):
    """What one pass of the worker's pruner deleted (``ran`` False: another held the lease)."""

    ran: bool
    runs: int = 0
    events: int = 0
    tasks: int = 0
    archives: list[str] = Field(default_factory=list)
    more: bool = Field(False, description="It stopped with runs left: the next pass is soon.")
