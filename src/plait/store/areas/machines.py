"""Store verbs of the machines area (mixed into both backends)."""

from __future__ import annotations

from plait.store.areas.base import Area


class MachinesArea(Area):
    """State-machine instances: routing events to the run of their correlation key; queries in ``queries_machines.sql``."""
