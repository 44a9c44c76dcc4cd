"""Webhook verbs of the store: create, get by name or id, list, delete, per organization."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol, cast

import pytest

from plait.service.webhooks import new_webhook
from plait.store.base import Store
from plait.store.records import WebhookRecord
from plait.store.sqlite.store import SQLiteStore

T0 = 1_800_000_000.0
MAPPING = '{"type": "Stripe." + body.type, "data": body.data.object, "id": body.id}'


class WebhookStore(Protocol):
    """The webhook verbs (not yet part of the ``Store`` protocol)."""

    async def create_webhook(self, webhook: WebhookRecord) -> bool: ...
    async def get_webhook(self, org: str, name_or_id: str) -> WebhookRecord | None: ...
    async def list_webhooks(self, org: str) -> list[WebhookRecord]: ...
    async def delete_webhook(self, org: str, name_or_id: str) -> bool: ...


@pytest.fixture
def hooks(store: Store) -> WebhookStore:
    return cast(WebhookStore, store)


def _spec(name: str, org: str = "acme", **kw: Any) -> WebhookRecord:
    settings: dict[str, Any] = {
        "scheme": "stripe",
        "secret": f"whsec_{name}",
        "event_type": "Payment.received",
    }
    return new_webhook(org, name, **{**settings, **kw}, now=T0)


async def _made(hooks: WebhookStore, spec: WebhookRecord) -> WebhookRecord:
    assert await hooks.create_webhook(spec) is True
    return spec


async def test_a_created_webhook_is_found_by_name_and_by_id(hooks: WebhookStore) -> None:
    spec = _spec("stripe", event_type=None, mapping=MAPPING)
    assert await hooks.create_webhook(spec) is True
    assert await hooks.get_webhook("acme", "stripe") == spec
    assert await hooks.get_webhook("acme", spec.id) == spec
    found = await hooks.get_webhook("acme", "stripe")
    assert found is not None and found.secret == "whsec_stripe"  # stored as given: HMAC needs it
    assert await hooks.get_webhook("acme", "nope") is None


async def test_webhooks_are_listed_by_name(hooks: WebhookStore) -> None:
    for name in ("stripe", "github", "billing.v2"):
        await _made(hooks, _spec(name))
    assert [w.name for w in await hooks.list_webhooks("acme")] == ["billing.v2", "github", "stripe"]
    assert await hooks.list_webhooks("empty") == []


async def test_a_duplicate_name_is_refused_and_the_first_kept(hooks: WebhookStore) -> None:
    first = await _made(hooks, _spec("stripe"))
    assert await hooks.create_webhook(_spec("stripe", scheme="github")) is False
    assert await hooks.list_webhooks("acme") == [first]


async def test_concurrent_creates_of_one_name_store_it_once(hooks: WebhookStore) -> None:
    specs = [_spec("stripe"), _spec("stripe"), _spec("github")]  # one group commit
    outcomes = await asyncio.gather(*map(hooks.create_webhook, specs))
    assert outcomes == [True, False, True]  # a refused create does not fail the writes beside it
    assert await hooks.list_webhooks("acme") == [specs[2], specs[0]]


async def test_delete_by_name_or_id(hooks: WebhookStore) -> None:
    by_name = await _made(hooks, _spec("stripe"))
    by_id = await _made(hooks, _spec("github"))
    assert await hooks.delete_webhook("acme", by_name.name) is True
    assert await hooks.delete_webhook("acme", by_id.id) is True
    assert await hooks.delete_webhook("acme", by_id.id) is False
    assert await hooks.get_webhook("acme", "stripe") is None
    assert await hooks.list_webhooks("acme") == []
    recreated = await _made(hooks, _spec("stripe"))  # the name is free again
    assert await hooks.get_webhook("acme", "stripe") == recreated


async def test_organizations_are_isolated(hooks: WebhookStore) -> None:
    ours = await _made(hooks, _spec("stripe", org="acme"))
    theirs = await _made(hooks, _spec("stripe", org="globex"))  # same name, other org
    assert await hooks.get_webhook("globex", ours.id) is None
    assert await hooks.get_webhook("globex", "stripe") == theirs
    assert await hooks.list_webhooks("acme") == [ours]
    assert await hooks.delete_webhook("globex", ours.id) is False
    assert await hooks.get_webhook("acme", ours.id) == ours


async def test_webhooks_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "hooks.db")
    store = SQLiteStore(path)
    await store.open()
    spec = _spec("stripe")
    assert await store.create_webhook(spec) is True
    await store.close()
    store = SQLiteStore(path)
    await store.open()
    assert await store.get_webhook("acme", "stripe") == spec
    await store.close()
