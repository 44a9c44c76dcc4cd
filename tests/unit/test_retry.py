from __future__ import annotations

import random
from datetime import timedelta

import pytest

from plait import RetryPolicy


def test_exponential_delays_grow_by_the_multiplier_and_stop_at_max_delay() -> None:
    policy = RetryPolicy(max_attempts=6, initial_delay=1, multiplier=3, max_delay=20)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 3, 9, 20, 20]


def test_linear_and_constant_backoff() -> None:
    linear = RetryPolicy(backoff="linear", initial_delay=timedelta(seconds=2))
    constant = RetryPolicy(backoff="constant", initial_delay=5)
    assert [linear.delay(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert [constant.delay(n) for n in (1, 2, 3)] == [5, 5, 5]


def test_jitter_stays_within_its_fraction_below_the_base_delay() -> None:
    policy = RetryPolicy(initial_delay=10, jitter=0.5, backoff="constant")
    rng = random.Random(7)
    delays = [policy.delay(1, rng) for _ in range(200)]
    assert all(5 <= d <= 10 for d in delays)
    assert len(set(delays)) > 100


def test_non_retryable_by_type_and_by_name() -> None:
    class Declined(Exception):
        pass

    policy = RetryPolicy(non_retryable=(KeyError, "Declined"))
    assert not policy.retries(KeyError("x"))
    assert not policy.retries(Declined())
    assert policy.retries(ValueError())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff": "fibonacci"}, "backoff"),
        ({"jitter": 2}, "jitter"),
        ({"initial_delay": -1}, "negative"),
    ],
)
def test_invalid_policies_are_rejected_with_the_field_named(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
