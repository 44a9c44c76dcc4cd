"""Migration 013 stores each workflow's trigger event types with it (so reads never parse a
definition): workflows saved before it get theirs from workflow_triggers. Both backends."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plait.store.postgres.store import MIGRATIONS as POSTGRES_MIGRATIONS
from plait.store.sqlite.store import MIGRATIONS as SQLITE_MIGRATIONS
from plait.store.sqlite.store import _statements
from tests.backends import BACKENDS, database_url

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
        rows = _sqlite(tmp_path / "plait.db") if backend == "sqlite" else _postgres(url)
    triggers = {workflow: json.loads(text) for workflow, text in rows}
    assert triggers == {"workflow_a": ["Deal.lost", "Deal.won"], "workflow_b": []}


def _sqlite(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for _, _, script in SQLITE_MIGRATIONS[:BEFORE]:
            for statement in _statements(script):
                db.execute(statement)
        _rows_before(lambda sql, args: db.execute(sql.replace("%s", "?"), args))
        for _, _, script in SQLITE_MIGRATIONS[BEFORE:]:
            for statement in _statements(script):
                db.execute(statement)
        return [(str(a), str(b)) for a, b in db.execute(READ).fetchall()]
    finally:
        db.close()


def _postgres(url: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for _, _, script in POSTGRES_MIGRATIONS[:BEFORE]:
            db.execute(script.encode())
        _rows_before(db.execute)
        for _, _, script in POSTGRES_MIGRATIONS[BEFORE:]:
            db.execute(script.encode())
        return [(str(a), str(b)) for a, b in db.execute(READ).fetchall()]
