"""Identifiers: a type prefix and random base62 characters (``run_4fK9qZ2mT1xB0aLc``)."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 16) -> str:
    """A fresh id such as ``run_…``; 16 base62 characters carry 95 bits of randomness."""
    raw = int.from_bytes(secrets.token_bytes(12), "big")
    chars = []
    for _ in range(length):
        raw, digit = divmod(raw, 62)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(chars)}"
