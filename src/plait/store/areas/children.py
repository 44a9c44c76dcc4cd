"""Store verbs of the children area (mixed into both backends)."""

from __future__ import annotations

from plait.store.areas.base import Area


class ChildrenArea(Area):
    """Child runs, signals to one run, and the state a run publishes; queries in ``queries_children.sql``."""
