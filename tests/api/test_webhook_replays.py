"""Replay-proof webhooks (issue 10, break 7): a replayed signed delivery starts nothing whatever
its unsigned headers say; unknown and existing webhook names answer alike when unauthenticated.
Secrets sealed at rest (break 10) are in tests/api/test_webhook_secrets.py."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from plait import Engine
from plait.service.signatures import sign
from plait.testing import VirtualClock
from tests.api.conftest import WELCOME

PUSH = {**WELCOME, "name": "On push", "triggerEvent": "Push.received"}
SECRET = "s3cret-of-the-hook"


async def _activated(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    made = await client.post("/~acme/workflows", headers=admin, json=PUSH)
    assert made.status_code == 201, made.text
    activated = await client.post(f"/~acme/workflows/{made.json()['$id']}/activate", headers=admin)
    assert activated.status_code == 200, activated.text


async def _hook(client: httpx.AsyncClient, admin: dict[str, str], scheme: str) -> None:
    hook = {"name": "gh", "secret": SECRET, "scheme": scheme, "eventType": "Push.received"}
    made = await client.post("/~acme/webhooks", headers=admin, json=hook)
    assert made.status_code == 201, made.text


async def _runs(engine: Engine) -> int:
    return len((await engine.runs.find("acme", workflow="On push")).items)


@pytest.mark.parametrize(
    ("scheme", "unsigned_id"), [("github", "X-GitHub-Delivery"), ("hmac-sha256", "X-Request-Id")]
)
async def test_a_replay_with_a_changed_unsigned_id_starts_no_new_run(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine, scheme: str,
    unsigned_id: str,
) -> None:  # fmt: skip
    await _activated(client, admin)
    await _hook(client, admin, scheme)
    body = orjson.dumps({"name": "Ada", "$id": "customer_1"})
    signed = sign(scheme, SECRET, body, timestamp=None)
    answers = []
    for delivery in ("delivery-1", "delivery-2", "delivery-3"):
        headers = {**signed, unsigned_id: delivery}
        received = await client.post("/~acme/webhooks/gh", headers=headers, content=body)
        assert received.status_code == 202, received.text
        answers.append(received.json())
    first = answers[0]["$id"]
    assert first == "delivery-1"
    assert answers == [{"$id": first, "duplicate": False}] + [{"$id": first, "duplicate": True}] * 2
    events = await engine.events.find("acme", type="Push.received")
    assert [e.id for e in events.items] == [first]
    assert await _runs(engine) == 1
    other = orjson.dumps({"name": "Bo", "$id": "customer_2"})  # new signed content: a new event
    headers = {**sign(scheme, SECRET, other, timestamp=None), unsigned_id: "delivery-4"}
    fresh = await client.post("/~acme/webhooks/gh", headers=headers, content=other)
    assert fresh.json() == {"$id": "delivery-4", "duplicate": False}
    assert await _runs(engine) == 2


async def test_concurrent_replays_store_one_event(
    client: httpx.AsyncClient, admin: dict[str, str], engine: Engine
) -> None:
    await _activated(client, admin)
    await _hook(client, admin, "github")
    body = orjson.dumps({"name": "Ada"})
    signed = sign("github", SECRET, body, timestamp=None)
    sends = [client.post("/~acme/webhooks/gh", content=body,
                         headers={**signed, "X-GitHub-Delivery": f"d-{n}"})
             for n in range(8)]  # fmt: skip
    answers = [r.json() for r in await asyncio.gather(*sends)]
    assert sum(not a["duplicate"] for a in answers) == 1
    assert len({a["$id"] for a in answers}) == 1
    assert await _runs(engine) == 1


async def test_the_replay_window_holds_across_engines_and_then_expires(db_url: str) -> None:
    """Two engines on one database (two workers): a replay to the other is refused too; after
    ``webhook_replay_seconds`` the same content is a new delivery."""
    clock = VirtualClock(start=1_800_000_000.0)
    engines = [Engine(db_url, clock=clock, webhook_replay_seconds=600) for _ in range(2)]
    try:
        hook = {"name": "gh", "secret": SECRET, "scheme": "github", "eventType": "Push"}
        await engines[0].webhooks.create("acme", hook)
        body = b'{"ref": "main"}'
        signed = sign("github", SECRET, body, timestamp=None)
        both = await asyncio.gather(*(
            e.webhooks.receive("acme", "gh", {**signed, "X-GitHub-Delivery": f"d-{i}"}, body)
            for i, e in enumerate(engines)
        ))  # fmt: skip
        assert sorted(r.duplicate for r in both) == [False, True]
        assert both[0].id == both[1].id
        await clock.advance(599)
        again = await engines[1].webhooks.receive("acme", "gh", {**signed}, body)
        assert again.duplicate is True
        await clock.advance(2)
        later = await engines[1].webhooks.receive("acme", "gh", {**signed}, body)
        assert later.duplicate is False and later.id != both[0].id
        events = await engines[0].events.find("acme", type="Push")
        assert len(events.items) == 2
    finally:
        for engine in engines:
            await engine.close()


def _unauthenticated(body: bytes) -> list[dict[str, str]]:
    wrong = "the wrong secret"
    return [
        {},
        {"X-Hub-Signature-256": "sha256=nothex"},
        sign("github", wrong, body, timestamp=None),
        sign("hmac-sha256", wrong, body, timestamp=None),
        sign("stripe", wrong, body, timestamp=1_800_000_000),
        {"X-Signature-256": "sha256=" + "0" * 64},
    ]


async def test_unknown_and_existing_names_answer_alike_when_unauthenticated(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _hook(client, admin, "github")
    body = b'{"ref": "main"}'
    for headers in _unauthenticated(body):
        answers = []
        for name in ("gh", "nope", "webhook_abcdefgh"):
            answer = await client.post(f"/~acme/webhooks/{name}", headers=headers, content=body)
            kept = ("content-type", "www-authenticate", "content-length")
            answers.append((answer.status_code, {k: answer.headers.get(k) for k in kept},
                            answer.content))  # fmt: skip
        assert answers[0] == answers[1] == answers[2], headers
        status, _, content = answers[0]
        assert status == 401
        assert orjson.loads(content)["detail"] == (
            "webhook signature rejected: the signature is missing, malformed or does not match"
        )
    valid = sign("github", SECRET, body, timestamp=None)
    unknown = await client.post("/~acme/webhooks/nope", headers=valid, content=body)
    assert unknown.status_code == 401  # a signature valid for another webhook proves nothing


async def test_a_broken_key_answers_like_an_unknown_name_and_is_logged(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A key that no longer opens a webhook's secret is the operator's fault: logged, and the
    caller gets the same 401 as for a name that does not exist (no 500 that tells names)."""
    from plait.sealing import SECRET_KEY_ENV, generate_key

    await _hook(client, admin, "github")
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())
    body = b'{"ref": "main"}'
    valid = sign("github", SECRET, body, timestamp=None)
    known = await client.post("/~acme/webhooks/gh", headers=valid, content=body)
    unknown = await client.post("/~acme/webhooks/nope", headers=valid, content=body)
    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content
    assert any("cannot be opened" in r.getMessage() for r in caplog.records)
