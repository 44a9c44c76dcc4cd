"""``/metrics`` counts events, the runs they start, and refused webhook requests (issue 13)."""

from __future__ import annotations

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from plait.service.signatures import sign
from tests.api.conftest import WELCOME


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_events_and_webhook_refusals_are_counted(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    workflow = (await client.post("/~acme/workflows", headers=admin, json=WELCOME)).json()
    await client.post(f"/~acme/workflows/{workflow['$id']}/activate", headers=admin)
    body = {"type": "Customer.created", "data": {"name": "Ada"}, "id": "signup-1"}
    for _ in range(2):  # the second is a duplicate: not counted again
        assert (await client.post("/~acme/events", headers=admin, json=body)).status_code == 202
    hook = {"name": "billing", "secret": "whsec_42", "eventType": "Payment.received"}
    assert (await client.post("/~acme/webhooks", headers=admin, json=hook)).status_code == 201
    payload = orjson.dumps({"amount": 42})
    signed = sign("hmac-sha256", "whsec_42", payload, timestamp=None)
    forged = {"X-Signature-256": "sha256=" + "0" * 64}
    for name, headers, status in [("billing", signed, 202), ("billing", forged, 401),
                                  ("nope", signed, 401)]:  # fmt: skip
        answer = await client.post(f"/~acme/webhooks/{name}", content=payload, headers=headers)
        assert answer.status_code == status, answer.text
    got = await scrape(client)
    assert got[("plait_events_emitted_total", frozenset({("source", "api")}))] == 1
    assert got[("plait_events_emitted_total", frozenset({("source", "webhook")}))] == 1
    assert got[("plait_event_runs_total", frozenset({("effect", "started")}))] == 1
    refused = ("plait_webhook_verification_failures_total", frozenset({("reason", "rejected")}))
    assert got[refused] == 2
    http = frozenset({("method", "POST"), ("status", "401")})
    assert got[("plait_http_responses_total", http)] == 2
