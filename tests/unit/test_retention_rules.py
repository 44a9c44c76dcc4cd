"""How a run's limits are looked up: the workflow's policy for its status, the workflow's, the
organization's for its status, the organization's, then the default; ``partial`` falls back on
``succeeded``; a count set for a status counts that status only."""

from __future__ import annotations

import pytest

from plait.errors import ConfigurationError
from plait.resources.retention import Policy
from plait.service.retention import _outcomes, _rule, policy_of
from plait.service.retention import _Rule as _R
from plait.settings import Settings


def test_the_most_specific_level_that_sets_a_limit_decides() -> None:
    org = policy_of(
        {"maxAgeDays": 60, "maxRuns": 1000, "statuses": {"failed": {"maxAgeDays": 365}}}
    )
    flow = policy_of({"maxAgeDays": 7, "statuses": {"cancelled": {"maxRuns": 5}}})
    assert _rule((flow, org), "succeeded", 30) == _R(7, 1000, None)
    assert _rule((flow, org), "failed", 30) == _R(7, 1000, None)  # the workflow's age beats it
    assert _rule((None, org), "failed", 30) == _R(365, 1000, None)
    assert _rule((flow, org), "cancelled", 30) == _R(7, 5, ("cancelled",))
    assert _rule((None, None), "failed", 30) == _R(30, 0, None)
    assert _rule((Policy(max_age_days=0), org), "failed", 30) == _R(0, 1000, None)  # forever


def test_partial_runs_follow_succeeded_unless_they_have_their_own_limits() -> None:
    org = policy_of({"statuses": {"succeeded": {"maxAgeDays": 3}}})
    assert _rule((None, org), "partial", 30).days == 3
    own = policy_of({"statuses": {"succeeded": {"maxAgeDays": 3}, "partial": {"maxAgeDays": 9}}})
    assert _rule((None, own), "partial", 30).days == 9
    assert _outcomes(["succeeded"]) == ["succeeded", "partial"]


def test_a_count_partial_runs_inherit_from_succeeded_counts_both_together() -> None:
    """``statuses.succeeded.maxRuns: 100`` keeps 100 runs that succeeded, partial or not: not
    100 succeeded plus 100 partial."""
    both = ("succeeded", "partial")
    org = policy_of({"statuses": {"succeeded": {"maxRuns": 100}}})
    assert _rule((None, org), "succeeded", 30) == _R(30, 100, both)
    assert _rule((None, org), "partial", 30) == _R(30, 100, both)
    flow = policy_of({"statuses": {"succeeded": {"maxRuns": 5}}})
    assert _rule((flow, org), "partial", 30) == _R(30, 5, both)
    own = policy_of({"statuses": {"succeeded": {"maxRuns": 100}, "partial": {"maxRuns": 7}}})
    assert _rule((None, own), "succeeded", 30) == _R(30, 100, ("succeeded",))
    assert _rule((None, own), "partial", 30) == _R(30, 7, ("partial",))
    # the workflow's own partial count beats the organization's succeeded one: each its own
    mixed = policy_of({"statuses": {"partial": {"maxRuns": 3}}})
    assert _rule((mixed, org), "partial", 30) == _R(30, 3, ("partial",))
    assert _rule((mixed, org), "succeeded", 30) == _R(30, 100, ("succeeded",))
    assert _outcomes(["partial", "failed"]) == ["partial", "failed"]
    assert _outcomes([]) == ["succeeded", "partial", "failed", "cancelled"]


@pytest.mark.parametrize("name", ["run", "event", "task", "audit"])
@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf"])
def test_a_retention_setting_that_is_not_a_finite_number_is_refused(
    name: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``created_at < NaN`` is true on PostgreSQL: a NaN retention would delete everything."""
    setting = f"{name}_retention_days"
    monkeypatch.setenv(f"PLAIT_{setting.upper()}", raw)
    with pytest.raises(ConfigurationError, match=f"{setting} must be a finite number"):
        Settings.load()
    monkeypatch.delenv(f"PLAIT_{setting.upper()}")
    with pytest.raises(ConfigurationError, match=setting):
        Settings.load(**{setting: float(raw)})
