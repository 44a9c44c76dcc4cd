"""Store verbs of the operations area (mixed into both backends)."""

from __future__ import annotations

from plait.store.areas.base import Area


class OperationsArea(Area):
    """Operations on runs: cancel with a reason, resume, fork, retry, and their history; queries in ``queries_operations.sql``."""
