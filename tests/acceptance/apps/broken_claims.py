"""The engine of ``apps.flows`` in a worker whose store cannot claim: the claim verb raises an
error that is no database fault (a bug), so the claim loop dies and the worker must stop, log the
error with its traceback, and exit non-zero for a process manager to restart it.

Import it only in a worker process: importing it breaks ``SQLiteStore`` for the whole process.
"""

from __future__ import annotations

from typing import Any

from plait.store.sqlite.store import SQLiteStore

from .flows import engine

__all__ = ["engine"]


async def _broken_claim(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected: claim_runs is broken")


SQLiteStore.claim_runs = _broken_claim  # type: ignore[method-assign,assignment]
