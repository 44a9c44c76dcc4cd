"""Store verbs of the tasks area (mixed into both backends)."""

from __future__ import annotations

from plait.store.areas.base import Area


class TasksArea(Area):
    """Human tasks: create, escalate, expire, complete, list; queries in ``queries_tasks.sql``."""
