"""Who is looking at the console: a session made from an API key.

Signing in exchanges an API key for a cookie that holds the key's *id* (never the key), the
organization, and this session's CSRF token, signed with itsdangerous (HMAC-SHA256) and dated,
so it expires after ``console_session_hours``. The cookie is ``HttpOnly`` (no script reads it),
``SameSite=Lax`` (no other site's form posts it) and ``Secure`` when the page came over HTTPS.
Every request checks that the key is still live, so revoking a key ends its sessions at once;
its role, read from the key, decides what each page offers and what each form may do.

CSRF: every form carries the session's token (a hidden ``csrf`` field; htmx requests send it as
the ``X-CSRF-Token`` header, from the page's ``<meta name="csrf-token">``), and a change whose
token does not match is refused, as is one whose ``Origin`` names another site. The sign-in
form, sent before any session exists, is protected the same way by a short-lived signed
pre-session cookie (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from plait.engine import Engine
from plait.resources.keys import Role
from plait.sealing import SECRET_KEY_ENV
from plait.service.audit import Actor, bind
from plait.service.keys import allows

log = logging.getLogger(__name__)

COOKIE = "plait_session"
LOGIN_COOKIE = "plait_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOGIN_SECONDS = 3600
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInNeeded(Exception):
    """No live session: the page sends the browser to the sign-in form."""


class Refused(Exception):
    """The session may not do this (its role is too low, or the form's token is wrong)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in console user: the organization, the key (id, role, person) and the token
    every form of this session carries."""

    org: str
    key_id: str
    role: str
    user: str | None
    csrf: str

    def can(self, role: Role) -> bool:
        """Whether this session's key has ``role`` or above (pages show only what it may do)."""
        return allows(self.role, role)

    @property
    def who(self) -> str:
        return self.user or self.key_id


class Sessions:
    """Issue and read the signed session cookies of one console."""

    def __init__(self, engine: Engine) -> None:
        settings = engine.settings
        self.engine = engine
        self.max_age = int(settings.console_session_hours * 3600)
        secret = _secret(settings.console_secret)
        self._cookie = URLSafeTimedSerializer(secret, salt="plait.console.session")
        self._login = URLSafeTimedSerializer(secret, salt="plait.console.login")

    # -- the session cookie ----------------------------------------------------------------

    def issue(self, response: Response, request: Request, org: str, key_id: str) -> None:
        """Set the session cookie of a key just verified, with a fresh CSRF token."""
        value = self._cookie.dumps({"o": org, "k": key_id, "c": secrets.token_urlsafe(24)})
        response.set_cookie(COOKIE, value, max_age=self.max_age, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE, path="/")

    def end(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    async def current(self, request: Request) -> Session | None:
        """The request's live session, or None (no cookie, a bad or old signature, or a key
        revoked since)."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: dict[str, Any] = self._cookie.loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        key = await self.engine.keys.live(str(data.get("k", "")))
        if key is None or key.organization != data.get("o"):
            return None
        session = Session(key.organization, key.id, key.role, key.user, str(data["c"]))
        address = request.client.host if request.client else None
        bind(Actor.of_key(key.id, key.role, key.user, interface="console", address=address))
        return session

    # -- the sign-in form's pre-session token ----------------------------------------------

    def login_token(self, request: Request) -> tuple[str, str | None]:
        """The sign-in form's token, and the cookie value to set if the browser has none."""
        raw = request.cookies.get(LOGIN_COOKIE)
        if raw:
            try:
                token: str = self._login.loads(raw, max_age=LOGIN_SECONDS)
                return token, None
            except BadSignature:
                log.debug("a stale sign-in token was replaced")
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def set_login_cookie(self, response: Response, request: Request, value: str) -> None:
        response.set_cookie(LOGIN_COOKIE, value, max_age=LOGIN_SECONDS, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https",
                            path="/")  # fmt: skip

    def check_login_token(self, request: Request, sent: str | None) -> None:
        """Refuse a sign-in whose form token does not match the browser's cookie."""
        raw = request.cookies.get(LOGIN_COOKIE, "")
        try:
            expected: str = self._login.loads(raw, max_age=LOGIN_SECONDS)
        except BadSignature:
            raise Refused("The sign-in form expired; load it again.", 400) from None
        if not sent or not hmac.compare_digest(expected, sent):
            raise Refused("The sign-in form expired; load it again.", 400)
        check_origin(request)


def check_change(request: Request, session: Session, sent: str | None) -> None:
    """Refuse a change (any method but GET/HEAD) without this session's CSRF token, or sent
    from another site's page."""
    if request.method in _SAFE_METHODS:
        return
    token = sent or request.headers.get(CSRF_HEADER)
    if not token or not hmac.compare_digest(token, session.csrf):
        raise Refused("This form has expired or did not come from this console; reload the "
                      "page and try again.")  # fmt: skip
    check_origin(request)


def check_origin(request: Request) -> None:
    """Refuse a change whose ``Origin`` (when the browser sends one) is another site: neither
    the ``Host`` the request came to nor the ``X-Forwarded-Host`` a proxy set."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    # Behind a reverse proxy the Host may be the upstream's: the proxy's X-Forwarded-Host names
    # the address the browser used (a page of another site cannot make a browser send it).
    hosts = {request.headers.get("host", request.url.netloc)}
    hosts.update(h.strip() for h in request.headers.get("x-forwarded-host", "").split(",") if h)
    if urlsplit(origin).netloc not in hosts:
        raise Refused("This change was sent from another site's page and was refused.")


def _secret(configured: str) -> bytes:
    """The signing key: the setting, else one derived from the sealing key, else random (with
    a warning, as sessions then end when the process does and are not shared by servers)."""
    if configured:
        return configured.encode()
    sealing = os.environ.get(SECRET_KEY_ENV, "").split(",")[0].strip()
    if sealing:
        return hmac.new(sealing.encode(), b"plait console sessions", hashlib.sha256).digest()
    log.info("PLAIT_CONSOLE_SECRET is not set: console sessions last while this process does")
    return secrets.token_bytes(32)
