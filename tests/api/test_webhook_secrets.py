"""Webhook signing secrets sealed at rest (issue 10, break 10): never in the database in plain
text; refused without PLAIT_SECRET_KEY; rows stored in plain text before sealing are sealed on
first use; key rotation re-seals them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from plait import Engine
from plait.sealing import SECRET_KEY_ENV, generate_key, sealer_from_env
from plait.service.signatures import sign
from plait.service.webhooks import new_webhook
from tests.api.test_secrets_api import stored_anywhere
from tests.backends import select

SECRET = "whsec_do-not-store-me-in-clear-3f9a"


async def test_the_secret_is_not_in_the_database_in_plain_text(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    """Neither in the SQLite files (WAL included) nor in any PostgreSQL row."""
    hook = {"name": "billing", "secret": SECRET, "eventType": "Payment.received"}
    assert (await client.post("/~acme/webhooks", headers=admin, json=hook)).status_code == 201
    body = b'{"amount": 42}'
    signed = sign("hmac-sha256", SECRET, body, timestamp=None)
    accepted = await client.post("/~acme/webhooks/billing", headers=signed, content=body)
    assert accepted.status_code == 202, accepted.text  # the sealed secret still verifies
    assert await stored_anywhere(engine, tmp_path, SECRET) == []  # closes the engine


async def test_creating_a_webhook_without_a_key_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV)
    hook = {"name": "billing", "secret": SECRET, "eventType": "Payment.received"}
    refused = await client.post("/~acme/webhooks", headers=admin, json=hook)
    assert refused.status_code == 409
    assert SECRET_KEY_ENV in refused.json()["detail"]
    assert SECRET not in refused.text
    listed = await client.get("/~acme/webhooks", headers=admin)
    assert listed.json()["items"] == []


async def test_plain_text_rows_are_sealed_on_first_use(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook stored before sealing existed (plain text) keeps working without a key, and is
    sealed the first time the service runs with one."""
    monkeypatch.delenv(SECRET_KEY_ENV)
    engine = make_engine()
    store = await engine.deps.store()
    await store.create_webhook(new_webhook("acme", "legacy", "github", SECRET, "Push", now=0.0))
    body = b'{"ref": "main"}'
    signed = sign("github", SECRET, body, timestamp=None)
    assert (await engine.webhooks.receive("acme", "legacy", signed, body)).duplicate is False
    assert await select(store, "SELECT secret FROM webhooks") == [(SECRET,)]
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())
    later = make_engine()
    assert [w.name for w in (await later.webhooks.find("acme")).items] == ["legacy"]
    [(stored, sealed)] = await select(await later.deps.store(),
                                      "SELECT secret, sealed FROM webhooks")  # fmt: skip
    assert stored != SECRET and bool(sealed)
    assert sealer_from_env().open(stored) == SECRET
    again = b'{"ref": "dev"}'
    signed = sign("github", SECRET, again, timestamp=None)
    assert (await later.webhooks.receive("acme", "legacy", signed, again)).duplicate is False


async def test_reseal_webhook_secrets_rotates_the_key(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, old)
    engine = make_engine()
    for name in ("a", "b"):
        await engine.webhooks.create("acme", {"name": name, "secret": SECRET, "eventType": "E"})
    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    store = await engine.deps.store()
    assert await store.reseal_webhook_secrets(sealer_from_env().reseal) == 2
    monkeypatch.setenv(SECRET_KEY_ENV, new)  # the old key dropped: every secret still opens
    body = b"{}"
    for name in ("a", "b"):
        signed = sign("hmac-sha256", SECRET, body + name.encode(), timestamp=None)
        received = await engine.webhooks.receive("acme", name, signed, body + name.encode())
        assert received.duplicate is False
