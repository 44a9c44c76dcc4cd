"""The retention's reads are index ranges on each backend: the pruner's selection of ended runs
is a range of ``runs_ended``, the newest N a scan of it, and the events' retention a range of
``events_created`` (PostgreSQL: with sequential scans off, so that a small table's plan still
shows whether the index can serve the query)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from plait.store.base import Store
from plait.store.sql import load_dialect

VALUES: dict[str, Any] = {
    "org": "acme", "workflow": "billing", "outcome": "failed", "before": 1_800_000_000.0,
    "limit": 500, "keep": 10, "offset": 9, "first": "succeeded", "second": "partial",
}  # fmt: skip
INDEXED = {
    "retention_ended_before": "runs_ended",
    "retention_count_before": "runs_ended",
    "retention_nth_newest": "runs_ended",
    "retention_nth_newest_any": "runs_ended",
    "retention_nth_newest_of_two": "runs_ended",
    "retention_workflows": "runs_ended",
    "prune_events": "events_created",
}


def literal(sql: str) -> str:
    """``sql`` with its parameters written as literals (EXPLAIN of a named query)."""

    def value(match: re.Match[str]) -> str:
        found = VALUES[match.group(1)]
        return f"'{found}'" if isinstance(found, str) else repr(found)

    return re.sub(r"(?<!:):(\w+)", value, sql)


async def plan(store: Store, dialect: str, name: str) -> str:
    sql = literal(load_dialect(f"plait.store.{dialect}")[name])

    def explain(db: Any) -> str:
        if dialect == "sqlite":
            return "\n".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql))
        db.execute("SET enable_seqscan = off")
        try:
            return "\n".join(str(row[0]) for row in db.execute("EXPLAIN " + sql))
        finally:
            db.execute("SET enable_seqscan = on")

    shown: str = await store._read(explain)
    return shown


@pytest.mark.parametrize("name", sorted(INDEXED))
async def test_the_retention_reads_ranges_of_an_index(store: Store, name: str) -> None:
    dialect = "postgres" if type(store).__module__.startswith("plait.store.postgres") else "sqlite"
    shown = await plan(store, dialect, name)
    assert INDEXED[name] in shown, shown
    if dialect == "sqlite":
        assert "SCAN runs" not in shown and "SCAN events" not in shown, shown
