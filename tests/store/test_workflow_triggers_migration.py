"""Migration 013 stores each workflow's trigger event types with it (so reads never parse a
definition): workflows saved before it get theirs from workflow_triggers. Both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends import BACKENDS, database_url
from tests.store.migrating import migrated

BEFORE = 12
WORKFLOW = (
    "INSERT INTO workflows (org, id, name, kind, status, version, document, created_at,"
    " updated_at) VALUES ('acme', %s, %s, 'definition', 'Draft', 1, '{}', 1.0, 1.0)"
)
TRIGGER = "INSERT INTO workflow_triggers (org, event_type, workflow_id) VALUES ('acme', %s, %s)"
READ = "SELECT id, triggers FROM workflows ORDER BY id"


def _rows_before(run: Any) -> None:
    run(WORKFLOW, ("workflow_a", "a"))
    run(WORKFLOW, ("workflow_b", "b"))
    run(TRIGGER, ("Deal.won", "workflow_a"))
    run(TRIGGER, ("Deal.lost", "workflow_a"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_workflows_saved_before_013_get_their_triggers(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        rows = migrated(backend, url, tmp_path / "plait.db", BEFORE, _rows_before, READ)
    triggers = {workflow: json.loads(text) for workflow, text in rows}
    assert triggers == {"workflow_a": ["Deal.lost", "Deal.won"], "workflow_b": []}
