"""Webhook signatures: verify that a request was signed with a webhook's secret, and sign one
as a sender would (for tests and for clients).

Every scheme is an HMAC-SHA256 keyed with the webhook's secret (its UTF-8 bytes), sent as 64 hex
digits (either case) and compared in constant time:

``hmac-sha256`` (generic)
    ``X-Signature-256: sha256=<hex>``; ``X-Signature`` is read when ``X-Signature-256`` is
    absent, and the ``sha256=`` prefix may be left out. Without a timestamp the signed payload
    is the raw body. With ``X-Signature-Timestamp: <unix seconds>`` (digits only) the signed
    payload is the header's digits, a dot, then the raw body (``b"1700000000." + body``), and
    the timestamp must be within the tolerance of now.
``stripe``
    ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``; signed payload
    ``b"<t>." + body``; any ``v1`` may match (Stripe sends one per secret while a secret is
    rolled); other keys (``v0``) are ignored; ``t`` must be within the tolerance of now.
``github``
    ``X-Hub-Signature-256: sha256=<hex>`` of the raw body. GitHub signs no timestamp.

:func:`verify` returns the content the signature covers; the webhook service keeps a digest of
it to refuse replays (``plait.service.webhooks``). Timestamped schemes are also bounded by their
tolerance. A timestamp is checked after the signature, so that "outside the tolerance" is only
ever said of a request signed with the secret (a clock skew or a replay), never of a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

from plait.errors import PlaitError

SCHEMES = ("hmac-sha256", "stripe", "github")
"""The signature schemes a webhook can use."""

_HEX = re.compile(r"[0-9a-fA-F]{64}")
_SECONDS = re.compile(r"[0-9]{1,12}")
_MAX_HEADER = 8192  # longer signature headers are refused before any parsing


class SignatureRejected(PlaitError):
    """A webhook request's signature is missing, malformed, wrong or outside the tolerance.

    Attributes:
        reason: what is wrong, in plain words that are safe to send back to the caller, e.g.
            ``signature does not match``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook signature rejected: {reason}")


class StaleSignature(SignatureRejected):
    """A webhook request's signature matches, but its timestamp is outside the tolerance.

    A clock skew, or a replay. Said only of a request signed with the secret, so it may be told
    to the caller (other rejections get one uniform answer).
    """


def verify(
    scheme: str,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = 300.0,
) -> bytes:
    """Check a request's signature under ``scheme`` (see the module docstring for the formats)
    and return the content it covers (the body, or the timestamp, a dot and the body).

    Args:
        scheme: one of :data:`SCHEMES`.
        secret: the webhook's secret.
        headers: the request headers; names are matched case-insensitively.
        body: the raw request body, exactly as received.
        now: the current Unix time, to check signed timestamps against.
        tolerance: how far, in seconds, a signed timestamp may be from ``now`` either way.

    Raises:
        SignatureRejected: for any request that does not verify, whatever its headers hold.
    """
    check = _VERIFIERS.get(scheme)
    if check is None:
        raise SignatureRejected(f"unknown signature scheme {scheme!r}")
    if not secret:
        raise SignatureRejected("the webhook has no secret")
    return check(_key(secret), lowered(headers), body, now, tolerance)


def sign(scheme: str, secret: str, body: bytes, *, timestamp: float | None) -> dict[str, str]:
    """The signature headers a sender would send with ``body`` under ``scheme``.

    ``timestamp`` (Unix seconds, truncated to an integer) is required by ``stripe``, optional
    for ``hmac-sha256`` (``None`` signs the body alone) and ignored by ``github``.

    Raises:
        ValueError: an unknown scheme, or ``stripe`` without a timestamp.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown signature scheme {scheme!r}")
    key = _key(secret)
    if scheme == "github":
        return {"X-Hub-Signature-256": "sha256=" + _digest(key, body)}
    if timestamp is None:
        if scheme == "stripe":
            raise ValueError("a Stripe signature needs a timestamp")
        return {"X-Signature-256": "sha256=" + _digest(key, body)}
    stamp = str(int(timestamp))
    digest = _digest(key, stamp.encode() + b"." + body)
    if scheme == "stripe":
        return {"Stripe-Signature": f"t={stamp},v1={digest}"}
    return {"X-Signature-256": f"sha256={digest}", "X-Signature-Timestamp": stamp}


_Verifier = Callable[[bytes, Mapping[str, str], bytes, float, float], bytes]


def _verify_generic(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    name = "X-Signature-256"
    if name.lower() not in headers and "x-signature" in headers:
        name = "X-Signature"
    value = _signature_header(headers, name)
    candidate = value[7:] if value[:7].lower() == "sha256=" else value
    if not _HEX.fullmatch(candidate):
        raise SignatureRejected("malformed signature header")
    stamp = headers.get("x-signature-timestamp")
    if stamp is None:
        _compare(_digest(key, body), [candidate])
        return body
    stamp = stamp.strip() if isinstance(stamp, str) else ""
    if not _SECONDS.fullmatch(stamp):
        raise SignatureRejected("malformed timestamp header 'X-Signature-Timestamp'")
    signed = stamp.encode() + b"." + body
    _compare(_digest(key, signed), [candidate])
    _check_fresh(stamp, now, tolerance)
    return signed


def _verify_stripe(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    value = _signature_header(headers, "Stripe-Signature")
    stamps: list[str] = []
    candidates: list[str] = []
    for item in value.split(","):
        name, _, part = item.strip().partition("=")
        if name == "t":
            stamps.append(part)
        elif name == "v1" and _HEX.fullmatch(part):
            candidates.append(part)
    if len(stamps) != 1 or not _SECONDS.fullmatch(stamps[0]) or not candidates:
        raise SignatureRejected("malformed signature header")
    signed = stamps[0].encode() + b"." + body
    _compare(_digest(key, signed), candidates)
    _check_fresh(stamps[0], now, tolerance)
    return signed


def _verify_github(
    key: bytes, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> bytes:
    value = _signature_header(headers, "X-Hub-Signature-256")
    if not value.startswith("sha256=") or not _HEX.fullmatch(value[7:]):
        raise SignatureRejected("malformed signature header")
    _compare(_digest(key, body), [value[7:]])
    return body


_VERIFIERS: dict[str, _Verifier] = {
    "hmac-sha256": _verify_generic,
    "stripe": _verify_stripe,
    "github": _verify_github,
}


def _key(secret: str) -> bytes:
    # surrogatepass: a secret is text we were given, and must never make verify raise otherwise
    return secret.encode("utf-8", "surrogatepass")


def _digest(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with their names lower-cased."""
    return {str(name).lower(): value for name, value in headers.items()}


def _signature_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None:
        raise SignatureRejected(f"missing signature header {name!r}")
    if not isinstance(value, str) or len(value) > _MAX_HEADER or not value.isascii():
        raise SignatureRejected("malformed signature header")
    return value.strip()


def _compare(expected: str, candidates: list[str]) -> None:
    # Candidates are ASCII hex (checked by the callers), as compare_digest requires of str.
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise SignatureRejected("signature does not match")


def _check_fresh(stamp: str, now: float, tolerance: float) -> None:
    if not abs(now - int(stamp)) <= tolerance:
        raise StaleSignature(f"timestamp outside the {tolerance:g}s tolerance")
