"""Migration 014 stores how each run ended (``runs.outcome``): runs that ended before it take
their outcome from their status; a live run has none until it ends. Both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.backends import BACKENDS, database_url
from tests.store.migrating import migrated

BEFORE = 13
RUN = (
    "INSERT INTO runs (id, workflow, status, input, created_at, updated_at)"
    " VALUES (%s, 'wf', %s, %s, 1.0, 1.0)"
)
READ = "SELECT id, outcome FROM runs ORDER BY id"
STATUSES = {"run_a": "succeeded", "run_b": "failed", "run_c": "cancelled", "run_d": "waiting"}


def _rows_before(run: Any) -> None:
    for run_id, status in STATUSES.items():
        run(RUN, (run_id, status, b"[]"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_runs_ended_before_014_take_their_outcome_from_their_status(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        rows = migrated(backend, url, tmp_path / "plait.db", BEFORE, _rows_before, READ)
    assert dict(rows) == {"run_a": "succeeded", "run_b": "failed", "run_c": "cancelled",
                          "run_d": None}  # fmt: skip
