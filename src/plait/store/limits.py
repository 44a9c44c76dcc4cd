"""Flow limits shared by every worker: rate limits (GCRA), bulkheads (a leased semaphore) and
circuit breakers, each per organization. Each verb is one atomic step of the state it keeps,
exact across processes on both backends (SQLite's single writer; on PostgreSQL the row lock of
an upsert, an advisory lock per bulkhead, ``FOR UPDATE`` of a circuit's row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from plait.store.backend import Backend
from plait.store.records import NewRun, RunFlow, StepRecord
from plait.store.runs import fenced, step_params
from plait.store.session import Session

NANOS = 1_000_000_000
CLOCK_SLACK = 1_000
"""How early (in nanoseconds) a call is let through (``:due``): times arrive as float seconds
since the epoch, whose resolution there is about 240 ns, so a caller woken at its turn's float
can read a few hundred nanoseconds before the turn, and would wait for it again (for ever on a
virtual clock)."""
"""A rate limit's times are kept in integer nanoseconds: exact, however many reservations."""


@dataclass(frozen=True, slots=True)
class CircuitRecord:
    """A circuit breaker's stored state (see the ``circuits`` table)."""

    org: str
    name: str
    state: str
    failures: int
    window_start: float | None
    opened_at: float | None
    half_open_at: float | None
    probe: str | None
    probe_expires: float | None
    opens: int
    last_error: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """What a failure is judged by: ``failures`` within ``window`` seconds open the circuit
    for ``reset`` seconds."""

    failures: int
    window: float
    reset: float


@dataclass(frozen=True, slots=True)
class Permit:
    """A bulkhead permit: held by ``step`` of ``run_id`` under ``fence``."""

    run_id: str
    step: str
    fence: int
    acquired_at: float


class LimitVerbs(Backend):
    """Rate limits, bulkheads and circuits of each organization."""

    async def reserve_rate(
        self, org: str, scope: str, name: str, *, now: float, interval: float, tolerance: float
    ) -> tuple[float, bool]:
        """Reserve the next turn of the rate limit ``name`` (in ``scope``): the time it comes
        (``now`` or later), and whether the call was also let through now (see
        :meth:`admit_rate`; only when its turn is now; in the same statement). GCRA in
        integer nanoseconds: the
        stored theoretical arrival time moves one ``interval`` past ``max(tat, now)``; the turn
        comes ``tolerance`` (the burst) before the old one. Every reservation is granted: a
        late one is queued. One statement: concurrent reservations of one limit serialise on
        its row (SQLite's single writer; PostgreSQL's row lock of the upsert)."""
        params = _rate(org, scope, name, now, interval, tolerance)

        def op(db: Session) -> tuple[float, bool]:
            tat, granted = db.run("reserve_rate", params).fetchone()
            turn = max(params["now"], int(tat) - params["interval"] - params["tolerance"])
            return turn / NANOS, bool(granted)

        found: tuple[float, bool] = await self._submit(op)
        return found

    async def reserve_rate_waiting(
        self,
        org: str,
        name: str,
        *,
        now: float,
        interval: float,
        tolerance: float,
        lead: float,
        run_id: str,
        fence: int,
        waiting: StepRecord,
    ) -> tuple[float, bool, bool]:
        """:meth:`reserve_rate` of an action's limit for a step of ``run_id`` (held under
        ``fence``, else ``LeaseLost`` and nothing reserved), and when its turn is more than
        ``lead`` seconds away, ``waiting`` (the step's record) recorded with the turn as its
        wake time in the same transaction: a crash never leaves a turn reserved that no
        record holds. ``(turn, let through now, recorded)``."""
        params = _rate(org, "action", name, now, interval, tolerance)

        def op(db: Session) -> tuple[float, bool, bool]:
            tat, granted = db.run("reserve_rate", params).fetchone()
            turn = max(params["now"], int(tat) - params["interval"] - params["tolerance"])
            at = turn / NANOS
            if granted or at - now <= lead:
                return at, bool(granted), False
            record = step_params(run_id, replace(waiting, wake_at=at))
            fenced(db, "upsert_step", {**record, "fence": fence})
            return at, False, True

        found: tuple[float, bool, bool] = await self._submit(op)
        return found

    async def admit_rate(
        self, org: str, scope: str, name: str, *, now: float, interval: float, tolerance: float
    ) -> float | None:
        """Let a call of the rate limit ``name`` through now if the calls let through so far
        leave room (GCRA on them, apart from the queue of turns: a call that woke late never
        bunches up with the next); None if it did, else when to try again. No row (pruned, or
        the limit was renamed since the turn was recorded): a turn is reserved now instead."""
        params = _rate(org, scope, name, now, interval, tolerance)

        def op(db: Session) -> float | None:
            if _admitted(db, params):
                return None
            row = db.run("rate_admitted", params).fetchone()
            if row is None:
                tat, granted = db.run("reserve_rate", params).fetchone()
                if granted:
                    return None
                turn: int = max(params["now"], int(tat) - params["interval"] - params["tolerance"])
                return turn / NANOS
            retry: float = max(params["now"], int(row[0]) - params["tolerance"]) / NANOS
            return retry

        found: float | None = await self._submit(op)
        return found

    async def prune_rate_limits(self, now: float, batch: int) -> int:
        """Delete up to ``batch`` rows of rate limits (every organization) that hold nothing
        ahead of ``now``: no turn reserved, no call let through (the same as no row); how many."""
        params = {"now": round(now * NANOS), "batch": batch}
        done: int = await self._submit(lambda db: db.run("prune_rate_limits", params).rowcount)
        return done

    async def acquire_permit(
        self, org: str, name: str, limit: int, run_id: str, step: str, fence: int, now: float
    ) -> bool:
        """Take a permit of the bulkhead ``name`` for ``step`` of ``run_id`` (running under
        ``fence``) if fewer than ``limit`` live ones are held; whether it did. Permits whose
        run no longer runs under their fence with a live lease are freed first. Acquisitions
        of one bulkhead take turns, so the count is exact across processes."""
        params = {"org": org, "name": name, "run_id": run_id, "step": step, "fence": fence,
                  "now": now}  # fmt: skip

        def op(db: Session) -> bool:
            db.run("lock_bulkhead", params).fetchall()
            db.run("free_dead_permits", params)
            if int(db.run("count_permits", params).fetchone()[0]) >= limit:
                return False
            db.run("take_permit", params)
            return True

        taken: bool = await self._submit(op)
        return taken

    async def release_permit(self, org: str, name: str, run_id: str, step: str, fence: int) -> None:
        """Give back the permit ``step`` of ``run_id`` holds under ``fence`` (none: nothing; a
        permit the run took again under a later fence is not this caller's to give back)."""
        params = {"org": org, "name": name, "run_id": run_id, "step": step, "fence": fence}
        await self._submit(lambda db: db.run("release_permit", params))

    async def bulkhead_permits(self, org: str, name: str) -> list[Permit]:
        """The permits of the bulkhead ``name`` as stored (dead ones included until the next
        acquisition frees them)."""
        rows = await self._all("bulkhead_holders", {"org": org, "name": name})
        return [Permit(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    async def get_circuit(self, org: str, name: str) -> CircuitRecord | None:
        """The circuit ``name`` of ``org``; None before any step used it."""
        row = await self._one("get_circuit", {"org": org, "name": name})
        return None if row is None else _circuit(row)

    async def list_circuits(self, org: str) -> list[CircuitRecord]:
        """Every circuit of ``org``, by name."""
        return [_circuit(row) for row in await self._all("list_circuits", {"org": org})]

    async def take_probe(self, org: str, name: str, probe: str, now: float, lease: float) -> bool:
        """Let ``probe`` through the circuit if it is open past its ``half_open_at``, or
        half-open with no live probe or with ``probe`` its probe already (its run re-claimed
        after its worker died): it becomes half-open, ``probe`` its probe until
        ``now + lease``; whether it did. Of concurrent callers exactly one does."""
        params = {"org": org, "name": name, "probe": probe, "now": now,
                  "probe_expires": now + lease}  # fmt: skip
        done: int = await self._submit(lambda db: db.run("take_probe", params).rowcount)
        return done == 1

    async def probe_succeeded(self, org: str, name: str, probe: str, now: float) -> bool:
        """Close the circuit if ``probe`` is its probe; whether it did."""
        params = {"org": org, "name": name, "probe": probe, "now": now}
        done: int = await self._submit(lambda db: db.run("close_circuit", params).rowcount)
        return done == 1

    async def drop_probe(self, org: str, name: str, probe: str, now: float) -> None:
        """``probe`` gives up its turn without calling (another caller may probe at once)."""
        params = {"org": org, "name": name, "probe": probe, "now": now}
        await self._submit(lambda db: db.run("drop_probe", params))

    async def circuit_failed(
        self, org: str, name: str, probe: str, policy: CircuitPolicy, now: float, error: str
    ) -> bool:
        """Count a failed call of ``probe`` through the circuit, in one transaction (its row
        locked); whether the circuit opened because of it. Closed: the failure counts within
        the window (a failure past the window starts a new one), and the ``policy.failures``-th
        opens it for ``policy.reset`` seconds. Half-open: any failure opens it again (its
        probe's, or that of a probe whose lease ran out while it was called).
        Open (a call let through before it opened): nothing changes."""
        params = {"org": org, "name": name, "now": now}

        def op(db: Session) -> bool:
            db.run("ensure_circuit", params)
            row = _circuit(db.run("lock_circuit", params).fetchone())
            state = _after_failure(row, probe, policy, now, error[:1000])
            if state is None:
                return False
            db.run("set_circuit", {**params, **state})
            return bool(state["state"] == "open")

        opened: bool = await self._submit(op)
        return opened

    async def reset_circuit(self, org: str, name: str, now: float) -> bool:
        """Close the circuit ``name`` of ``org`` (its failures forgotten); whether it exists."""
        params = {"org": org, "name": name, "now": now}
        done: int = await self._submit(lambda db: db.run("reset_circuit", params).rowcount)
        return done == 1

    async def circuit_counts(self, now: float) -> dict[str, int]:
        """How many circuits are in each state at ``now``, every organization (the metrics'
        gauge): an open circuit past its ``half_open_at`` is half-open, as its resource says."""
        rows = await self._all("circuit_counts", {"now": now})
        return {str(state): int(count) for state, count in rows}


def start_turn(db: Session, run: NewRun, flow: RunFlow) -> RunFlow:
    """``flow`` of a new run with its start throttle's turn reserved (in the transaction that
    creates the run): waiting until that turn when it is later than the run's creation."""
    turn = start_wake(db, run.org, flow, run.created_at)
    if turn is None:
        return flow
    return replace(flow, wake_at=turn if flow.wake_at is None else max(turn, flow.wake_at))


def start_wake(db: Session, org: str, flow: RunFlow | None, now: float) -> float | None:
    """Reserve the turn of a new run's start throttle (``flow.throttle``) in the transaction
    that creates it; the turn when it is later than ``now`` (the run waits until then), else
    None."""
    if flow is None or flow.throttle is None:
        return None
    name, interval, tolerance = flow.throttle
    params = _rate(org, "workflow", name, now, interval, tolerance)
    tat, _ = db.run("reserve_rate", params).fetchone()
    turn = int(tat) - params["interval"] - params["tolerance"]
    return turn / NANOS if turn > params["now"] else None


def give_back_turn(db: Session, org: str, flow: RunFlow | None) -> None:
    """Give back the start throttle's turn :func:`start_wake` reserved in this transaction for
    a run that was not created after all (its row is still locked by this transaction, so the
    turn is the last one: moving ``tat`` back one interval is exact)."""
    if flow is None or flow.throttle is None:
        return
    name, interval, _ = flow.throttle
    params = _rate(org, "workflow", name, 0.0, interval, 0.0)
    db.run("give_back_rate", params)


def not_before_turn(db: Session, run_id: str, flow: RunFlow | None, wake: float) -> float:
    """``wake`` for a debounced run that a start joins, but never before the start throttle's
    turn it was given (kept in its ``wake_at`` when it was created): a debounce never lets a
    throttled run start early."""
    if flow is None or flow.throttle is None:
        return wake
    row = db.run("run_wake_at", {"run_id": run_id}).fetchone()
    return wake if row is None or row[0] is None else max(wake, float(row[0]))


def _rate(
    org: str, scope: str, name: str, now: float, interval: float, tolerance: float
) -> dict[str, Any]:
    at = round(now * NANOS)
    return {"org": org, "scope": scope, "name": name, "now": at, "due": at + CLOCK_SLACK,
            "interval": round(interval * NANOS), "tolerance": round(tolerance * NANOS)}  # fmt: skip


def _admitted(db: Session, params: dict[str, Any]) -> bool:
    return db.run("admit_rate", params).fetchone() is not None


def _after_failure(
    row: CircuitRecord, probe: str, policy: CircuitPolicy, now: float, error: str
) -> dict[str, Any] | None:
    """The columns after a failed call of ``probe`` (None: no change)."""
    state = {
        "state": row.state, "failures": row.failures, "window_start": row.window_start,
        "opened_at": row.opened_at, "half_open_at": row.half_open_at, "probe": row.probe,
        "probe_expires": row.probe_expires, "opens": row.opens, "last_error": error,
    }  # fmt: skip
    if row.state == "half-open":
        failures = row.failures
    elif row.state == "closed":
        fresh = row.window_start is None or now - row.window_start >= policy.window
        failures = 1 if fresh else row.failures + 1
        state.update(failures=failures, window_start=now if fresh else row.window_start)
        if failures < policy.failures:
            return state
    else:
        return None
    state.update(state="open", failures=failures, opened_at=now, half_open_at=now + policy.reset,
                 probe=None, probe_expires=None, opens=row.opens + 1)  # fmt: skip
    return state


def _circuit(row: Sequence[Any]) -> CircuitRecord:
    org, name, state, failures, window_start, opened_at, half_open_at = row[:7]
    probe, probe_expires, opens, last_error, updated_at = row[7:]
    return CircuitRecord(str(org), str(name), str(state), int(failures), _float(window_start),
                         _float(opened_at), _float(half_open_at),
                         None if probe is None else str(probe), _float(probe_expires),
                         int(opens), None if last_error is None else str(last_error),
                         float(updated_at))  # fmt: skip


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
