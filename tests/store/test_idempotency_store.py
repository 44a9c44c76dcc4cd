"""The store's idempotency keys on every backend: of concurrent reservations of a key (from two
stores, as two processes) exactly one wins; a live key answers its holder; expired keys and
abandoned reservations of the same request can be taken again; only the holder's token records
or releases; expired keys are pruned."""

from __future__ import annotations

import asyncio

from plait.settings import Settings
from plait.store.base import Store
from plait.store.records import IdempotencyKey
from plait.store.urls import open_store
from tests.backends import select

NOW = 1_800_000_000.0


def claim(token: str, fingerprint: str = "f1", *, org: str = "acme", key: str = "k",
          now: float = NOW, ttl: float = 100.0) -> IdempotencyKey:  # fmt: skip
    return IdempotencyKey(org, key, "workflows.trigger wf", fingerprint, token, None, now,
                          now + ttl)  # fmt: skip


async def reserve(store: Store, c: IdempotencyKey, now: float = NOW) -> IdempotencyKey | None:
    return await store.reserve_idempotency_key(c, now=now, stale_before=now - 60)


async def test_of_concurrent_reservations_from_two_stores_one_wins(
    store: Store, store_url: str
) -> None:
    other = open_store(Settings.load(database_url=store_url))
    await other.open()
    try:
        held = await asyncio.gather(*(
            reserve(s, claim(f"t{i}")) for i, s in enumerate([store, other] * 4)
        ))  # fmt: skip
    finally:
        await other.close()
    winners = [i for i, h in enumerate(held) if h is None]
    assert len(winners) == 1
    assert {h.token for h in held if h is not None} == {f"t{winners[0]}"}


async def test_a_live_key_answers_its_holder_and_its_result(store: Store) -> None:
    assert await reserve(store, claim("first")) is None
    held = await reserve(store, claim("second"))
    assert held is not None and (held.token, held.result) == ("first", None)
    assert not await store.complete_idempotency_key("acme", "k", "second", b'{"run": "x"}')
    assert await store.complete_idempotency_key("acme", "k", "first", b'{"run": "run_1"}')
    again = await reserve(store, claim("third"), now=NOW + 99)
    assert again is not None and again.result == b'{"run": "run_1"}'
    assert await reserve(store, claim("elsewhere", org="globex")) is None  # per organization


async def test_a_released_key_is_free_and_a_recorded_one_is_not_released(store: Store) -> None:
    assert await reserve(store, claim("first")) is None
    await store.release_idempotency_key("acme", "k", "not-the-holder")
    assert (await reserve(store, claim("second"))) is not None
    await store.release_idempotency_key("acme", "k", "first")
    assert await reserve(store, claim("second")) is None
    await store.complete_idempotency_key("acme", "k", "second", b"{}")
    await store.release_idempotency_key("acme", "k", "second")
    assert (await store.get_idempotency_key("acme", "k")) is not None


async def test_expired_keys_and_abandoned_reservations_are_taken_again(store: Store) -> None:
    assert await reserve(store, claim("first")) is None
    # Abandoned (no result for 60 s): the same request takes it over, another is refused.
    other = await reserve(store, claim("other", "f2", now=NOW + 61), now=NOW + 61)
    assert other is not None and other.token == "first"
    assert await reserve(store, claim("same", now=NOW + 61), now=NOW + 61) is None
    await store.complete_idempotency_key("acme", "k", "same", b"{}")
    # Expired (100 s after the takeover): any request takes it.
    assert await reserve(store, claim("new", "f2", now=NOW + 161), now=NOW + 161) is None
    row = await store.get_idempotency_key("acme", "k")
    assert row is not None and (row.fingerprint, row.result) == ("f2", None)


async def test_expired_keys_are_pruned_by_later_reservations(store: Store) -> None:
    for i in range(3):
        assert await reserve(store, claim(f"t{i}", key=f"old-{i}", ttl=10)) is None
    assert await reserve(store, claim("new", key="new"), now=NOW + 10) is None
    rows = await select(store, "SELECT key FROM idempotency_keys ORDER BY key")
    assert rows == [("new",)]
