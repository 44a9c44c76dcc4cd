"""The worker's housekeeping: the retention of the change feed, audit entries, cached step
outputs and ended runs, run off the claim loop.

Each turn of the claim loop (``Engine.start_worker``'s periodic) calls :meth:`Housekeeping.poke`,
which starts one background pass over the hooks unless one is still running; each hook decides
itself whether it is due (they keep their own intervals), so a pass that finds nothing due ends
at once. A pass never blocks claims nor schedule ticks, however long a backlog is: at most one
pass runs at a time, and the next starts on a later turn. A hook that raises is logged (whatever
the exception) and the pass goes on with the next hook; the hook is tried again when it is due.
The engine stops the housekeeping (cancels the pass and waits for it) before it stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Hook = Callable[[float], Awaitable[object]]


class Housekeeping:
    """One background pass at a time over ``hooks``: ``(what it keeps, maintain(now))``."""

    def __init__(self, hooks: Sequence[tuple[str, Hook]], now: Callable[[], float]) -> None:
        self._hooks = tuple(hooks)
        self._now = now
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a pass is running now."""
        return self._task is not None and not self._task.done()

    def poke(self) -> None:
        """Start a pass unless one is running (called on each turn of the claim loop)."""
        if self.running:
            return
        self._task = asyncio.create_task(self._pass(), name="plait-housekeeping")

    async def _pass(self) -> None:
        for kept, maintain in self._hooks:
            try:  # housekeeping never stops the worker; the next try is when the hook is due
                await maintain(self._now())
            except Exception:
                log.exception("the retention of %s failed; tried again later", kept)

    def cancel(self) -> None:
        """Cancel the running pass, without waiting (the worker died)."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Cancel the running pass and wait until it has ended."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller itself is being cancelled
