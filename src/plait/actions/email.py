"""The ``email`` action: send a message over SMTP (aiosmtplib), to the server of
``PLAIT_SMTP_URL`` from ``PLAIT_SMTP_FROM``.

Input: ``{to, subject, body, cc?, html?}``; ``to`` and ``cc`` are an address or a list of them,
``body`` is the plain text, ``html`` an optional HTML alternative. It returns
``{to, cc, subject, messageId, refused}`` (``refused``: the recipients the server refused while
it took the message for the others, with its answer).

Failures say what went wrong and where (``host:port``), never with the password. A failure that
may pass (a refused or lost connection, a timeout, a 4xx answer) is an :class:`EmailFailed`,
retried under the step's retry policy; one that will not (a refused login, a 5xx answer, a bad
address, no server configured) is an :class:`EmailRefused` (``retryable = False``), which fails
the step at once.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from plait.actions.base import ActionError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from plait.actions.base import ActionContext
    from plait.settings import Settings

_OPTIONS = frozenset({"to", "cc", "subject", "body", "html"})
_TIMEOUT = 30.0
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class EmailFailed(ActionError):
    """Sending an email failed in a way that may pass: retried under the step's policy."""

    retryable = True


class EmailRefused(ActionError):
    """Sending an email was refused in a way that will not pass: never retried."""

    retryable = False


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes and how to log in (from ``PLAIT_SMTP_URL``; the password is never shown)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool | None = None
    """``True``: required; ``False``: never; ``None``: when the server offers it."""
    timeout: float = _TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Mail:
    """One message: recipients, subject, plain text and an optional HTML alternative."""

    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    html: str | None = None


@dataclass(frozen=True)
class Sent:
    """A message the server accepted: its ``Message-ID``, and the recipients it refused."""

    message_id: str
    refused: dict[str, str] = field(default_factory=dict)


def smtp_server(settings: Settings) -> SmtpServer | None:
    """The server of ``settings.smtp_url`` (checked by ``Settings.validate``), or ``None``."""
    if not settings.smtp_url:
        return None
    parts = urlsplit(settings.smtp_url)
    implicit = parts.scheme == "smtps"
    username = unquote(parts.username) if parts.username else None
    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls")
    return SmtpServer(
        host=parts.hostname or "", port=parts.port or (465 if implicit else 25),
        sender=settings.smtp_from or username or "", username=username,
        password=unquote(parts.password) if parts.password else None, implicit_tls=implicit,
        starttls=True if starttls in _TRUE else False if starttls in _FALSE else None,
    )  # fmt: skip


async def email(input: Any, ctx: ActionContext) -> dict[str, Any]:
    """Send the message of ``input`` (``{to, subject, body, cc?, html?}``) over SMTP."""
    mail = read_mail(input)
    server = ctx.clients.get("smtp")
    if not isinstance(server, SmtpServer):
        raise EmailRefused("email: no SMTP server is configured: set PLAIT_SMTP_URL")
    sent = await send_mail(server, mail)
    return {"to": list(mail.to), "cc": list(mail.cc), "subject": mail.subject,
            "messageId": sent.message_id, "refused": sent.refused}  # fmt: skip


def read_mail(input: Any) -> Mail:
    """Check the action's input; a bad one is refused, naming the field."""
    if not isinstance(input, Mapping):
        raise EmailRefused(f"email: input must be an object, got {type(input).__name__}")
    unknown = sorted(set(input) - _OPTIONS)
    if unknown:
        raise EmailRefused(f"email: unknown option(s) {', '.join(map(repr, unknown))} "
                           f"(known: {', '.join(sorted(_OPTIONS))})")  # fmt: skip
    to = addresses(input.get("to"), "to")
    if not to:
        raise EmailRefused("email: 'to' must name at least one address")
    subject, body, html = (_text(input, key) for key in ("subject", "body", "html"))
    if subject is None or body is None:
        raise EmailRefused("email: 'subject' and 'body' are required strings")
    if "\n" in subject or "\r" in subject:
        raise EmailRefused("email: 'subject' must be one line")
    return Mail(to, subject, body, addresses(input.get("cc"), "cc"), html)


def addresses(value: Any, name: str) -> tuple[str, ...]:
    """An address or a list of them, each checked (``user@host``, one line, no spaces)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise EmailRefused(f"email: '{name}' must be an address or a list of addresses")
    for i, item in enumerate(items):
        local, _, domain = item.rpartition("@") if isinstance(item, str) else ("", "", "")
        if not local or not domain or any(c.isspace() or c in "<>,;" for c in item):
            raise EmailRefused(f"email: '{name}[{i}]' is not an email address: {item!r}")
    return tuple(items)


def _text(input: Mapping[str, Any], key: str) -> str | None:
    value = input.get(key)
    if value is not None and not isinstance(value, str):
        raise EmailRefused(f"email: '{key}' must be a string, not {type(value).__name__}")
    return value


def message_of(server: SmtpServer, mail: Mail) -> EmailMessage:
    """The MIME message: plain text, with an HTML alternative when given."""
    from email.message import EmailMessage  # loaded when a message is sent
    from email.utils import make_msgid

    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=server.sender.rpartition("@")[2] or None)
    message.set_content(mail.body)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


async def send_mail(server: SmtpServer, mail: Mail) -> Sent:
    """Send ``mail`` through ``server``; return its ``Message-ID`` and the recipients the
    server refused while it accepted the others (the message went to those).

    Raises:
        EmailFailed: the server could not be reached, timed out, hung up, or answered 4xx.
        EmailRefused: the server refused the login, a recipient or the message (5xx), or TLS
            could not be set up.
    """
    import aiosmtplib  # loaded on first use

    if not server.sender:
        raise EmailRefused("email: no sender address: set PLAIT_SMTP_FROM")
    message = message_of(server, mail)
    try:
        refused, _ = await aiosmtplib.send(
            message, hostname=server.host, port=server.port, username=server.username,
            password=server.password, use_tls=server.implicit_tls, start_tls=server.starttls,
            timeout=server.timeout,
        )  # fmt: skip
    except Exception as exc:
        raise smtp_error(server, exc) from exc
    said = {to: f"{answer.code} {answer.message}" for to, answer in refused.items()}
    return Sent(str(message["Message-ID"]), said)


def smtp_error(server: SmtpServer, exc: BaseException) -> ActionError:
    """The action's error for what aiosmtplib (or the network) raised."""
    import aiosmtplib

    where = f"SMTP server {server.where}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        user = f" of user {server.username!r}" if server.username else ""
        return EmailRefused(f"email: {where} refused the login{user}: {_said(exc)}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{e.recipient} ({_said(e)})" for e in exc.recipients)
        permanent = all(e.code >= 500 for e in exc.recipients)
        kind = EmailRefused if permanent else EmailFailed
        return kind(f"email: {where} refused the recipient(s) {refused}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return EmailFailed(f"email: {where} timed out after {server.timeout:g}s")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return EmailFailed(f"email: {where} hung up: {_said(exc)}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionError):
        return EmailFailed(f"email: cannot connect to {where}: {_said(exc)}")
    if isinstance(exc, ssl.SSLError | aiosmtplib.SMTPNotSupported):
        return EmailRefused(f"email: TLS with {where} failed: {_said(exc)}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        kind = EmailRefused if exc.code >= 500 else EmailFailed
        return kind(f"email: {where} answered {exc.code}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return EmailFailed(f"email: sending through {where} failed: {_said(exc)}")
    return EmailFailed(f"email: sending through {where} failed: {type(exc).__name__}: {exc}")


def _said(exc: BaseException) -> str:
    """What an SMTP error says: the server's code and text, or the exception's message."""
    code, text = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, int) and code > 0 and text:
        return f"{code} {text}"
    return str(exc) or type(exc).__name__
