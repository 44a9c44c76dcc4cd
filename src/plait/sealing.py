"""Encryption at rest for secrets and webhook signing secrets.

Values are sealed with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under the
keys in the environment variable ``PLAIT_SECRET_KEY``: one key, or several separated by commas,
newest first. Sealing always uses the first key; opening tries each in turn, so a key can be
rotated without downtime: put the new key first, re-seal what is stored
(``plait secrets rotate``), then drop the old key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from plait.errors import ConfigurationError, PlaitError

SECRET_KEY_ENV = "PLAIT_SECRET_KEY"
"""The environment variable that holds the sealing key(s)."""


class SecretKeyMissing(ConfigurationError):
    """No encryption key is configured, so nothing secret can be stored."""

    def __init__(self) -> None:
        super().__init__(
            f"storing a secret needs an encryption key: set {SECRET_KEY_ENV} to a key made by "
            "`plait secrets generate-key` (see docs/security.md)"
        )


class SecretUnreadable(PlaitError):
    """A sealed value cannot be opened with any configured key."""

    def __init__(self) -> None:
        super().__init__(
            f"a stored secret cannot be decrypted with the key(s) in {SECRET_KEY_ENV}: the key "
            "that sealed it was removed or changed (see key rotation in docs/security.md)"
        )


def generate_key() -> str:
    """A new random key for ``PLAIT_SECRET_KEY``."""
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals and opens text with the configured keys (the first seals, any opens)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyMissing()
        try:
            self._fernets = [Fernet(key.encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigurationError(
                f"{SECRET_KEY_ENV} must hold one or more comma-separated keys made by "
                "`plait secrets generate-key` (32 url-safe base64-encoded bytes each)"
            ) from exc
        self._multi = MultiFernet(self._fernets)

    def seal(self, value: str) -> str:
        """``value`` encrypted under the newest key, as ASCII text."""
        return self._multi.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The text that ``seal`` sealed.

        Raises:
            SecretUnreadable: no configured key opens it.
        """
        try:
            return self._multi.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable() from exc

    def reseal(self, sealed: str) -> str:
        """``sealed`` re-encrypted under the newest key (for key rotation)."""
        try:
            return self._multi.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable() from exc


def sealer_from_env(environ: Mapping[str, str] | None = None) -> Sealer:
    """The sealer for the keys in ``PLAIT_SECRET_KEY``.

    Raises:
        SecretKeyMissing: the variable is unset or empty.
        ConfigurationError: it does not hold valid keys.
    """
    raw = (os.environ if environ is None else environ).get(SECRET_KEY_ENV, "")
    return Sealer([part.strip() for part in raw.split(",") if part.strip()])
