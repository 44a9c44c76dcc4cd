"""API keys: creating, listing and revoking them, and checking a presented key.

A key reads ``plait_<id>_<secret>``: ``id`` is 8 base62 characters that name the key (it is what
``plait keys list`` shows and ``plait keys revoke`` takes), ``secret`` is 43 base62 characters
(256 random bits; base62 keeps the key one word when double-clicked). Only the SHA-256 of the
whole key is stored.

Why SHA-256 and not a slow password hash (scrypt, argon2): a slow hash makes guessing a
*low-entropy* secret expensive. These secrets are 256 random bits, so guessing one is infeasible
whatever the hash, and a slow hash would only add its cost (tens of milliseconds by design) to
every API request. A per-deployment pepper would protect against a leak of the database alone,
but it is one more secret to provision and rotate, for no gain at this entropy. Hashing the whole
key (id included) binds the secret to its id; digests are compared in constant time.

Roles are ordered ``viewer < runner < editor < admin``; each role may do what the ones before it
may do. A key may be bound to a person (``user``): whatever needs to know who acts (completing a
human task) takes it as that person, and it cannot pass as someone else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from plait.errors import NotFound, PlaitError
from plait.resources.keys import ROLES, Key, KeyPage, NewKey, Role
from plait.service.audit import audited
from plait.service.pages import keyset_list
from plait.store.records import KeyRecord

if TYPE_CHECKING:
    from plait.service.deps import Deps

PREFIX = "plait"
ID_LENGTH = 8
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_LENGTH = 43  # 43 base62 characters carry 256 bits
_MIN_SECRET = 32
_MAX_KEY = 200
MAX_USER = 200


class InvalidRole(PlaitError):
    """The role is not one of viewer, runner, editor, admin."""

    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(f"unknown role {role!r}; use one of {', '.join(ROLES)}")


class InvalidUser(PlaitError):
    """The person a key is bound to must be a non-empty name without surrounding spaces."""

    def __init__(self, user: object) -> None:
        self.user = user
        super().__init__(f"a key's user must be a non-empty name of at most {MAX_USER} "
                         f"characters without surrounding spaces, got {user!r}")  # fmt: skip


class KeyNotFound(NotFound):
    """No API key has that id in the organization."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"no API key {key_id!r}")


class KeyService:
    """``engine.keys``: the API keys of each organization."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def create(self, org: str, role: str, *, user: str | None = None) -> NewKey:
        """Create and store a key of ``org`` with ``role`` (bound to ``user`` if given); the
        returned ``key`` is the only time it can be seen.

        Raises:
            InvalidRole, InvalidUser: the role or the user is not valid (nothing is stored).
        """
        async with audited(self.deps, org, "create", "key", "-") as change:
            change.details = {"role": role, "user": user}
            checked, person = check_role(role), check_user(user)
            store = await self.deps.store()
            for _ in range(5):  # 62**8 ids: a collision is rare, five in a row: a broken RNG
                record, key = _generate(org, checked, person, self.deps.now())
                if await store.create_key(record):
                    change.resource_id = record.id
                    return NewKey.issued(record, key)
            raise PlaitError("could not draw an unused API key id")

    async def authenticate(self, key: str) -> Key | None:
        """The live key that ``key`` is, or None (malformed, unknown, revoked or wrong).

        Raises:
            DatabaseUnavailable: the database does not answer (whatever ``key`` is).
        """
        store = await self.deps.store()
        ident = key_id(key)
        if ident is None:
            return None
        record = await store.find_key_by_id(ident)
        if record is None or record.revoked_at is not None:
            return None
        return Key.of(record) if hmac.compare_digest(record.hash, hash_key(key)) else None

    async def live(self, key_id: str) -> Key | None:
        """The key with id ``key_id`` while it is not revoked (a console session holds the key's
        id, not the key, and ends when the key is revoked), else None."""
        record = await (await self.deps.store()).find_key_by_id(key_id)
        return None if record is None or record.revoked_at is not None else Key.of(record)

    async def find(self, org: str, *, limit: int = 100, cursor: str | None = None) -> KeyPage:
        """The keys of ``org``, oldest first, a page at a time (revoked ones included)."""
        found = await (await self.deps.store()).list_keys(org)
        shown, next_cursor = keyset_list(found, limit, cursor, "keys",
                                         lambda k: [k.created_at, k.id], (float, str))  # fmt: skip
        return KeyPage(items=[Key.of(k) for k in shown], next_cursor=next_cursor)

    async def revoke(self, org: str, key_id: str) -> Key:
        """Revoke a key of ``org`` (a second revoke keeps the first time); ``KeyNotFound`` if
        it has none with that id."""
        async with audited(self.deps, org, "revoke", "key", key_id):
            store = await self.deps.store()
            record = await store.revoke_key(org, key_id, now=self.deps.now())
            if record is None:
                raise KeyNotFound(key_id)
            return Key.of(record)


# -- the rules of a key ---------------------------------------------------------------------------


def check_role(role: str) -> Role:
    """``role`` if it is a role, else ``InvalidRole``."""
    if role not in ROLES:
        raise InvalidRole(role)
    return role


def allows(role: str, needed: Role) -> bool:
    """Whether a key with ``role`` may do what ``needed`` may do."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_user(user: object) -> str | None:
    """``user`` if it names a person (or is None), else ``InvalidUser``."""
    if user is None:
        return None
    if not isinstance(user, str) or not user or user != user.strip() or len(user) > MAX_USER:
        raise InvalidUser(user)
    return user


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id(key: str) -> str | None:
    """The id inside a well-formed key, else None (nothing is looked up for a malformed key)."""
    if len(key) > _MAX_KEY:
        return None
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    found, secret = parts[1], parts[2]
    if len(found) != ID_LENGTH or any(c not in _ALPHABET for c in found):
        return None
    return found if len(secret) >= _MIN_SECRET else None


def _generate(org: str, role: Role, user: str | None, now: float) -> tuple[KeyRecord, str]:
    """A fresh key of ``org`` (not stored) and its record."""
    ident = _random(ID_LENGTH)
    key = f"{PREFIX}_{ident}_{_random(_SECRET_LENGTH)}"
    return KeyRecord(org, ident, role, f"{PREFIX}_{ident}", hash_key(key), now, None, user), key


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
