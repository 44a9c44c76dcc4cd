"""A real SMTP server (aiosmtpd) on 127.0.0.1, on an ephemeral port, in the test's own event
loop: what plait's ``email`` action and schedule notifications send is received here and read
back as parsed messages."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from plait.testing import assert_eventually


@dataclass
class Received:
    """One message as the server received it: the envelope's recipients and the message."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())

    def html(self) -> str | None:
        part = self.message.get_body(("html",))
        return None if part is None else str(part.get_content())


@dataclass
class Mailbox:
    """The messages a test server received, in order, and its address."""

    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` messages, once they have arrived."""

        async def arrived() -> bool:
            return len(self.messages) >= count

        await assert_eventually(arrived, timeout=timeout)
        return self.messages[:count]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 OK"


@asynccontextmanager
async def smtp_server(login: tuple[str, str] | None = None) -> AsyncIterator[Mailbox]:
    """Serve SMTP on 127.0.0.1 until the block ends. With ``login`` the server requires that
    user and password (AUTH PLAIN/LOGIN, without TLS: a test server) and refuses others."""
    mailbox = Mailbox(port=0)

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and login is not None
        if ok:
            user, password = data.login.decode(), data.password.decode()
            mailbox.logins.append(user)
            ok = (user, password) == login
        return AuthResult(success=ok, handled=False)

    def protocol() -> SMTP:
        if login is None:
            return SMTP(mailbox, hostname="plait-test")
        with warnings.catch_warnings():  # AUTH without TLS: what a server on 127.0.0.1 may do
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(mailbox, hostname="plait-test", authenticator=authenticate,
                        auth_required=True, auth_require_tls=False)  # fmt: skip

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0)
    mailbox.port = server.sockets[0].getsockname()[1]
    try:
        yield mailbox
    finally:
        server.close()
        await server.wait_closed()
