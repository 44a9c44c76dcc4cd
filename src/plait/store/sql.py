"""Named SQL: ``.sql`` files of ``-- name: NAME`` blocks, one file per feature module of the
store; those both dialects run in ``plait.store.queries``, those whose text differs in each
dialect's ``queries`` package."""

from __future__ import annotations

import re
from importlib import resources

from plait.errors import ConfigurationError

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Parse ``filename`` in ``package`` into ``{name: sql}`` (comments before a name dropped)."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{package}/{filename}: query {name!r} is defined twice")
        queries[name] = body.strip()
    return queries


def load_migrations(package: str) -> list[tuple[int, str, str]]:
    """``(number, name, sql)`` for each ``NNN_name.sql`` in ``package``, in order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{package}: migrations must be numbered 1..n without gaps, got {numbers}")
    return found


def check_known(stored: int, newest: int) -> None:
    """Refuse a database whose schema is newer than the migrations this plait has: a newer
    plait migrated it, and this one would fail later on columns it does not know."""
    if stored > newest:
        raise ConfigurationError(
            f"the database schema is at version {stored}, newer than the newest this plait "
            f"knows ({newest}): upgrade plait to run against this database"
        )


SHARED = "plait.store.queries"
"""The package of the named queries both dialects run."""


def load_queries_of(package: str) -> dict[str, str]:
    """Every named query of the ``.sql`` files of ``package``, merged (a name defined twice
    raises ``ValueError``)."""
    merged: dict[str, str] = {}
    for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, sql in load_queries(package, entry.name).items():
                if name in merged:
                    raise ValueError(f"{package}: query {name!r} is defined twice")
                merged[name] = sql
    return merged


def load_dialect(package: str) -> dict[str, str]:
    """Every named query of the dialect of ``package`` (``plait.store.sqlite``): the shared
    queries, each replaced by the dialect's query of the same name in ``<package>.queries``."""
    return {**load_queries_of(SHARED), **load_queries_of(f"{package}.queries")}
