"""Live streams: one run's status transitions, step changes and progress, or an organization's
run transitions and events, as :class:`~plait.resources.streams.Change` messages read from the
change feed (:mod:`plait.service.feed`), each with the cursor to resume after it.

A run's stream reads the run's changes from its first and shows those after the cursor, so its
progress is counted exactly whatever the cursor; it ends with the run's terminal transition. An
organization's stream starts at the feed's head (or after the cursor) and never ends by itself.
Cursors are change numbers (``42``); a run's progress after change 42 is ``42.1``. Both streams
take ``after`` (``Last-Event-ID``) and show nothing at or before it, so a stream resumed from
the last message it showed repeats nothing and misses nothing the feed still keeps.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from plait.errors import InvalidStreamRequest, RunNotFound, TooManyStreams
from plait.service.feed import CAUGHT_UP, Closed, Feed, Subscription
from plait.service.keys import allows
from plait.store.records import TERMINAL

if TYPE_CHECKING:
    from plait.resources.keys import Role
    from plait.resources.streams import Change
    from plait.service.deps import Deps
    from plait.store.base import Store
    from plait.store.changes import ChangeRecord

_CURSOR = re.compile(r"(\d{1,18})(?:\.(1))?")
_TYPE = re.compile(r"[A-Za-z0-9_*][A-Za-z0-9_.*:-]*")
MAX_TYPES = 50
PRUNE_SECONDS = 60.0
"""How often a worker deletes the changes past their retention (every second while a pass
leaves more to delete)."""
PRUNE_BATCH = 5_000
"""Most changes one transaction of the retention deletes."""
PRUNE_PASSES = 20
"""Most transactions of one pass of the retention."""
_ENDS = frozenset({"step", "group", "branch", "child", "child-result", "task", "sleep", "wait",
                   "receive"})  # fmt: skip
_ENDED = frozenset({"completed", "failed", "skipped"})

Position = tuple[int, int]
"""A cursor: the change number, and 1 for the progress shown after that change."""
Check = Callable[[], Awaitable[str | None]]
"""Why an open stream must end now (its key was revoked, ...), or None."""
STREAM_ROLE: Role = "viewer"
"""The role a key needs to read streams (``GET .../stream``), checked again while open."""

log = logging.getLogger(__name__)


def parse_cursor(text: str | None, path: str) -> Position:
    """The position of cursor ``text`` (``42`` or ``42.1``; none: before everything)."""
    if text is None or text == "":
        return (0, 0)
    match = _CURSOR.fullmatch(text.strip())
    if match is None:
        raise InvalidStreamRequest(
            path, f"{text[:40]!r} is not a stream cursor: send the id of the last message "
            "received (a number such as 42, or 42.1)",
        )  # fmt: skip
    return (int(match[1]), 1 if match[2] else 0)


@dataclass(frozen=True, slots=True)
class Types:
    """Which changes an organization's stream shows: ``run`` (run transitions), ``event``
    (every event), or event types, ``*`` matching any text (``Deal.*``, ``*.created``)."""

    runs: bool = True
    events: bool = True
    patterns: tuple[str, ...] = ()

    def accepts(self, change: ChangeRecord) -> bool:
        if change.kind == "run":
            return self.runs
        if change.kind != "event":
            return False
        return self.events or any(fnmatchcase(change.detail or "", p) for p in self.patterns)


def parse_types(text: str | None, max_length: int = 200) -> Types:
    """The ``types`` of an organization's stream: a comma-separated list of ``run``, ``event``
    and event types or patterns; none (or empty): runs and every event."""
    words = [w.strip() for w in (text or "").split(",") if w.strip()]
    if not words:
        return Types()
    if len(words) > MAX_TYPES:
        raise InvalidStreamRequest("$.query.types", f"at most {MAX_TYPES} types, not {len(words)}")
    for word in words:
        if len(word) > max_length or _TYPE.fullmatch(word) is None:
            raise InvalidStreamRequest(
                "$.query.types", f"{word[:60]!r} is not run, event, an event type or a pattern "
                "of one (letters, digits, '.', '_', '-', ':' and '*' for any text)",
            )  # fmt: skip
    patterns = tuple(w for w in words if w not in ("run", "event"))
    return Types(runs="run" in words, events="event" in words, patterns=patterns)


class Stream:
    """An open stream: ``async for`` gives its messages, and ``None`` each time it was silent
    for ``stream_heartbeat_seconds``; :class:`~plait.service.feed.Closed` ends it when the
    server stops, or (``reason``) when ``check`` finds its key no longer valid: it runs on each
    heartbeat, and every ``every`` seconds while messages flow. The stream owns its
    subscription: ``aclose`` (also when it ends, idempotent, and before it was ever read) ends
    it and gives back its place under the key's cap."""

    def __init__(
        self, messages: AsyncIterator[Change | None], release: Callable[[], None],
        sub: Subscription, feed: Feed, check: Check | None = None, every: float = 15.0,
    ) -> None:  # fmt: skip
        self._messages = messages
        self._release: Callable[[], None] | None = release
        self._sub, self._feed = sub, feed
        self._check, self._every = check, every
        self._checked = time.monotonic()

    def __aiter__(self) -> AsyncIterator[Change | None]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Change | None]:
        try:
            async for message in self._messages:
                if self._check is not None and (message is None or self._due()):
                    reason = await self._check()
                    if reason is not None:
                        raise Closed(reason)
                yield message
        finally:
            await self.aclose()

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self._checked < self._every:
            return False
        self._checked = now
        return True

    async def aclose(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            self._feed.unsubscribe(self._sub)
            release()
            await self._messages.aclose()  # type: ignore[attr-defined]


class StreamService:
    """Opens live streams, at most ``stream_max_per_key`` at a time per API key."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._open: collections.Counter[str] = collections.Counter()
        self._next_prune = 0.0

    async def open_run(
        self, org: str, run_id: str, *, after: str | None = None, key_id: str | None = None,
        path: str = "$.header.Last-Event-ID",
    ) -> Stream | None:  # fmt: skip
        """The stream of run ``run_id``'s changes after cursor ``after``; None when the run has
        ended and nothing of it is after the cursor (``RunNotFound`` for another org's)."""
        position = parse_cursor(after, path)
        store = await self.deps.store()
        record = await store.get_run(run_id, with_steps=False)
        if record is None or record.org != org:
            raise RunNotFound(run_id)
        if record.status in TERMINAL and position[0] >= await store.run_last_change(run_id):
            return None
        planned = await _planned(self.deps, store, record)
        counter = _Progress(run_id, planned, await _pruned_ends(store, run_id, planned))
        release = self._take(key_id)
        try:
            sub = await self.deps.feed.subscribe(lambda c: c.run_id == run_id, run_id=run_id)
        except BaseException:
            release()
            raise
        messages = _run_messages(self.deps, store, sub, counter, position)
        return self._stream(messages, release, sub, key_id, org)

    async def open_organization(
        self, org: str, *, types: str | None = None, after: str | None = None,
        key_id: str | None = None, path: str = "$.header.Last-Event-ID",
    ) -> Stream:  # fmt: skip
        """The stream of ``org``'s run transitions and events (as ``types`` selects) after
        cursor ``after``, or from now on without one."""
        position = parse_cursor(after, path)
        chosen = parse_types(types, self.deps.settings.max_name_length)
        store = await self.deps.store()
        release = self._take(key_id)
        try:
            sub = await self.deps.feed.subscribe(
                lambda c: c.org == org and c.kind != "step" and chosen.accepts(c), org=org
            )
        except BaseException:
            release()
            raise
        start = position[0] if after else self.deps.feed.settled
        messages = _org_messages(self.deps, store, sub, org, chosen, start)
        return self._stream(messages, release, sub, key_id, org)

    async def run(
        self, org: str, run_id: str, *, after: str | None = None
    ) -> AsyncIterator[Change]:
        """Run ``run_id``'s changes after ``after`` until it ends (none if it has ended)."""
        stream = await self.open_run(org, run_id, after=after, path="after")
        if stream is None:
            return
        try:
            async for message in stream:
                if message is not None:
                    yield message
        finally:
            await stream.aclose()

    async def organization(
        self, org: str, *, types: str | None = None, after: str | None = None
    ) -> AsyncIterator[Change]:
        """``org``'s run transitions and events (see :func:`parse_types`), without end."""
        stream = await self.open_organization(org, types=types, after=after, path="after")
        try:
            async for message in stream:
                if message is not None:
                    yield message
        finally:
            await stream.aclose()

    async def maintain(self, now: float) -> int:
        """Delete the changes older than ``stream_retention_seconds``, at most once every
        :data:`PRUNE_SECONDS` (sooner while a backlog remains), in batches of
        :data:`PRUNE_BATCH`; how many. The worker calls this on each pass of its claim loop."""
        if now < self._next_prune:
            return 0
        self._next_prune = now + PRUNE_SECONDS  # a failed pass is not retried sooner
        store = await self.deps.store()
        before = await store.changes_kept_from(now - self.deps.settings.stream_retention_seconds)
        total = 0
        for _ in range(PRUNE_PASSES):
            deleted = await store.prune_changes(before, PRUNE_BATCH)
            total += deleted
            if deleted < PRUNE_BATCH:
                break
        more = total >= PRUNE_BATCH * PRUNE_PASSES
        self._next_prune = now + (1.0 if more else PRUNE_SECONDS)
        return total

    def open_count(self, key_id: str) -> int:
        """How many streams ``key_id`` holds open in this process."""
        return self._open[key_id]

    def close(self) -> None:
        """End every open stream (the server is stopping)."""
        self.deps.feed.close()

    def _stream(
        self, messages: AsyncIterator[Change | None], release: Callable[[], None],
        sub: Subscription, key_id: str | None, org: str,
    ) -> Stream:  # fmt: skip
        check = None if key_id is None else self._key_check(key_id, org)
        every = self.deps.settings.stream_heartbeat_seconds
        return Stream(messages, release, sub, self.deps.feed, check, every)

    def _key_check(self, key_id: str, org: str) -> Check:
        """Why a stream opened with key ``key_id`` of ``org`` must end now, or None."""

        async def check() -> str | None:
            try:
                record = await (await self.deps.store()).find_key_by_id(key_id)
            except Exception as exc:  # the database is away: the stream waits, as the feed
                log.warning("checking the API key of a stream failed (%s)", exc)
                return None
            if record is None or record.revoked_at is not None:
                return "The API key was revoked."
            if record.org != org or not allows(record.role, STREAM_ROLE):
                return "The API key may no longer read this stream."
            return None

        return check

    def _take(self, key_id: str | None) -> Callable[[], None]:
        if key_id is None:
            return lambda: None
        limit = self.deps.settings.stream_max_per_key
        if self._open[key_id] >= limit:
            raise TooManyStreams(key_id, limit)
        self._open[key_id] += 1

        def release() -> None:
            self._open[key_id] -= 1
            if self._open[key_id] <= 0:
                del self._open[key_id]

        return release


async def _run_messages(
    deps: Deps, store: Store, sub: Subscription, counter: _Progress, after: Position
) -> AsyncIterator[Change | None]:
    """A run's messages after ``after``: all its kept changes are read (to count its progress)
    and those at or before the cursor are not shown. Ends with its terminal transition."""
    status: str | None = None
    heartbeat = deps.settings.stream_heartbeat_seconds

    async def read(cursor: int, upto: int) -> list[ChangeRecord]:
        return await store.run_changes(counter.run_id, cursor, upto)

    async for item in sub.changes(0, read, heartbeat):
        if item is None:
            yield None
        elif item is CAUGHT_UP:
            if status in TERMINAL:
                return  # it ended at or before the cursor
        else:
            change: ChangeRecord = item  # type: ignore[assignment]
            for position, message in counter.messages(change):
                if position > after:
                    yield message
            if change.kind == "run":
                status = change.status
                if status in TERMINAL and change.seq > after[0]:
                    return


async def _org_messages(
    deps: Deps, store: Store, sub: Subscription, org: str, types: Types, after: int
) -> AsyncIterator[Change | None]:
    """An organization's messages after change ``after``, without end."""
    from plait.resources.streams import Change

    heartbeat = deps.settings.stream_heartbeat_seconds

    async def read(cursor: int, upto: int) -> list[ChangeRecord]:
        return await store.org_changes(org, cursor, upto)  # whole pages: filtered below

    async for item in sub.changes(after, read, heartbeat):
        if item is None:
            yield None
        elif item is not CAUGHT_UP:
            change: ChangeRecord = item  # type: ignore[assignment]
            if not types.accepts(change):
                continue
            if change.kind == "run":
                yield Change(id=str(change.seq), event="run", data=_run_change(change))
            else:
                yield Change(id=str(change.seq), event="event", data=_event(change))


class _Progress:
    """The messages of one run's changes, with its progress counted as they go by, from the
    planned steps ``ended`` whose changes the feed no longer keeps."""

    def __init__(
        self, run_id: str, planned: tuple[str, ...] | None, ended: set[str] | None = None
    ) -> None:
        self.run_id = run_id
        self.planned = planned
        self.ended: set[str] = set(ended or ())

    def messages(self, change: ChangeRecord) -> list[tuple[Position, Change]]:
        from plait.resources.streams import Change, StepChange

        if change.kind == "run":
            shown = [((change.seq, 0), Change(id=str(change.seq), event="run",
                                               data=_run_change(change)))]  # fmt: skip
            if change.status == "succeeded" and self.planned is not None:
                self.ended.update(self.planned)  # a condition records no end
                shown += self._progress(change.seq, None)
            return shown
        step = StepChange(run_id=self.run_id, key=change.subject or "", kind=change.detail or "",
                          status=change.status or "", attempts=change.attempts or 0,
                          at=_stamp(change.at))  # fmt: skip
        shown = [((change.seq, 0), Change(id=str(change.seq), event="step", data=step))]
        if change.detail == "progress":
            return shown + self._progress(change.seq, _report(change.value))
        key = (change.subject or "").removesuffix(".result")
        if (self.planned is not None and key in self.planned and key not in self.ended
                and change.status in _ENDED and change.detail in _ENDS
                and change.detail != "child"):  # fmt: skip
            self.ended.add(key)
            return shown + self._progress(change.seq, None)
        return shown

    def _progress(
        self, seq: int, report: tuple[int, int, str | None] | None
    ) -> list[tuple[Position, Change]]:
        from plait.resources.progress import Progress
        from plait.resources.streams import Change, ProgressChange

        if report is None:
            if self.planned is None:
                return []
            done, total = sum(1 for k in self.planned if k in self.ended), len(self.planned)
            current = next((k for k in self.planned if k not in self.ended), None)
            message = None
        else:
            (done, total, message), current = report, None
        fraction = None if not total else round(min(1.0, done / total), 6)
        progress = Progress(completed_steps=done, total_steps=total, fraction=fraction,
                            current_step=current, message=message)  # fmt: skip
        data = ProgressChange(run_id=self.run_id, progress=progress)
        return [((seq, 1), Change(id=f"{seq}.1", event="progress", data=data))]


def _report(value: Any) -> tuple[int, int, str | None]:
    """What a ``ctx.progress`` record reported: ``(done, total, message)``."""
    import orjson

    report = orjson.loads(value) if value else {}
    if not isinstance(report, dict):
        report = {}
    return int(report.get("done", 0)), int(report.get("total", 0)), report.get("message")


def _run_change(change: ChangeRecord) -> Any:
    from plait.resources.streams import RunChange

    return RunChange.model_validate({
        "runId": change.run_id, "workflow": change.subject, "status": change.status,
        "outcome": change.detail, "at": _stamp(change.at),
    })  # fmt: skip


def _event(change: ChangeRecord) -> Any:
    import orjson

    from plait.resources.events import Event

    data = orjson.loads(change.value) if change.value is not None else None
    return Event.model_validate({
        "$id": change.subject, "$type": "Event", "type": change.detail, "data": data,
        "source": change.source or "", "createdAt": _stamp(change.at),
    })  # fmt: skip


def _stamp(at: float | None) -> Any:
    from plait.resources.base import stamp

    return stamp(at)


async def _pruned_ends(store: Store, run_id: str, planned: tuple[str, ...] | None) -> set[str]:
    """The planned steps of run ``run_id`` that ended (as the run resource's progress counts
    them) but whose ending the feed no longer keeps (the retention deleted it): the progress
    a stream counts starts from them. The steps are read first: a step that ends meanwhile
    has its change kept, and is counted from the feed."""
    if planned is None:
        return set()
    record = await store.get_run(run_id, with_steps=True)
    if record is None:
        return set()
    stored = {s.key.removesuffix(".result") for s in record.steps if s.position >= 0
              and s.status in _ENDED and s.kind != "child"}  # fmt: skip
    kept = {key.removesuffix(".result") for key in await store.run_ended_steps(run_id)}
    return (stored - kept) & set(planned)


async def _planned(deps: Deps, store: Store, record: Any) -> tuple[str, ...] | None:
    from plait.service.progress import _planned as planned_steps

    return await planned_steps(deps, store, record)
