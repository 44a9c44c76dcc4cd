"""Circuit breakers in the store on every backend: failures within the window open the
circuit, one probe at a time goes through once it half-opens, the probe's outcome closes or
reopens it, a manual reset closes it, and each organization has its own."""

from __future__ import annotations

import asyncio

from plait.settings import Settings
from plait.store.base import Store
from plait.store.limits import CircuitPolicy
from plait.store.urls import open_store

NOW = 1_800_000_000.0
POLICY = CircuitPolicy(failures=3, window=60.0, reset=30.0)


async def fail(store: Store, now: float, probe: str = "run_1/charge", org: str = "acme") -> bool:
    return await store.circuit_failed(org, "stripe", probe, POLICY, now, "ActionError: 503")


async def test_failures_within_the_window_open_it(store: Store) -> None:
    assert not await fail(store, NOW)
    assert not await fail(store, NOW + 10)
    assert await fail(store, NOW + 20)  # the third within 60 s
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None
    assert (circuit.state, circuit.opens, circuit.half_open_at) == ("open", 1, NOW + 50)
    assert circuit.last_error == "ActionError: 503"
    assert not await fail(store, NOW + 21)  # already open: no second opening
    assert (await store.get_circuit("acme", "stripe")).opens == 1  # type: ignore[union-attr]


async def test_failures_spread_past_the_window_do_not_open_it(store: Store) -> None:
    for offset in (0, 30, 61, 100, 122):  # never 3 within one window
        assert not await fail(store, NOW + offset)
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and circuit.state == "closed"


async def open_it(store: Store) -> None:
    for offset in (0, 1, 2):
        await fail(store, NOW + offset)


async def test_one_probe_at_a_time_once_it_half_opens(store: Store, store_url: str) -> None:
    await open_it(store)
    assert not await store.take_probe("acme", "stripe", "run_2/charge", NOW + 10, 30.0)
    other = open_store(Settings.load(database_url=store_url))
    await other.open()
    try:
        taken = await asyncio.gather(*(
            s.take_probe("acme", "stripe", f"run_{i}/charge", NOW + 40, 30.0)
            for i, s in enumerate([store, other] * 4)
        ))  # fmt: skip
    finally:
        await other.close()
    assert taken.count(True) == 1
    winner = f"run_{taken.index(True)}/charge"
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and (circuit.state, circuit.probe) == ("half-open", winner)
    # A probe that never answers is taken over once its lease passed.
    assert await store.take_probe("acme", "stripe", "run_9/charge", NOW + 71, 30.0)


async def test_the_probe_closes_it_or_opens_it_again(store: Store) -> None:
    await open_it(store)
    assert await store.take_probe("acme", "stripe", "p1", NOW + 40, 30.0)
    assert await fail(store, NOW + 41, probe="p1")  # the probe failed: open again
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and (circuit.state, circuit.opens) == ("open", 2)
    assert circuit.half_open_at == NOW + 71
    assert await store.take_probe("acme", "stripe", "p2", NOW + 71, 30.0)
    assert not await store.probe_succeeded("acme", "stripe", "p1", NOW + 72)  # not its probe
    assert await store.probe_succeeded("acme", "stripe", "p2", NOW + 72)
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and (circuit.state, circuit.failures) == ("closed", 0)


async def test_a_manual_reset_closes_it_and_circuits_are_per_organization(store: Store) -> None:
    await open_it(store)
    assert await store.get_circuit("globex", "stripe") is None  # one tenant's failures only
    assert [c.name for c in await store.list_circuits("acme")] == ["stripe"]
    assert await store.circuit_counts(NOW + 5) == {"open": 1}
    assert await store.circuit_counts(NOW + 40) == {"half-open": 1}  # past halfOpenAt
    assert await store.reset_circuit("acme", "stripe", NOW + 5)
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and (circuit.state, circuit.failures) == ("closed", 0)
    assert not await store.reset_circuit("acme", "nothing", NOW + 5)


async def test_any_failure_while_half_open_opens_it_again(store: Store) -> None:
    # A slow probe lost its lease, another run took the probe: when the first one fails, the
    # circuit opens again (it never stays half-open with several probes in flight).
    await open_it(store)
    assert await store.take_probe("acme", "stripe", "slow", NOW + 40, 30.0)
    assert await store.take_probe("acme", "stripe", "next", NOW + 71, 30.0)
    assert await fail(store, NOW + 72, probe="slow")
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and (circuit.state, circuit.probe) == ("open", None)
    assert circuit.half_open_at == NOW + 102


async def test_the_probe_s_own_step_takes_it_again(store: Store) -> None:
    # Its worker died and its run was re-claimed: the same step is let through again at once.
    await open_it(store)
    assert await store.take_probe("acme", "stripe", "run_1/charge", NOW + 40, 30.0)
    assert not await store.take_probe("acme", "stripe", "run_2/charge", NOW + 45, 30.0)
    assert await store.take_probe("acme", "stripe", "run_1/charge", NOW + 45, 30.0)
    circuit = await store.get_circuit("acme", "stripe")
    assert circuit is not None and circuit.probe_expires == NOW + 75
