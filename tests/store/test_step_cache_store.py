"""The step-result cache's store verbs on every backend: an upsert replaces an entry (also
between two stores at once), expired entries are never read and pruned in batches, clearing
keeps to its organization and scope."""

from __future__ import annotations

import asyncio

from plait.settings import Settings
from plait.store.base import Store
from plait.store.step_cache import CacheEntry
from plait.store.urls import open_store

NOW = 1_800_000_000.0


def entry(key: str, *, org: str = "acme", scope: str = "wf/step", output: bytes = b"1",
          workflow: str = "wf", now: float = NOW, ttl: float = 60.0) -> CacheEntry:  # fmt: skip
    return CacheEntry(org, scope, f"h-{key}", key, workflow, "step", output, "run_1", now,
                      now + ttl)  # fmt: skip


async def test_a_live_entry_is_read_and_an_expired_one_is_not(store: Store) -> None:
    await store.put_cached_output(entry("a", ttl=60))
    live = await store.cached_output("acme", "wf/step", "h-a", NOW + 59.9)
    gone = await store.cached_output("acme", "wf/step", "h-a", NOW + 60)
    other_org = await store.cached_output("globex", "wf/step", "h-a", NOW)
    other_scope = await store.cached_output("acme", "wf/other", "h-a", NOW)
    assert live is not None and (live.output, live.run_id) == (b"1", "run_1")
    assert (gone, other_org, other_scope) == (None, None, None)


async def test_concurrent_writes_of_one_key_from_two_stores_leave_one_entry(
    store: Store, store_url: str
) -> None:
    other = open_store(Settings.load(database_url=store_url))
    await other.open()
    try:
        await asyncio.gather(*(
            s.put_cached_output(entry("a", output=str(i).encode()))
            for i, s in enumerate([store, other] * 4)
        ))  # fmt: skip
    finally:
        await other.close()
    listed = await store.cache_entries("acme", NOW)
    hit = await store.cached_output("acme", "wf/step", "h-a", NOW)
    assert len(listed) == 1
    assert hit is not None and hit.output in {str(i).encode() for i in range(8)}


async def test_expired_entries_are_pruned_in_batches(store: Store) -> None:
    for i in range(5):
        await store.put_cached_output(entry(f"old{i}", org=f"o{i % 2}", ttl=10))
    await store.put_cached_output(entry("young", ttl=1000))
    pruned = [await store.prune_cache(NOW + 10, limit=2) for _ in range(4)]
    assert pruned == [2, 2, 1, 0]
    assert [e.key_text for e in await store.cache_entries("acme", NOW)] == ["young"]


async def test_clearing_keeps_to_the_organization_workflow_and_scope(store: Store) -> None:
    await store.put_cached_output(entry("a"))
    await store.put_cached_output(entry("b", workflow="other", scope="other/step"))
    await store.put_cached_output(entry("c", scope="fx", workflow="other"))
    await store.put_cached_output(entry("a", org="globex"))
    assert await store.clear_cache("acme", workflow="wf") == 1
    assert await store.clear_cache("acme", scope="fx") == 1
    assert [e.key_text for e in await store.cache_entries("acme", NOW)] == ["b"]
    assert [e.key_text for e in await store.cache_entries("globex", NOW)] == ["a"]
