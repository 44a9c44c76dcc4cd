"""The flow-limits app, its worker registered as if it ran on another machine: when it is
SIGKILLed, the others cannot see its process die, so only its lease running out frees its runs
(and the bulkhead permits they hold)."""

from __future__ import annotations

from apps.limited import engine

from plait.worker import liveness

liveness.HOST = "another-machine.plait.test"

__all__ = ["engine"]
