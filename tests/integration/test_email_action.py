"""The built-in ``email`` action in a definition step, sending to a real SMTP server on
127.0.0.1 (aiosmtpd, an ephemeral port): what arrives, logins, and the errors a step sees."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from plait import Engine
from plait.errors import ConfigurationError
from plait.resources.reports import RunReport
from plait.settings import Settings
from plait.testing import VirtualClock
from tests.mailbox import smtp_server

MakeEngine = Callable[..., Engine]
QUIET = {"poll_seconds": 10**6, "lease_seconds": 10**7, "heartbeat_seconds": 10**6}

MAIL = {
    "to": ["ada@example.test", "bob@example.test"],
    "cc": "carol@example.test",
    "subject": "Welcome, {{ input.name }}",
    "body": "Hello {{ input.name }}, your plan is {{ input.plan }}.",
    "html": "<p>Hello <b>{{ input.name }}</b></p>",
}


def mail_step(input: Any, **extra: Any) -> dict[str, Any]:
    return {"kind": "action", "id": "mail", "action": "email", "input": input, **extra}


async def run(engine: Engine, clock: VirtualClock, step: dict[str, Any]) -> dict[str, Any]:
    """Run a one-step definition to its end; its report."""
    workflow = engine.define({"name": "mailer", "dialect": "canonical", "steps": [step]})
    async with engine:
        handle = await engine.start(workflow, {"name": "Ada", "plan": "pro"})

        async def finish() -> None:
            try:
                await handle.result()
            except Exception:
                return

        await clock.run_skipping(finish())
        return RunReport.of(await engine.handle(handle.id).info()).wire()


async def test_a_step_sends_the_mail_it_renders(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    async with smtp_server() as mailbox:
        engine = make_engine(clock=clock, smtp_url=mailbox.url, smtp_from="plait@example.test",
                             **QUIET)  # fmt: skip
        report = await run(engine, clock, mail_step(MAIL))
        assert report["status"] == "succeeded", report
        [received] = await mailbox.wait_for(1)
    assert received.sender == "plait@example.test"
    assert received.recipients == ["ada@example.test", "bob@example.test", "carol@example.test"]
    assert received.message["To"] == "ada@example.test, bob@example.test"
    assert received.message["Cc"] == "carol@example.test"
    assert received.subject == "Welcome, Ada"
    assert received.text().strip() == "Hello Ada, your plan is pro."
    assert received.html() is not None and "<b>Ada</b>" in received.html()  # type: ignore[operator]
    output = report["output"]["mail"]
    assert output["messageId"] == received.message["Message-ID"]
    assert output["to"] == MAIL["to"] and output["cc"] == ["carol@example.test"]
    assert output["refused"] == {}


async def test_the_url_logs_in_and_its_password_is_never_shown(
    make_engine: MakeEngine, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with smtp_server(login=("ada", "s3cret pass")) as mailbox:
        url = f"smtp://ada:s3cret%20pass@127.0.0.1:{mailbox.port}"
        engine = make_engine(clock=clock, smtp_url=url, smtp_from="ada@example.test", **QUIET)
        report = await run(engine, clock, mail_step({"to": "x@example.test", "subject": "s",
                                                     "body": "b"}))  # fmt: skip
        assert report["status"] == "succeeded", report
        assert [m.recipients for m in await mailbox.wait_for(1)] == [["x@example.test"]]
        assert mailbox.logins == ["ada"]
        assert "s3cret" not in repr(engine.settings) and "s3cret" not in repr(engine)
    assert "s3cret" not in caplog.text


async def test_a_refused_login_fails_the_step_at_once_naming_the_user(
    make_engine: MakeEngine, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with smtp_server(login=("ada", "right")) as mailbox:
        url = f"smtp://ada:wrong-password@127.0.0.1:{mailbox.port}"
        engine = make_engine(clock=clock, smtp_url=url, smtp_from="ada@example.test", **QUIET)
        step = mail_step({"to": "x@example.test", "subject": "s", "body": "b"},
                         retry={"max_attempts": 3, "initial_delay": 1})  # fmt: skip
        report = await run(engine, clock, step)
    assert report["status"] == "failed"
    error = report["steps"]["mail"]["error"]
    assert error["type"] == "plait.actions.email.EmailRefused"
    assert error["message"].startswith(
        f"email: SMTP server 127.0.0.1:{mailbox.port} refused the login of user 'ada': 535"
    )
    assert report["steps"]["mail"]["attempts"] == 1  # a refused login is not retried
    assert mailbox.logins and set(mailbox.logins) == {"ada"}  # (each mechanism it offers)
    assert mailbox.messages == []
    assert "wrong-password" not in str(report) and "wrong-password" not in caplog.text


async def test_a_refused_connection_names_host_and_port_and_is_retried(
    make_engine: MakeEngine, clock: VirtualClock
) -> None:
    async with smtp_server() as closed:
        port = closed.port  # the server is gone once the block ends: nothing listens there
    engine = make_engine(clock=clock, smtp_url=f"smtp://127.0.0.1:{port}",
                         smtp_from="plait@example.test", **QUIET)  # fmt: skip
    step = mail_step({"to": "x@example.test", "subject": "s", "body": "b"},
                     retry={"max_attempts": 3, "initial_delay": 1})  # fmt: skip
    report = await run(engine, clock, step)
    assert report["status"] == "failed"
    mail = report["steps"]["mail"]
    assert mail["attempts"] == 3
    assert mail["error"]["type"] == "plait.actions.email.EmailFailed"
    assert mail["error"]["message"].startswith(f"email: cannot connect to SMTP server "
                                               f"127.0.0.1:{port}: ")  # fmt: skip


@pytest.mark.parametrize(
    ("input", "message"),
    [
        ({"to": [], "subject": "s", "body": "b"}, "email: 'to' must name at least one address"),
        ({"to": "not an address", "subject": "s", "body": "b"},
         "email: 'to[0]' is not an email address: 'not an address'"),
        ({"to": "a@x.test", "subject": "two\nlines", "body": "b"},
         "email: 'subject' must be one line"),
        ({"to": "a@x.test", "subject": "s"}, "email: 'subject' and 'body' are required strings"),
        ({"to": "a@x.test", "subject": "s", "body": "b", "bcc": "z@x.test"},
         "email: unknown option(s) 'bcc' (known: body, cc, html, subject, to)"),
    ],
)  # fmt: skip
async def test_bad_input_fails_the_step_naming_the_field(
    make_engine: MakeEngine, clock: VirtualClock, input: dict[str, Any], message: str
) -> None:
    async with smtp_server() as mailbox:
        engine = make_engine(clock=clock, smtp_url=mailbox.url, smtp_from="p@example.test",
                             **QUIET)  # fmt: skip
        report = await run(engine, clock, mail_step(input, retry={"max_attempts": 3}))
    mail = report["steps"]["mail"]
    assert (mail["error"]["message"], mail["attempts"]) == (message, 1)
    assert mailbox.messages == []


async def test_without_an_smtp_url_the_step_says_what_to_set(
    make_engine: MakeEngine, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLAIT_SMTP_URL", raising=False)
    engine = make_engine(clock=clock, **QUIET)
    report = await run(engine, clock, mail_step({"to": "a@x.test", "subject": "s", "body": "b"}))
    error = report["steps"]["mail"]["error"]
    assert error["message"] == "email: no SMTP server is configured: set PLAIT_SMTP_URL"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"smtp_url": "http://mail.example.test"}, "smtp_url must be smtp://"),
        ({"smtp_url": "smtp://mail.example.test:notaport", "smtp_from": "a@b.test"},
         "smtp_url is not a valid URL (PLAIT_SMTP_URL)"),
        ({"smtp_url": "smtp://mail.example.test"}, "smtp_from must be set"),
    ],
)  # fmt: skip
def test_settings_refuse_an_unusable_smtp_url(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Settings.load(**settings)


def test_the_sender_defaults_to_a_user_name_that_is_an_address() -> None:
    from plait.actions.email import smtp_server as server_of

    settings = Settings.load(smtp_url="smtps://ada%40example.test:pw@mail.example.test?starttls=no")
    server = server_of(settings)
    assert server is not None
    assert (server.sender, server.port, server.implicit_tls) == ("ada@example.test", 465, True)
    assert "pw" not in repr(server)
