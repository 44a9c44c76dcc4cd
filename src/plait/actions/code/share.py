"""The code pool's fair share: which waiting call gets the next free worker.

Calls wait in one queue per organization. A free worker goes to the organization with the
fewest calls running, the one that has waited longest for its turn among equals, and never to
one that already holds ``cap`` workers. So one organization's busy calls queue behind each
other, not in front of another organization's; with a cap below the pool's size, a call of an
organization with nothing running finds a worker at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from typing import Generic, TypeAlias, TypeVar

Unit = TypeVar("Unit")
Org: TypeAlias = str | None  # None: calls made without an organization share one queue


class FairShare(Generic[Unit]):
    """Hands out units (workers) to calls of organizations, fairly.

    Args:
        cap: Most units one organization holds at once, even when nobody else waits; ``None``
            for no cap.
    """

    def __init__(self, cap: int | None = None) -> None:
        if cap is not None and cap < 1:
            raise ValueError(f"the per-organization cap must be at least 1, not {cap}")
        self.cap = cap
        self._free: deque[Unit] = deque()
        # Insertion order is turn order: an organization served goes to the back.
        self._waiting: dict[Org, deque[asyncio.Future[Unit]]] = {}
        self._running: Counter[Org] = Counter()

    @property
    def running(self) -> dict[Org, int]:
        """Units held, by organization (only organizations holding one)."""
        return {org: count for org, count in self._running.items() if count}

    @property
    def waiting(self) -> dict[Org, int]:
        """Calls waiting for a unit, by organization (only organizations with one waiting)."""
        return {org: len(queue) for org, queue in self._waiting.items() if queue}

    def add(self, unit: Unit) -> None:
        """A unit becomes available (at start)."""
        self._free.append(unit)
        self._dispatch()

    async def acquire(self, org: Org) -> Unit:
        """Wait for this organization's turn and a free unit; give it back with ``release``."""
        future: asyncio.Future[Unit] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(org, deque()).append(future)
        self._dispatch()
        try:
            return await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release(org, future.result())  # handed over just as the caller gave up
            else:
                self._forget(org, future)
            raise

    def release(self, org: Org, unit: Unit) -> None:
        """Give back a unit that ``acquire`` returned for ``org``."""
        self._running[org] -= 1
        if self._running[org] <= 0:
            del self._running[org]
        self._free.append(unit)
        self._dispatch()

    def fail_waiting(self, error: Callable[[], BaseException]) -> None:
        """Fail every waiting call with a fresh ``error()`` (the pool is closing)."""
        waiting, self._waiting = self._waiting, {}
        for queue in waiting.values():
            for future in queue:
                if not future.done():
                    future.set_exception(error())

    def _dispatch(self) -> None:
        while self._free:
            eligible = [org for org in self._waiting if self._under_cap(org)]
            if not eligible:
                return
            # Fewest running first; among equals, the first in turn order (min keeps it).
            org = min(eligible, key=self._running.__getitem__)
            queue = self._waiting.pop(org)
            future = queue.popleft()
            if queue:
                self._waiting[org] = queue  # to the back of the turn order
            if future.done():  # cancelled while it waited
                continue
            self._running[org] += 1
            future.set_result(self._free.popleft())

    def _under_cap(self, org: Org) -> bool:
        return self.cap is None or self._running[org] < self.cap

    def _forget(self, org: Org, future: asyncio.Future[Unit]) -> None:
        queue = self._waiting.get(org)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[org]
