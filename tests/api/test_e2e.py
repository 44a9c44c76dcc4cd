"""End to end through the real server (`plait serve` in a subprocess, real HTTP): the brief's
Deal.won workflow chained to a Customer.created one, counters, pause; a Stripe-signed webhook."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from plait.service.signatures import sign
from tests.api.conftest import bearer, up, wait_until

pytestmark = pytest.mark.timeout(90)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "definitions"
WELCOME = {
    "name": "Welcome customer", "triggerEvent": "Customer.created",
    "steps": [{"action": "Activity.create",
               "mapping": {"subject": "'Welcome ' + customer.name", "customer": "customer.$id"}}],
}  # fmt: skip
DEAL = {"name": "Acme Corp", "value": 50000, "plan": "pro", "owner": "sam@plait.dev",
        "contact": {"email": "ceo@acme.test", "name": "Ada"}}  # fmt: skip


def runs(api: httpx.Client, workflow: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get("/~acme/runs", params={"workflow": workflow}).json()[
        "items"
    ]
    return found


def test_deal_won_chain_through_the_server(
    server: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    _, base, key = server
    wait_until(lambda: up(base), "the server")
    with httpx.Client(base_url=base, headers=bearer(key), timeout=10) as api:
        deal_won = json.loads((EXAMPLES / "deal-won.json").read_text())
        onboarding = api.post("/~acme/workflows", json=deal_won).json()
        welcome = api.post("/~acme/workflows", json=WELCOME).json()
        for workflow in (onboarding, welcome):
            activated = api.post(f"/~acme/workflows/{workflow['$id']}/activate")
            assert activated.status_code == 200, activated.text
            assert activated.json()["status"] == "Activated"

        emitted = api.post("/~acme/events", json={"type": "Deal.won", "data": DEAL})
        assert emitted.status_code == 202, emitted.text
        [run_id] = emitted.json()["runs"]

        def finished() -> bool:
            return bool(api.get(f"/~acme/runs/{run_id}").json()["status"] == "succeeded")

        wait_until(finished, "the Deal.won run")
        run = api.get(f"/~acme/runs/{run_id}").json()
        customer = run["output"]["step-1"]
        assert customer["$id"].startswith("customer_") and customer["name"] == "Acme Corp"
        created = api.get("/~acme/events", params={"type": "Customer.created"}).json()["items"]
        assert [e["data"]["$id"] for e in created] == [customer["$id"]]

        wait_until(lambda: any(r["status"] == "succeeded" for r in runs(api, "Welcome customer")),
                   "the chained Customer.created run")  # fmt: skip
        shown = api.get(f"/~acme/workflows/{onboarding['$id']}").json()
        assert (shown["runCount"], shown["successCount"], shown["failureCount"]) == (1, 1, 0)
        assert shown["lastRunAt"] is not None

        paused = api.post(f"/~acme/workflows/{onboarding['$id']}/pause")
        assert paused.json()["status"] == "Paused"
        again = api.post("/~acme/events", json={"type": "Deal.won", "data": DEAL})
        assert again.json()["runs"] == []
        time.sleep(0.3)
        assert len(runs(api, onboarding["name"])) == 1
        illegal = api.post(f"/~acme/workflows/{onboarding['$id']}/pause")
        assert illegal.status_code == 409
        assert "Paused -> Paused" in illegal.json()["detail"]


def test_stripe_signed_webhook_through_the_server(
    server: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    _, base, key = server
    wait_until(lambda: up(base), "the server")
    with httpx.Client(base_url=base, timeout=10) as http:
        admin = bearer(key)
        mapping = '{"type": "Stripe." + body.type, "data": body.data.object, "id": body.id}'
        made = http.post("/~acme/webhooks", headers=admin,
                         json={"name": "stripe", "scheme": "stripe", "secret": "whsec_test",
                               "mapping": mapping})  # fmt: skip
        assert made.status_code == 201, made.text
        body = json.dumps({"id": "evt_1", "type": "invoice.paid",
                           "data": {"object": {"amount": 4200}}}).encode()  # fmt: skip
        now = time.time()
        signed = sign("stripe", "whsec_test", body, timestamp=now)
        accepted = http.post("/~acme/webhooks/stripe", content=body, headers=signed)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["$id"] == "evt_1"

        tampered = http.post("/~acme/webhooks/stripe", content=body.replace(b"4200", b"1"),
                             headers=signed)  # fmt: skip
        stale_headers = sign("stripe", "whsec_test", body.replace(b"evt_1", b"evt_2"),
                             timestamp=now - 3600)  # fmt: skip
        stale = http.post("/~acme/webhooks/stripe", content=body.replace(b"evt_1", b"evt_2"),
                          headers=stale_headers)  # fmt: skip
        for rejected, reason in ((tampered, "does not match"), (stale, "tolerance")):
            assert rejected.status_code == 401
            assert rejected.headers["content-type"] == "application/problem+json"
            assert reason in rejected.json()["detail"]
        stored = http.get("/~acme/events", headers=admin,
                          params={"type": "Stripe.invoice.paid"}).json()["items"]  # fmt: skip
        assert [(e["$id"], e["data"]) for e in stored] == [("evt_1", {"amount": 4200})]
