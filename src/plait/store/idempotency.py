"""Idempotency keys: a request reserves its key before it acts, records its result when it is
done, and releases the key if it fails, so that a repeat of the request answers the first one's
result and concurrent repeats act once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plait.store.backend import Backend
from plait.store.records import IdempotencyKey
from plait.store.session import Session

PRUNE_BATCH = 100


class IdempotencyVerbs(Backend):
    """The idempotency keys of each organization."""

    async def reserve_idempotency_key(
        self, claim: IdempotencyKey, *, now: float, stale_before: float
    ) -> IdempotencyKey | None:
        """Reserve ``claim.key`` in ``claim.org`` for the request ``claim`` describes, in one
        transaction; ``None`` if it did, else the row that holds the key.

        The key is reserved when no live row holds it: none at all, one past its
        ``expires_at``, or a reservation with ``claim``'s fingerprint that recorded no result
        since ``stale_before`` (its request died). Atomic (insert-or-conflict): of concurrent
        reservations of one key, from any process on either backend, exactly one succeeds. A
        few expired keys of any organization are pruned.
        """
        params = {
            "org": claim.org, "key": claim.key, "operation": claim.operation,
            "fingerprint": claim.fingerprint, "token": claim.token, "now": now,
            "expires_at": claim.expires_at, "stale_before": stale_before,
        }  # fmt: skip

        def op(db: Session) -> IdempotencyKey | None:
            db.run("prune_idempotency_keys", {"now": now, "limit": PRUNE_BATCH})
            if db.run("reserve_idempotency_key", params).rowcount == 1:
                return None
            return _key(db.run("get_idempotency_key", params).fetchone())

        held: IdempotencyKey | None = await self._submit(op)
        return held

    async def get_idempotency_key(self, org: str, key: str) -> IdempotencyKey | None:
        """The row of ``key`` in ``org``, live or expired; ``None`` if there is none."""
        row = await self._one("get_idempotency_key", {"org": org, "key": key})
        return None if row is None else _key(row)

    async def complete_idempotency_key(self, org: str, key: str, token: str, result: bytes) -> bool:
        """Record ``result`` (JSON) for the reservation ``token`` of ``key``; whether it still
        held the key (a reservation taken over as abandoned records nothing)."""
        params = {"org": org, "key": key, "token": token, "result": result.decode()}
        done: int = await self._submit(
            lambda db: db.run("complete_idempotency_key", params).rowcount
        )
        return done == 1

    async def release_idempotency_key(self, org: str, key: str, token: str) -> None:
        """Forget the reservation ``token`` of ``key`` if it recorded no result (its request
        failed and changed nothing): the key is free for a repeat."""
        params = {"org": org, "key": key, "token": token}
        await self._submit(lambda db: db.run("release_idempotency_key", params))


def _key(row: Sequence[Any]) -> IdempotencyKey:
    org, key, operation, fingerprint, token, result, locked_at, expires_at = row
    stored = None if result is None else str(result).encode()
    return IdempotencyKey(org, key, operation, fingerprint, token, stored, float(locked_at),
                          float(expires_at))  # fmt: skip
