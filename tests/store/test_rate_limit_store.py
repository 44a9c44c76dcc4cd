"""Rate limits in the store on every backend: GCRA reservations are exact across stores (as
processes), queue late callers at the sustained rate, allow a burst, and are per organization."""

from __future__ import annotations

import asyncio

import pytest

from plait.runtime.limits import RateLimit
from plait.settings import Settings
from plait.store.base import Store
from plait.store.urls import open_store

NOW = 1_800_000_000.0


async def reserve(store: Store, limit: RateLimit, now: float = NOW, org: str = "acme") -> float:
    turn, _ = await store.reserve_rate(org, "action", "stripe", now=now, interval=limit.interval,
                                       tolerance=limit.tolerance)  # fmt: skip
    return turn


async def admit(store: Store, limit: RateLimit, now: float) -> float | None:
    return await store.admit_rate("acme", "action", "stripe", now=now, interval=limit.interval,
                                  tolerance=limit.tolerance)  # fmt: skip


async def test_reservations_are_spaced_by_the_interval_and_queue_late_callers(store: Store) -> None:
    limit = RateLimit(10, period=1.0)  # one every 0.1 s, no burst
    turns = [await reserve(store, limit) for _ in range(5)]
    assert [round(t - NOW, 6) for t in turns] == [0.0, 0.1, 0.2, 0.3, 0.4]
    # Later, once the queue has drained, the next caller goes at once.
    assert await reserve(store, limit, now=NOW + 10) == NOW + 10


async def test_a_burst_goes_at_once_then_the_sustained_rate(store: Store) -> None:
    limit = RateLimit(2, period=1.0, burst=3)  # 0.5 s apart, 3 at once
    turns = [await reserve(store, limit) for _ in range(5)]
    assert [round(t - NOW, 6) for t in turns] == [0.0, 0.0, 0.0, 0.5, 1.0]


async def test_limits_are_per_organization(store: Store) -> None:
    limit = RateLimit(1, period=60.0)
    assert await reserve(store, limit) == NOW
    assert await reserve(store, limit) == NOW + 60
    assert await reserve(store, limit, org="globex") == NOW  # another tenant: its own limit


async def test_concurrent_reservations_from_two_stores_never_share_a_turn(
    store: Store, store_url: str
) -> None:
    other = open_store(Settings.load(database_url=store_url))
    await other.open()
    limit = RateLimit(100, period=1.0)
    try:
        turns = await asyncio.gather(*(reserve(s, limit) for s in [store, other] * 20))
    finally:
        await other.close()
    offsets = sorted(round((t - NOW) / limit.interval) for t in turns)
    assert offsets == list(range(40))  # every turn exactly once: no two callers share one


async def test_calls_let_through_keep_to_the_rate_whenever_their_turns_came(store: Store) -> None:
    limit = RateLimit(10, period=1.0)
    first, admitted = await store.reserve_rate("acme", "action", "stripe", now=NOW,
                                               interval=0.1, tolerance=0.0)  # fmt: skip
    assert (first, admitted) == (NOW, True)  # its turn is now: let through at once
    turns = [await reserve(store, limit) for _ in range(3)]  # queued: 0.1, 0.2, 0.3
    # The first two woke late, together at 0.25: one goes, the other waits for the next moment.
    assert await admit(store, limit, NOW + 0.25) is None
    assert await admit(store, limit, NOW + 0.25) == NOW + 0.35
    assert await admit(store, limit, NOW + 0.3) == NOW + 0.35  # on time, but the moment is taken
    assert await admit(store, limit, NOW + 0.35) is None
    assert [round(t - NOW, 6) for t in turns] == [0.1, 0.2, 0.3]


async def test_admitting_a_call_of_a_limit_with_no_row_reserves_a_turn(store: Store) -> None:
    # A step recorded waiting for a turn of a limit whose row is gone (pruned, or renamed):
    # it is let through or told when to come back, never "now" again and again.
    limit = RateLimit(1, 1.0)
    assert await admit(store, limit, NOW) is None
    assert await admit(store, limit, NOW) == NOW + 1.0


async def test_rows_that_hold_nothing_ahead_are_pruned(store: Store) -> None:
    limit = RateLimit(1, 1.0)
    await reserve(store, limit, NOW)
    await reserve(store, limit, NOW)  # a turn at NOW + 1: held until NOW + 2
    assert await store.prune_rate_limits(NOW + 1.5, 100) == 0
    assert await store.prune_rate_limits(NOW + 2, 100) == 1
    assert await store.prune_rate_limits(NOW + 2, 100) == 0
    assert await reserve(store, limit, NOW + 2) == NOW + 2  # afresh, as if never used


async def test_the_housekeeping_prunes_idle_rate_limits(store: Store) -> None:
    from types import SimpleNamespace

    from plait.service.circuits import CircuitService

    async def opened() -> Store:
        return store

    circuits = CircuitService(SimpleNamespace(store=opened))  # type: ignore[arg-type]
    await reserve(store, RateLimit(1, 1.0), NOW)
    assert await circuits.maintain(NOW + 0.5) == 0  # its turn still ahead: kept
    assert await circuits.maintain(NOW + 5) == 0  # not due again yet
    assert await circuits.maintain(NOW + 301) == 1


async def test_a_turn_and_the_step_waiting_for_it_are_written_together(store: Store) -> None:
    from plait.errors import LeaseLost
    from plait.store.records import StepRecord

    limit = RateLimit(1, 1.0)
    await reserve(store, limit, NOW)  # the turn of now is taken: the next is at NOW + 1
    waiting = StepRecord("lookup", 0, "lookup", "step", "waiting", 0, None, None, NOW, None, None)
    with pytest.raises(LeaseLost):  # not the run's holder: no record, and no turn reserved
        await store.reserve_rate_waiting("acme", "stripe", now=NOW, interval=limit.interval,
                                         tolerance=limit.tolerance, lead=0.1, run_id="run_gone",
                                         fence=1, waiting=waiting)  # fmt: skip
    assert await reserve(store, limit, NOW) == NOW + 1
