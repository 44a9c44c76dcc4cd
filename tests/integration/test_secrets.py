"""Secrets through the Python API on each backend: ``ctx.secret`` in code workflows (read when
called, never recorded), limits, and key rotation (secrets and webhook signing secrets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from plait import Context, Engine
from plait.errors import (
    InvalidText,
    LimitExceeded,
    SecretInvalid,
    SecretNotFound,
    StepFailed,
    WorkflowFailed,
)
from plait.sealing import SECRET_KEY_ENV, SecretKeyMissing, SecretUnreadable, generate_key
from plait.service.signatures import sign

SECRET = 'pw-Zq7!x"quoted"-ü'  # quotes and non-ASCII: its JSON form differs from its text


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    made = generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, made)
    return made


def leaking(engine: Engine) -> None:
    """A code workflow that reads TOKEN, returns it from a step, fails a step with it in the
    message, emits it in an event, and returns it."""

    def fail_with(text: str) -> Callable[[], Any]:
        def boom() -> Any:
            raise RuntimeError(f"the server refused {text}")

        return boom

    @engine.workflow("leaky")
    async def leaky(ctx: Context) -> dict[str, Any]:
        token = await ctx.secret("TOKEN")
        header = await ctx.step("header", lambda: {"Authorization": f"Bearer {token}"})
        try:
            await ctx.step("refused", fail_with(token))
        except StepFailed as exc:
            failure = str(exc)
        await ctx.step("tell", emit_event, ctx.org, token)
        return {"token": token, "sent": header["Authorization"], "failure": failure}

    async def emit_event(org: str, token: str) -> None:
        await engine.events.emit(org, "Token.used", {"token": token}, source="test")
        await engine.events.emit(org, f"Token.{token}", id=f"id-{token}", source="test")


async def test_ctx_secret_reads_the_value_and_the_run_records_only_its_marker(
    make_engine: Callable[..., Engine], key: str
) -> None:
    engine = make_engine()
    leaking(engine)
    await engine.secrets.set("default", "TOKEN", SECRET)
    async with engine:
        handle = await engine.start("leaky")
        result = await handle.result()
        run = await engine.handle(handle.id).info()
    assert result["token"] == "[secret:TOKEN]"
    assert result["sent"] == "Bearer [secret:TOKEN]"
    assert "the server refused [secret:TOKEN]" in result["failure"]
    steps = {s.key: s for s in run.steps}
    assert steps["header"].output == {"Authorization": "Bearer [secret:TOKEN]"}
    assert steps["refused"].error is not None
    assert steps["refused"].error["message"] == "the server refused [secret:TOKEN]"
    assert SECRET not in orjson.dumps(run.wire()).decode()
    [event] = (await engine.events.find("default", type="Token.used")).items
    assert event.data == {"token": "[secret:TOKEN]"}
    [named] = (await engine.events.find("default", type="Token.[secret:TOKEN]")).items
    assert named.id == "id-[secret:TOKEN]"


async def test_a_missing_secret_fails_the_run_naming_it(
    make_engine: Callable[..., Engine], key: str
) -> None:
    engine = make_engine()

    @engine.workflow("needs-secret")
    async def needs(ctx: Context) -> str:
        return await ctx.secret("STRIPE_KEY")

    async with engine:
        handle = await engine.start(needs)
        with pytest.raises(Exception, match="no secret 'STRIPE_KEY'"):
            await handle.result()


async def test_names_values_and_the_key_are_checked_before_anything_is_stored(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(max_secret_bytes=8)
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    with pytest.raises(SecretKeyMissing, match=SECRET_KEY_ENV):
        await engine.secrets.set("default", "TOKEN", "value")
    monkeypatch.setenv(SECRET_KEY_ENV, generate_key())
    with pytest.raises(LimitExceeded, match="9 bytes; the limit is 8 bytes .*max_secret_bytes"):
        await engine.secrets.set("default", "TOKEN", "123456789")
    with pytest.raises(InvalidText, match=r"\$\.body\.value: contains a lone surrogate"):
        await engine.secrets.set("default", "TOKEN", "a\ud800")
    with pytest.raises(InvalidText, match="NUL"):
        await engine.secrets.set("default", "TOKEN", "a\x00")
    with pytest.raises(SecretInvalid, match="is not a name"):
        await engine.secrets.set("default", "secrets.TOKEN", "v")
    assert (await engine.secrets.find("default")).items == []
    with pytest.raises(SecretNotFound):
        await engine.secrets.delete("default", "TOKEN")


async def test_organizations_do_not_see_each_others_secrets(
    make_engine: Callable[..., Engine], key: str
) -> None:
    engine = make_engine()
    created = await engine.secrets.set("acme", "TOKEN", "acme's")
    assert (created.created, created.secret.name) == (True, "TOKEN")
    replaced = await engine.secrets.set("acme", "TOKEN", "acme's, again")
    assert (replaced.created, replaced.secret.created_at) == (False, created.secret.created_at)
    assert await engine.secrets.get("acme", "TOKEN") == replaced.secret
    assert [s.name for s in (await engine.secrets.find("acme")).items] == ["TOKEN"]
    assert (await engine.secrets.find("globex")).items == []
    with pytest.raises(SecretNotFound, match="organization 'globex' has no secret 'TOKEN'"):
        await engine.secrets.get("globex", "TOKEN")


async def test_rotating_the_key_reseals_secrets_and_webhook_secrets(
    make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, old)
    engine = make_engine()
    leaking(engine)
    await engine.secrets.set("default", "TOKEN", SECRET)
    await engine.webhooks.create(
        "default", {"name": "crm", "secret": "whsec", "eventType": "Crm.x"}
    )
    store = await engine.deps.store()
    sealed_before = await store.sealed_secret("default", "TOKEN")

    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    counts = await engine.secrets.rotate()
    assert (counts.secrets, counts.webhook_secrets) == (1, 1)
    assert await store.sealed_secret("default", "TOKEN") != sealed_before

    monkeypatch.setenv(SECRET_KEY_ENV, new)  # the old key is gone: everything still opens
    body = b'{"id": 1}'
    headers = sign("hmac-sha256", "whsec", body, timestamp=None)
    received = await engine.webhooks.receive("default", "crm", headers, body)
    assert (await engine.events.get("default", received.id)).event_type == "Crm.x"
    async with engine:
        handle = await engine.start("leaky")
        assert (await handle.result())["token"] == "[secret:TOKEN]"
        assert (await engine.handle(handle.id).info()).status == "succeeded"

    monkeypatch.setenv(SECRET_KEY_ENV, old)  # and the old key alone no longer opens them
    with pytest.raises(SecretUnreadable):
        await engine.secrets.rotate()


async def test_definitions_read_a_secret_when_the_step_runs_not_when_saved(
    make_engine: Callable[..., Engine], key: str
) -> None:
    engine = make_engine()
    seen: list[str] = []

    @engine.action("capture")
    def capture(data: dict[str, str]) -> str:
        seen.append(data["auth"])
        return data["auth"]

    step = {"kind": "action", "id": "send", "action": "capture",
            "input": {"auth": "Bearer {{secrets.CRM_TOKEN}}"}}  # fmt: skip
    workflow = await engine.workflows.create(
        "acme", {"name": "crm", "dialect": "canonical", "steps": [step]}
    )  # saved before the secret exists: nothing is read yet
    await engine.secrets.set("acme", "CRM_TOKEN", "first-value")
    async with engine:
        for value in ("first-value", "second-value"):
            await engine.secrets.set("acme", "CRM_TOKEN", value)
            run = await engine.workflows.trigger("acme", workflow.id)
            done = await engine.handle(run.id, org=run.organization).result()
            assert done == {"send": "Bearer [secret:CRM_TOKEN]"}
    assert seen == ["Bearer first-value", "Bearer second-value"]


async def test_a_run_failing_with_a_secret_in_its_error_records_and_logs_the_marker(
    make_engine: Callable[..., Engine], key: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine()

    @engine.workflow("refused")
    async def refused(ctx: Context) -> None:
        token = await ctx.secret("TOKEN")
        raise PermissionError(f"the CRM refused {token}")

    await engine.secrets.set("default", "TOKEN", SECRET)
    async with engine:
        handle = await engine.start(refused)
        with pytest.raises(WorkflowFailed, match=r"refused \[secret:TOKEN\]"):
            await handle.result()
        run = await engine.handle(handle.id).info()
    assert run.error is not None and run.error["message"] == "the CRM refused [secret:TOKEN]"
    assert SECRET not in orjson.dumps(run.wire()).decode()
    logged = [r.getMessage() for r in caplog.records]
    assert any("refused [secret:TOKEN]" in line for line in logged)
    assert not [line for line in logged if SECRET in line]


async def test_no_log_line_of_a_run_holds_a_secret_whoever_writes_it(
    make_engine: Callable[..., Engine], key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Libraries log too (httpx logs every URL it requests, the secret URL-encoded in its
    URL): the filter every plait command installs redacts the run's secrets in any record,
    in its arguments and its traceback."""
    import logging
    from urllib.parse import quote

    from plait import logs

    engine = make_engine()

    @engine.workflow("noisy")
    async def noisy(ctx: Context) -> None:
        token = await ctx.secret("TOKEN")
        library = logging.getLogger("httpx")
        library.warning("HTTP Request: GET %s", f"https://crm.test/hooks/{quote(token)}?q=1")
        try:
            raise ConnectionError(f"refused {token}")
        except ConnectionError:
            library.exception("request failed")

    logs.install()
    await engine.secrets.set("default", "TOKEN", SECRET)
    async with engine:
        await (await engine.start(noisy)).result()
    lines = [caplog.handler.format(r) for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 2
    assert "/hooks/[secret:TOKEN]?q=1" in lines[0]
    assert "refused [secret:TOKEN]" in lines[1] and "Traceback" in lines[1]
    assert not [line for line in lines if SECRET in line or quote(SECRET) in line]
