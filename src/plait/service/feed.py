"""This process's reader of the change feed (:mod:`plait.store.changes`), shared by all its live
streams: one query reads what every process wrote, and each stream takes what it follows.

- **Waking**: local commits wake the reader at once; on PostgreSQL one dedicated connection per
  process listens on ``plait_changes`` (the feed's triggers notify in the writing transaction);
  and the reader polls every ``stream_poll_seconds`` for what it was not told of (SQLite has no
  notifications: other processes' changes arrive by this poll).
- **Order**: :attr:`Feed.settled` only moves forward over changes that can no longer be
  preceded by one still in flight. On PostgreSQL numbers are drawn before commit, so a gap is
  held until every transaction that could fill it has ended (the snapshot horizon of
  :meth:`~plait.store.changes.ChangeVerbs.changes_after`), then skipped as never committed.
- **Fan-out**: a run's stream subscribes to its run's changes, an organization's to its
  organization's: each change is offered only to the subscriptions indexed by its run and its
  organization, not to every open stream.
- **Back-pressure**: each subscription buffers at most ``stream_queue`` changes; past that it
  drops its buffer and reads again from the feed where its stream left off, so a slow client
  costs a bounded amount of memory and misses nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from plait.store.changes import PAGE, ChangeRecord, Horizon

if TYPE_CHECKING:
    from plait.service.deps import Deps
    from plait.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "plait_changes"
GAP_RETRY = 0.02
"""Seconds before reading again while a gap waits for the transactions that may fill it."""
MIN_INTERVAL = 0.01
"""Shortest time between two reads (a burst of commits wakes the reader once)."""

CAUGHT_UP = object()
"""Yielded by :meth:`Subscription.changes` once it has read the feed up to the reader's head."""

Reader = Callable[[int, int], Awaitable[list[ChangeRecord]]]
"""Reads a stream's own changes after a cursor, up to a number (from the durable feed)."""


class Closed(Exception):
    """The stream ends before its last change: the feed closed (the server is stopping), or
    ``reason`` says why."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "the server is stopping")
        self.reason = reason


class Subscription:
    """What one stream follows: the changes ``match`` accepts, buffered up to ``capacity``;
    only the changes of run ``run_id`` (or else of organization ``org``) are offered to it."""

    def __init__(
        self, feed: Feed, match: Callable[[ChangeRecord], bool], capacity: int,
        run_id: str | None = None, org: str | None = None,
    ) -> None:  # fmt: skip
        self._feed = feed
        self.match = match
        self.run_id, self.org = run_id, (None if run_id is not None else org)
        self._capacity = capacity
        self._buffer: collections.deque[ChangeRecord] = collections.deque()
        self._signal = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def put(self, change: ChangeRecord) -> None:
        if len(self._buffer) >= self._capacity:
            self._buffer.clear()  # read again from the feed: bounded memory, nothing missed
            self.overflowed = True
            self._feed.overflows += 1
        else:
            self._buffer.append(change)
        self._signal.set()

    def end(self) -> None:
        """End the stream (the feed closed)."""
        self.closed = True
        self._signal.set()

    async def changes(
        self, after: int, read: Reader, heartbeat: float
    ) -> AsyncIterator[ChangeRecord | object | None]:
        """The changes after ``after``, in order, each once: first read from the feed up to the
        reader's head (then :data:`CAUGHT_UP`), then as the reader takes them; ``None`` when
        ``heartbeat`` seconds pass without one. Raises :class:`Closed` when the feed closes."""
        cursor, reread, first = after, True, True
        while True:
            if reread:
                self.overflowed = False
                upto = self._feed.settled  # later changes are buffered since subscribing
                async for change in self._read(cursor, upto, read):
                    cursor = max(cursor, change.seq)
                    yield change
                cursor = max(cursor, upto)
                reread = False
                if first:
                    first = False
                    yield CAUGHT_UP
            while self._buffer and not self.overflowed:
                change = self._buffer.popleft()
                if change.seq > cursor:
                    cursor = change.seq
                    yield change
            if self.overflowed:
                reread = True
                continue
            if not await self._wait(heartbeat):
                yield None

    async def _read(self, cursor: int, upto: int, read: Reader) -> AsyncIterator[ChangeRecord]:
        while cursor < upto:
            page = await read(cursor, upto)
            for change in page:
                yield change
            if len(page) < PAGE:
                return
            cursor = page[-1].seq

    async def _wait(self, timeout: float) -> bool:
        """Wait for a change (True) or ``timeout`` seconds (False)."""
        if self.closed:
            raise Closed
        self._signal.clear()
        if self._buffer or self.overflowed:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._signal.wait()
        if self.closed:
            raise Closed
        return self._signal.is_set()


class Feed:
    """The change feed as this process reads it (one per engine)."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._subscriptions: set[Subscription] = set()
        self._by_run: dict[str, set[Subscription]] = {}
        self._by_org: dict[str, set[Subscription]] = {}
        self._any: set[Subscription] = set()  # neither a run's nor an organization's
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._wakeup: asyncio.Event | None = None
        self._gap: tuple[int, int] | None = None  # (first missing number, horizon xmax)
        self.settled = 0
        """Every change numbered up to this is read (or was never committed)."""
        self.overflows = 0
        """How many times a stream's buffer overflowed (and the stream read the feed again)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def subscribers(self) -> int:
        """How many subscriptions follow the feed."""
        return len(self._subscriptions)

    @property
    def reading(self) -> bool:
        """Whether the reader runs (it stops soon after the last subscription goes)."""
        return self._task is not None and not self._task.done()

    async def subscribe(
        self, match: Callable[[ChangeRecord], bool], *, run_id: str | None = None,
        org: str | None = None,
    ) -> Subscription:  # fmt: skip
        """Follow the changes ``match`` accepts, of run ``run_id`` only, or else of ``org``
        only, from the reader's head on (start the reader, the first time)."""
        sub = Subscription(self, match, self._deps.settings.stream_queue, run_id, org)
        self._add(sub)
        if self._task is None:
            self._ready, self._failure = asyncio.Event(), None
            self._task = asyncio.create_task(self._run(), name="plait-feed")
        ready = self._ready
        assert ready is not None
        await ready.wait()
        if self._failure is not None:
            self.unsubscribe(sub)
            raise self._failure
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop following (again: nothing); the reader stops with the last subscription."""
        if sub not in self._subscriptions:
            return
        self._subscriptions.discard(sub)
        self._any.discard(sub)
        for index, key in ((self._by_run, sub.run_id), (self._by_org, sub.org)):
            if key is not None and key in index:
                index[key].discard(sub)
                if not index[key]:
                    del index[key]
        if not self._subscriptions and self._wakeup is not None:
            self._wakeup.set()

    def _add(self, sub: Subscription) -> None:
        self._subscriptions.add(sub)
        if sub.run_id is not None:
            self._by_run.setdefault(sub.run_id, set()).add(sub)
        elif sub.org is not None:
            self._by_org.setdefault(sub.org, set()).add(sub)
        else:
            self._any.add(sub)

    def _offered(self, change: ChangeRecord) -> Iterable[Subscription]:
        """The subscriptions that may want ``change``: its run's and its organization's (each
        subscription is in one of these sets, so none is offered it twice)."""
        by_run = self._by_run.get(change.run_id, ()) if change.run_id else ()
        by_org = self._by_org.get(change.org, ()) if change.org else ()
        return itertools.chain(self._any, by_run, by_org)

    def close(self) -> None:
        """End every stream (the server or the engine is stopping): each raises
        :class:`Closed`; the reader stops with the last of them."""
        for sub in self._subscriptions:
            sub.end()
        self._subscriptions.clear()
        self._by_run.clear()
        self._by_org.clear()
        self._any.clear()
        if self._wakeup is not None:
            self._wakeup.set()

    async def stop(self) -> None:
        """End every stream and wait for the reader to stop (before the store closes)."""
        self.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        """Read now: a local commit may have written changes (from any thread)."""
        wakeup, loop = self._wakeup, self._loop
        if wakeup is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed
                loop.call_soon_threadsafe(wakeup.set)

    # -- the reader -------------------------------------------------------------------------

    async def _run(self) -> None:
        ready = self._ready
        assert ready is not None
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        listener: asyncio.Task[None] | None = None
        try:
            store = await self._deps.store()
            self.settled = await _start_head(store)
            url = str(getattr(store, "url", ""))
            if url.startswith(("postgres://", "postgresql://")):
                listener = asyncio.create_task(self._listen(url), name="plait-feed-listen")
            unhook = _hook_commits(store, self.wake)
        except BaseException as exc:
            self._failure, self._task = exc, None
            ready.set()
            raise
        ready.set()
        try:
            await self._loop_reads(store)
        finally:
            if self._task is asyncio.current_task():
                self._task = None  # stopped: a new subscriber starts anew
            unhook()
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _loop_reads(self, store: Store) -> None:
        poll = self._deps.settings.stream_poll_seconds
        wakeup = self._wakeup
        assert wakeup is not None
        while True:
            if not self._subscriptions:
                self._task = None  # decided before any await: a new subscriber starts anew
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GAP_RETRY if self._gap else poll):
                    await wakeup.wait()
            wakeup.clear()
            if not self._subscriptions:
                continue  # the last stream ended meanwhile (or the feed closed): stop
            try:
                await self._read(store)
            except Exception as exc:  # the database is away: streams wait, the poll retries
                log.warning("reading the change feed failed (%s); retrying", exc)
            await asyncio.sleep(MIN_INTERVAL)

    async def _read(self, store: Store) -> None:
        while True:
            changes, horizon = await store.changes_after(self.settled)
            held = self._take(changes, horizon)
            if held or len(changes) < PAGE:
                return

    def _take(self, changes: list[ChangeRecord], horizon: Horizon | None) -> bool:
        """Hand ``changes`` to their subscriptions in order, up to a gap that a live
        transaction may still fill; whether one holds."""
        for change in changes:
            missing = self.settled + 1
            if change.seq != missing and horizon is not None:
                if self._gap is None or self._gap[0] != missing:
                    self._gap = (missing, horizon.xmax)
                if horizon.xmin < self._gap[1]:
                    break
            self._gap = None
            self.settled = change.seq
            for sub in self._offered(change):
                if sub.match(change):
                    sub.put(change)
        else:
            self._gap = None
        return self._gap is not None

    async def _listen(self, url: str) -> None:
        """Wake the reader on each ``plait_changes`` notification (one connection)."""
        import psycopg

        delay = 0.1
        wakeup = self._wakeup
        assert wakeup is not None
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=5, keepalives=1, keepalives_idle=30,
                    keepalives_interval=10, keepalives_count=3,
                )  # fmt: skip
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.1
                    wakeup.set()  # read what was written while not listening
                    async for _ in conn.notifies():
                        wakeup.set()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("the change feed listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


async def _start_head(store: Store) -> int:
    """The highest change number, once every transaction that might still commit a lower one
    has ended (PostgreSQL; at once on SQLite)."""
    head = await store.changes_head()
    first = await store.changes_horizon()
    if first is None:
        return head
    while True:
        now = await store.changes_horizon()
        if now is None or now.xmin >= first.xmax:
            return head
        await asyncio.sleep(GAP_RETRY)


def _hook_commits(store: Store, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` after each of ``store``'s commits (as well as what it calls already);
    return what undoes it."""
    previous = store.on_commit

    def on_commit(seconds: float, writes: int) -> None:
        if previous is not None:
            previous(seconds, writes)
        wake()

    store.on_commit = on_commit

    def unhook() -> None:
        if store.on_commit is on_commit:
            store.on_commit = previous

    return unhook
