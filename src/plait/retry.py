"""Retry policies: how many attempts a step gets and how long to wait between them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Backoff = Literal["exponential", "linear", "constant"]


def seconds_of(value: float | timedelta) -> float:
    """Seconds from a number or a ``timedelta``."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing step is retried.

    Args:
        max_attempts: attempts in total, the first included (1 means no retry).
        backoff: how the delay grows: ``exponential`` (initial * multiplier ** n),
            ``linear`` (initial * (n + 1)) or ``constant`` (initial).
        initial_delay: delay before the second attempt, in seconds or a ``timedelta``.
        multiplier: growth factor for ``exponential``.
        max_delay: cap on any single delay.
        jitter: fraction (0..1) of each delay that is randomised, to spread retries.
        non_retryable: exception types (or their names) that fail the step at once (as does
            an exception whose ``retryable`` attribute is ``False``).
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    initial_delay: float | timedelta = 1.0
    multiplier: float = 2.0
    max_delay: float | timedelta = 300.0
    jitter: float = 0.0
    non_retryable: tuple[type[BaseException] | str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff not in ("exponential", "linear", "constant"):
            raise ValueError(
                f"RetryPolicy.backoff must be exponential, linear or constant, not {self.backoff!r}"
            )
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("RetryPolicy.jitter must be between 0 and 1")
        if seconds_of(self.initial_delay) < 0 or seconds_of(self.max_delay) < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, failed_attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``failed_attempts`` attempts have failed (1 = after the first)."""
        n = max(0, failed_attempts - 1)
        initial = seconds_of(self.initial_delay)
        if self.backoff == "exponential":
            base = initial * self.multiplier**n
        elif self.backoff == "linear":
            base = initial * (n + 1)
        else:
            base = initial
        base = min(base, seconds_of(self.max_delay))
        if self.jitter:
            spread = base * self.jitter
            base = base - spread + (rng or random).random() * spread
        return base

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` may be retried under this policy (ignoring the attempt count).

        An error that says it is permanent (``retryable = False``, such as an SMTP server's
        refusal of a login) is never retried, whatever the policy."""
        if getattr(exc, "retryable", True) is False:
            return False
        for kind in self.non_retryable:
            if isinstance(kind, str):
                if any(kind in (cls.__name__, _qualified(cls)) for cls in type(exc).__mro__):
                    return False
            elif isinstance(exc, kind):
                return False
        return True


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


NO_RETRY = RetryPolicy(max_attempts=1)
