"""Named SQL is written once: the queries both dialects run are shared, and a dialect holds only
the queries whose text differs."""

from __future__ import annotations

from plait.store.sql import SHARED, load_dialect, load_queries_of

DIALECTS = ("plait.store.sqlite", "plait.store.postgres")
BACKEND_ONLY = {
    "notify_runnable",  # PostgreSQL's LISTEN/NOTIFY wake-up: SQLite has no twin
    "runs_due",  # SQLite chooses the runs a claim leases first; PostgreSQL's claim_runs does both
    # PostgreSQL's claim leases the keyed runs that got a slot by id; SQLite's claim_runs is by id
    "claim_ids",
    # percentiles PostgreSQL computes itself (percentile_cont); SQLite reads the values instead
    "metric_aggregates",
    "run_durations",
    "overview_p95",
    # cost totals: PostgreSQL adds to a NUMERIC atomically; SQLite (no exact decimal type)
    # reads the text total and writes the sum in its single writer's transaction
    "add_cost_total",
    "cost_total_of",
    "put_cost_total",
}


def sql_of(query: str) -> str:
    """A query without its comments and with its whitespace collapsed: what the database runs."""
    lines = [line for line in query.splitlines() if not line.strip().startswith("--")]
    return " ".join(" ".join(lines).split())


def test_no_named_query_is_written_identically_in_both_dialects() -> None:
    sqlite, postgres = (load_queries_of(f"{d}.queries") for d in DIALECTS)
    twins = sorted(
        n for n in sqlite.keys() & postgres.keys() if sql_of(sqlite[n]) == sql_of(postgres[n])
    )
    assert twins == [], f"move these to {SHARED}: they are the same in both dialects"


def test_no_dialect_query_repeats_the_shared_one_it_replaces() -> None:
    shared = load_queries_of(SHARED)
    for dialect in DIALECTS:
        own = load_queries_of(f"{dialect}.queries")
        same = sorted(n for n in own.keys() & shared.keys() if sql_of(own[n]) == sql_of(shared[n]))
        assert same == [], f"{dialect}: drop these, they repeat the shared query"


def test_a_dialect_query_replaces_the_shared_one_of_its_name() -> None:
    shared = load_queries_of(SHARED)
    for dialect in DIALECTS:
        own = load_queries_of(f"{dialect}.queries")
        merged = load_dialect(dialect)
        assert merged == {**shared, **own}
        assert all(merged[name] == sql for name, sql in own.items())


def test_both_dialects_define_the_same_queries() -> None:
    sqlite, postgres = (set(load_dialect(d)) for d in DIALECTS)
    assert sqlite ^ postgres == BACKEND_ONLY
