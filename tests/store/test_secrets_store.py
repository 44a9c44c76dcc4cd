"""Store contract of secrets (every backend): sealed values only, scoped by organization, and a
key rotation that is all or nothing."""

from __future__ import annotations

import pytest

from plait.sealing import SecretUnreadable
from plait.store.base import Store

T0 = 1_800_000_000.0


async def test_put_creates_then_replaces_keeping_when_it_was_created(store: Store) -> None:
    first, created = await store.put_secret("acme", "TOKEN", "sealed-1", T0)
    again, replaced = await store.put_secret("acme", "TOKEN", "sealed-2", T0 + 5)
    assert (created, replaced) == (True, False)
    assert (again.created_at, again.updated_at) == (first.created_at, T0 + 5)
    assert await store.sealed_secret("acme", "TOKEN") == "sealed-2"
    assert await store.get_secret("acme", "TOKEN") == again


async def test_every_verb_is_scoped_to_its_organization(store: Store) -> None:
    await store.put_secret("acme", "B", "acme-b", T0)
    await store.put_secret("acme", "A", "acme-a", T0)
    await store.put_secret("globex", "A", "globex-a", T0)
    assert [s.name for s in await store.list_secrets("acme")] == ["A", "B"]
    assert await store.sealed_secrets("globex") == {"A": "globex-a"}
    assert await store.sealed_secret("globex", "B") is None
    assert not await store.delete_secret("globex", "B")
    assert await store.delete_secret("acme", "B")
    assert await store.get_secret("acme", "B") is None
    assert await store.sealed_secret("globex", "A") == "globex-a"


async def test_reseal_rewrites_every_organization_or_nothing(store: Store) -> None:
    await store.put_secret("acme", "A", "old-a", T0)
    await store.put_secret("globex", "A", "old-b", T0)
    assert await store.reseal_secrets(lambda sealed: sealed.replace("old", "new")) == 2
    assert await store.sealed_secrets("acme") == {"A": "new-a"}
    assert await store.sealed_secrets("globex") == {"A": "new-b"}

    def fail_on_b(sealed: str) -> str:
        if sealed.endswith("b"):
            raise SecretUnreadable()
        return "newer-a"

    with pytest.raises(SecretUnreadable):
        await store.reseal_secrets(fail_on_b)
    assert await store.sealed_secrets("acme") == {"A": "new-a"}  # rolled back
