"""The administration pages of the console: schedules, webhooks, keys, secrets, state machines
and the audit trail. Each lists what the services hold, changes go through the same services as
the REST API with the same roles (a lower role's form is refused and changes nothing), and every
change is in the audit trail as made from the console."""

from __future__ import annotations

import re

import orjson
import pytest

from plait import Engine
from plait.resources.audit import AuditEntry
from plait.sealing import SECRET_KEY_ENV, generate_key
from plait.service.signatures import sign
from plait.testing import assert_eventually
from tests.api.conftest import WELCOME
from tests.console.conftest import BrowserFactory
from tests.integration.test_state_machine import ITEMS, order_machine, with_actions

_WHEN = re.compile(r'<time datetime="([^"]+)"')


@pytest.fixture
def sealing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets and webhook secrets are sealed with a key of ``PLAIT_SECRET_KEY``."""
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())


async def welcome(engine: Engine, org: str = "acme") -> str:
    created = await engine.workflows.create(org, WELCOME)
    await engine.workflows.activate(org, created.id)
    return created.id


async def audit_of(engine: Engine, org: str, type: str) -> list[AuditEntry]:
    return (await engine.audit.list(org, type=type)).items


def section(html: str, marker: str) -> str:
    """The part of ``html`` from the element with ``id="marker"`` on."""
    start = html.index(f'id="{marker}"')
    return html[start:]


# -- schedules ------------------------------------------------------------------------------------


async def test_the_schedules_page_shows_next_ticks_and_the_last_fires_with_their_runs(
    engine: Engine, browser: BrowserFactory
) -> None:
    workflow = await welcome(engine)
    schedule = await engine.schedules.create("acme", {
        "workflow": workflow, "cron": "0 9 * * *", "timezone": "Europe/Paris",
        "input": {"report": "daily"},
    })  # fmt: skip
    await engine.schedules.tick(schedule.next_fire_at.timestamp() + 1)
    ticks = await engine.schedules.ticks("acme", schedule.id, fired=3, upcoming=5)
    assert len(ticks.fired) == 1 and ticks.fired[0].run_id is not None
    assert len(ticks.upcoming) == 5

    viewer = await browser("acme", "viewer")
    shown = await viewer.get("/schedules")
    assert shown.status_code == 200
    row = section(shown.text, f"schedule-{schedule.id}")
    assert "Welcome customer" in row and "0 9 * * *" in row and "Europe/Paris" in row
    times = _WHEN.findall(row)
    upcoming = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in ticks.upcoming]
    fired = ticks.fired[0].tick.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert times == [*upcoming, fired]
    assert upcoming[0].endswith(("T07:00:00Z", "T08:00:00Z"))  # 09:00 in Paris
    assert f'href="/runs/{ticks.fired[0].run_id}"' in row
    assert "<caption" in shown.text
    # A viewer is offered nothing it may not do.
    assert 'id="schedule-form"' not in shown.text and "/delete" not in shown.text


async def test_an_editor_creates_and_deletes_a_schedule_and_both_are_audited(
    engine: Engine, browser: BrowserFactory
) -> None:
    workflow = await welcome(engine)
    editor = await browser("acme", "editor")
    page = await editor.get("/schedules")
    assert 'id="schedules-empty"' in page.text and "plait schedules create" in page.text
    created = await editor.post("/schedules", {"workflow": workflow, "cron": "*/15 * * * *",
                                               "timezone": "", "input": '{"n": 1}'})  # fmt: skip
    assert created.status_code == 200 and created.url.path == "/schedules"
    assert "The schedule was created." in created.text
    [stored] = (await engine.schedules.find("acme")).items
    assert stored.cron == "*/15 * * * *" and stored.timezone == "UTC"
    assert stored.input == {"n": 1}
    assert "*/15 * * * *" in section(created.text, f"schedule-{stored.id}")

    deleted = await editor.post(f"/schedules/{stored.id}/delete")
    assert "The schedule was deleted." in deleted.text
    assert (await engine.schedules.find("acme")).items == []
    entries = await audit_of(engine, "acme", "schedule")
    assert [(e.verb, e.resource.id, e.actor.interface, e.result) for e in entries] == [
        ("delete", stored.id, "console", "ok"), ("create", stored.id, "console", "ok"),
    ]  # fmt: skip

    admin = await browser("acme", "admin")
    trail = await admin.get("/audit?type=schedule")
    row = section(trail.text, f"entry-{entries[1].id}")
    assert "console" in row and "create" in row and stored.id in row
    assert 'href="/schedules"' in row


async def test_an_invalid_cron_is_shown_at_its_field_and_nothing_is_stored(
    engine: Engine, browser: BrowserFactory
) -> None:
    workflow = await welcome(engine)
    editor = await browser("acme", "editor")
    await editor.get("/schedules")
    bad = await editor.post("/schedules", {"workflow": workflow, "cron": "every monday",
                                           "timezone": "UTC", "input": ""})  # fmt: skip
    assert bad.status_code == 422
    error = re.search(r'<p class="field-error" id="e-cron">([^<]+)</p>', bad.text)
    assert error and "5 fields" in error.group(1)
    assert 'aria-describedby="e-cron"' in bad.text
    assert 'value="every monday"' in bad.text  # what was typed stays in the form
    zone = await editor.post("/schedules", {"workflow": workflow, "cron": "0 9 * * *",
                                            "timezone": "Mars/Olympus"})  # fmt: skip
    assert zone.status_code == 422 and 'id="e-timezone"' in zone.text
    not_json = await editor.post("/schedules", {"workflow": workflow, "cron": "0 9 * * *",
                                                "input": "{nope"})  # fmt: skip
    assert not_json.status_code == 422 and 'id="e-input"' in not_json.text
    assert (await engine.schedules.find("acme")).items == []


async def test_a_viewer_posting_a_schedule_is_refused_and_nothing_is_stored(
    engine: Engine, browser: BrowserFactory
) -> None:
    workflow = await welcome(engine)
    viewer = await browser("acme", "viewer")
    await viewer.get("/schedules")
    refused = await viewer.post("/schedules", {"workflow": workflow, "cron": "0 9 * * *"})
    assert refused.status_code == 403
    assert "editor role" in refused.text
    assert (await engine.schedules.find("acme")).items == []
    [entry] = await audit_of(engine, "acme", "schedule")
    assert entry.result == "denied" and entry.actor.interface == "console"
    assert entry.verb == "create"
    kept = await engine.schedules.create("acme", {"workflow": workflow, "cron": "@daily"})
    assert (await viewer.post(f"/schedules/{kept.id}/delete")).status_code == 403
    assert [s.id for s in (await engine.schedules.find("acme")).items] == [kept.id]

    editor = await browser("acme", "editor")
    await editor.get("/schedules")
    editor.csrf = "forged"
    forged = await editor.post("/schedules", {"workflow": workflow, "cron": "0 9 * * *"})
    assert forged.status_code == 403
    assert [s.id for s in (await engine.schedules.find("acme")).items] == [kept.id]


# -- keys ---------------------------------------------------------------------------------------


async def test_the_keys_page_is_for_admins_only(engine: Engine, browser: BrowserFactory) -> None:
    before = len((await engine.keys.find("acme")).items)
    for role in ("viewer", "runner", "editor"):
        person = await browser("acme", role)
        page = await person.get("/keys")
        assert page.status_code == 403, role
        assert 'href="/keys"' not in page.text  # nor is it in the navigation
        posted = await person.post("/keys", {"role": "admin"})
        assert posted.status_code == 403
    # The three browsers' own keys, and no admin key made by a refused form.
    assert len((await engine.keys.find("acme")).items) == before + 3
    assert not any(k.role == "admin" for k in (await engine.keys.find("acme")).items)


async def test_an_admin_creates_a_key_shown_once_and_revokes_it(
    engine: Engine, browser: BrowserFactory
) -> None:
    admin = await browser("acme", "admin")
    await admin.get("/keys")
    created = await admin.post("/keys", {"role": "runner", "user": "erin"})
    assert created.status_code == 201
    found = re.search(r'<code class="shown" id="new-key">([^<]+)</code>', created.text)
    assert found, created.text
    key = found.group(1)
    assert "only time the key is shown" in created.text
    assert (await engine.keys.authenticate(key)) is not None
    listed = await admin.get("/keys")
    assert key not in listed.text  # shown that once
    new = next(k for k in (await engine.keys.find("acme")).items if k.user == "erin")
    row = section(listed.text, f"key-{new.id}")
    assert "runner" in row and "erin" in row and "data-confirm" in row

    # A key made here signs in with its role.
    erin = await browser(key=key)
    assert "erin · runner" in (await erin.get("/")).text

    revoked = await admin.post(f"/keys/{new.id}/revoke")
    assert "The key was revoked" in revoked.text
    assert (await engine.keys.authenticate(key)) is None
    assert "status-revoked" in section(revoked.text, f"key-{new.id}")
    assert (await erin.get("/schedules")).url.path == "/login"
    entries = await audit_of(engine, "acme", "key")
    assert [(e.verb, e.actor.interface) for e in entries[:2]] == [
        ("revoke", "console"), ("create", "console"),
    ]  # fmt: skip

    invalid = await admin.post("/keys", {"role": "overlord"})
    assert invalid.status_code == 422 and 'id="e-role"' in invalid.text


async def test_revoking_the_key_of_ones_own_session_ends_the_session(
    engine: Engine, browser: BrowserFactory
) -> None:
    key = await engine.keys.create("acme", "admin", user="ada")
    admin = await browser(key=key.key)
    page = await admin.get("/keys")
    assert "this session" in section(page.text, f"key-{key.id}")
    answer = await admin.post(f"/keys/{key.id}/revoke")
    assert answer.url.path == "/login"  # the redirect to /keys found no session
    assert 'name="key"' in answer.text
    again = await admin.client.get("/keys", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    [entry] = [e for e in await audit_of(engine, "acme", "key") if e.verb == "revoke"]
    assert entry.resource.id == key.id and entry.actor.name == "ada"


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("sealing")
async def test_a_secrets_value_never_appears_in_any_response(
    engine: Engine, browser: BrowserFactory
) -> None:
    value = "s3cr3t-Value-7f2c9a"
    admin = await browser("acme", "admin")
    empty = await admin.get("/secrets")
    assert 'id="secrets-empty"' in empty.text and "plait secrets set" in empty.text
    answers = [await admin.post("/secrets", {"name": "STRIPE_KEY", "value": value})]
    assert answers[0].status_code == 200 and "STRIPE_KEY" in answers[0].text
    assert 'type="password"' in answers[0].text
    [secret] = (await engine.secrets.find("acme")).items
    assert secret.name == "STRIPE_KEY"
    # A bad name sends the form back with its problem, and without the value.
    answers.append(await admin.post("/secrets", {"name": "not a name!", "value": value}))
    assert answers[-1].status_code == 422 and 'id="e-name"' in answers[-1].text
    answers.append(await admin.post("/secrets", {"name": "EMPTY", "value": ""}))
    assert answers[-1].status_code == 422 and 'id="e-value"' in answers[-1].text
    trail = await admin.get("/audit?type=secret")
    answers += [await admin.get("/secrets"), trail, await admin.get("/")]
    assert "STRIPE_KEY" in trail.text and "console" in trail.text
    for answer in answers:
        assert value not in answer.text

    editor = await browser("acme", "editor")
    assert (await editor.get("/secrets")).status_code == 403
    assert (await editor.post("/secrets/STRIPE_KEY/delete")).status_code == 403
    assert [s.name for s in (await engine.secrets.find("acme")).items] == ["STRIPE_KEY"]
    deleted = await admin.post("/secrets/STRIPE_KEY/delete")
    assert "The secret was deleted." in deleted.text
    assert (await engine.secrets.find("acme")).items == []


async def test_a_secret_without_an_encryption_key_is_refused_on_the_form(
    engine: Engine, browser: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    admin = await browser("acme", "admin")
    await admin.get("/secrets")
    refused = await admin.post("/secrets", {"name": "TOKEN", "value": "abc"})
    assert refused.status_code == 422
    assert SECRET_KEY_ENV in refused.text and "abc" not in refused.text
    assert (await engine.secrets.find("acme")).items == []


# -- webhooks -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("sealing")
async def test_a_webhook_is_created_with_its_secret_shown_once_and_lists_its_deliveries(
    engine: Engine, browser: BrowserFactory
) -> None:
    viewer = await browser("acme", "viewer")
    empty = await viewer.get("/webhooks")
    assert 'id="webhooks-empty"' in empty.text and 'id="webhook-form"' not in empty.text
    refused = await viewer.post("/webhooks", {"name": "pay", "eventType": "Payment.received"})
    assert refused.status_code == 403
    assert (await engine.webhooks.find("acme")).items == []

    admin = await browser("acme", "admin")
    await admin.get("/webhooks")
    fields = {"name": "pay", "scheme": "hmac-sha256", "eventType": "Payment.received", "secret": ""}
    created = await admin.post("/webhooks", fields)
    assert created.status_code == 201
    found = re.search(r'<code class="shown" id="webhook-secret">([^<]+)</code>', created.text)
    assert found
    secret = found.group(1)
    assert len(secret) >= 32 and "shown this once" in created.text
    assert "/~acme/webhooks/pay" in created.text

    body = orjson.dumps({"amount": 12})
    headers = {"content-type": "application/json",
               **sign("hmac-sha256", secret, body, timestamp=None)}  # fmt: skip
    delivered = await admin.client.post("/~acme/webhooks/pay", content=body, headers=headers)
    assert delivered.status_code == 202, delivered.text
    event_id = delivered.json()["$id"]

    listed = await viewer.get("/webhooks")
    row = section(listed.text, "webhook-pay")
    assert "POST http://plait.test/~acme/webhooks/pay" in row
    assert "Payment.received" in row and event_id in row
    assert secret not in listed.text
    assert "/delete" not in listed.text  # a viewer sees no delete button

    duplicate = await admin.post(
        "/webhooks", {"name": "pay", "eventType": "X.y", "secret": "k" * 40}
    )
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    assert "k" * 40 not in duplicate.text
    bad = await admin.post("/webhooks", {"name": "Bad Name", "eventType": "X.y"})
    assert bad.status_code == 422 and 'id="e-name"' in bad.text

    deleted = await admin.post("/webhooks/pay/delete")
    assert "The webhook was deleted" in deleted.text
    assert (await engine.webhooks.find("acme")).items == []
    entries = await audit_of(engine, "acme", "webhook")
    assert [(e.verb, e.result, e.actor.interface) for e in entries] == [
        ("delete", "ok", "console"), ("create", "failed", "console"),
        ("create", "failed", "console"), ("create", "ok", "console"),
        ("create", "denied", "console"),
    ]  # fmt: skip


# -- state machines -----------------------------------------------------------------------------


async def test_state_machine_instances_with_their_state_history_and_a_sent_event(
    engine: Engine, browser: BrowserFactory
) -> None:
    with_actions(engine, [])
    await engine.start_worker()
    created = await engine.workflows.create("acme", order_machine())
    await engine.workflows.activate("acme", created.id)
    await welcome(engine)  # not a state machine: not listed
    await engine.machines.send("acme", created.name, "o-1", "Order.submitted",
                               {"orderId": "o-1", "items": ITEMS})  # fmt: skip

    async def in_state(key: str, state: str) -> bool:
        shown = await engine.machines.get("acme", created.name, key)
        return shown.state == state and shown.status == "waiting"

    await assert_eventually(lambda: in_state("o-1", "pending"), timeout=20)
    viewer = await browser("acme", "viewer")  # signed in after the Python calls above
    listing = await viewer.get("/machines")
    assert "Welcome customer" not in listing.text
    row = section(listing.text, "instances")
    assert "o-1" in row and "<strong>pending</strong>" in row
    page = await viewer.get(f"/machines/{created.name}/o-1")
    assert 'id="current-state">pending<' in page.text
    assert f'href="/workflows/{created.id}?instance=o-1"' in page.text
    history = section(page.text, "history")
    assert "draft" in history and "pending" in history and "submit" in history
    assert "<time datetime=" in history  # shown in the viewer's time zone
    assert 'id="send-form"' not in page.text  # a viewer may not send
    refused = await viewer.post(f"/machines/{created.name}/send", {"key": "o-1", "type": "pay"})
    assert refused.status_code == 403

    runner = await browser("acme", "runner")
    form = await runner.get(f"/machines/{created.name}/o-1")
    assert 'id="send-form"' in form.text and '<option value="pay">' in form.text
    not_json = await runner.post(f"/machines/{created.name}/send",
                                {"key": "o-1", "type": "pay", "data": "{"})  # fmt: skip
    assert not_json.status_code == 422 and 'id="e-data"' in not_json.text
    sent = await runner.post(f"/machines/{created.name}/send", {
        "key": "o-1", "type": "pay", "data": '{"amount": 12}', "id": "evt-pay"})  # fmt: skip
    assert "The event was delivered" in sent.text
    await assert_eventually(lambda: in_state("o-1", "processing"), timeout=20)
    after = await runner.get(f"/machines/{created.name}/o-1")
    assert 'id="current-state">processing<' in after.text
    assert "evt-pay" in section(after.text, "history")
    sends = (await engine.audit.list("acme", verb="send")).items
    assert [(e.resource.id, e.actor.role, e.actor.interface, e.result) for e in sends] == [
        (f"{created.name}/o-1", "runner", "console", "ok"),
        (created.name, "viewer", "console", "denied"),
    ]  # fmt: skip


# -- the audit trail ----------------------------------------------------------------------------


async def test_the_audit_page_filters_in_the_query_string_and_pages_by_keyset(
    engine: Engine, browser: BrowserFactory
) -> None:
    for n in range(55):
        await engine.keys.create("acme", "viewer", user=f"u{n}")
    await welcome(engine)
    await engine.keys.create("globex", "viewer", user="elsewhere")
    admin = await browser("acme", "admin")
    first = await admin.get("/audit?type=key")
    assert first.status_code == 200
    shown = re.findall(r'<tr id="entry-([^"]+)"', first.text)
    assert len(shown) == 50
    assert "elsewhere" not in first.text  # another organization's trail
    more = re.search(r'href="\?([^"]*cursor=[^"]+)"', first.text)
    assert more and "type=key" in more.group(1)
    second = await admin.get("/audit?" + more.group(1).replace("&amp;", "&"))
    rest = re.findall(r'<tr id="entry-([^"]+)"', second.text)
    assert len(rest) == 6 and not set(rest) & set(shown)  # 55 keys and the admin's own
    newest = (await engine.audit.list("acme", type="key", limit=1)).items[0]
    assert shown[0] == newest.id

    activated = await admin.get("/audit?verb=activate")
    rows = re.findall(r'<tr id="entry-([^"]+)"', activated.text)
    assert len(rows) == 1 and "/workflows/" in activated.text
    assert 'value="activate"' in activated.text  # the filter stays in the form
    nothing = await admin.get("/audit?actor=nobody")
    assert 'id="audit-empty"' in nothing.text and "No entries match" in nothing.text
    bad = await admin.get("/audit?since=yesterday")
    assert bad.status_code == 422 and 'id="e-since"' in bad.text and "ISO 8601" in bad.text
    window = await admin.get("/audit?since=2000-01-01T00:00&until=2000-01-02T00:00")
    assert window.status_code == 200 and "No entries match" in window.text

    editor = await browser("acme", "editor")
    assert (await editor.get("/audit")).status_code == 403


async def test_every_admin_page_has_captions_and_csrf_on_every_form(
    engine: Engine, browser: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())
    workflow = await welcome(engine)
    await engine.schedules.create("acme", {"workflow": workflow, "cron": "@daily"})
    await engine.webhooks.create("acme", {"name": "w", "secret": "x" * 32, "eventType": "A.b"})
    await engine.secrets.set("acme", "TOKEN", "hidden-value-1")
    admin = await browser("acme", "admin")
    assert 'id="machines-empty"' in (await admin.get("/machines")).text
    for path in ("/schedules", "/webhooks", "/keys", "/secrets", "/audit"):
        page = await admin.get(path)
        assert page.status_code == 200, path
        assert "<caption" in page.text, path
        forms = re.findall(r'<form method="post"[^>]*>(.*?)</form>', page.text, re.S)
        assert forms, path
        for body in forms:
            assert f'name="csrf" value="{admin.csrf}"' in body, path
        for label in re.findall(r'<input type="(?:text|password)" id="([^"]+)"', page.text):
            assert f'<label for="{label}">' in page.text, (path, label)
    assert "hidden-value-1" not in (await admin.get("/secrets")).text
