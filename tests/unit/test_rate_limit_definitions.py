"""Flow limits in definitions (``rateLimit``, ``bulkhead``, ``circuitBreaker`` on a step, every
dialect) and in code (``@engine.action(...)``, ``ctx.step(...)``): every problem is reported at
its JSON path; a valid one is kept on the step; only action steps take them."""

from __future__ import annotations

from typing import Any

import pytest

from plait import Bulkhead, CircuitBreaker, Engine, RateLimit
from plait.definitions.load import check_definition, load_definition
from plait.definitions.model import ActionStep
from plait.errors import ConfigurationError
from plait.runtime.limits import StepLimits, for_action, limits_of


def errors(document: Any) -> list[str]:
    return [str(problem) for problem in check_definition(document).errors]


def canonical(step: dict[str, Any]) -> dict[str, Any]:
    return {"name": "w", "dialect": "canonical",
            "steps": [{"kind": "action", "id": "a", "action": "log", **step}]}  # fmt: skip


def test_every_problem_is_reported_at_its_path() -> None:
    document = canonical({
        "rateLimit": {"limit": 0, "period": "soon", "burst": 2.5, "per": 1},
        "bulkhead": {"name": ""},
        "circuitBreaker": {"failures": True, "window": -1, "onOpen": "retry"},
    })  # fmt: skip
    assert sorted(errors(document)) == sorted([
        "$.steps[0].rateLimit.limit: must be a whole number >= 1, not 0",
        "$.steps[0].rateLimit.period: must be a number of seconds > 0, not 'soon'",
        "$.steps[0].rateLimit.burst: must be a whole number >= 1, not 2.5",
        "$.steps[0].rateLimit.per: is not a key of this limit (expected: burst, limit, name, "
        "period)",
        "$.steps[0].bulkhead.limit: is required (a whole number >= 1)",
        "$.steps[0].bulkhead.name: must be a name of 1 to 200 characters, not ''",
        "$.steps[0].circuitBreaker.failures: must be a whole number >= 1, not True",
        "$.steps[0].circuitBreaker.window: must be a number of seconds > 0, not -1",
        "$.steps[0].circuitBreaker.onOpen: must be one of fail, wait, not 'retry'",
    ])  # fmt: skip


def test_a_limit_that_is_not_an_object_and_one_on_a_group_step() -> None:
    assert errors(canonical({"rateLimit": 10})) == [
        "$.steps[0].rateLimit: expected an object, not 10"]  # fmt: skip
    group = {"name": "w", "dialect": "canonical", "steps": [
        {"kind": "parallel", "id": "p", "bulkhead": {"limit": 2},
         "steps": [{"kind": "action", "id": "a", "action": "log"}]}]}  # fmt: skip
    assert errors(group) == ["$.steps[0].bulkhead: bulkhead belongs on an action step, not a "
                             "parallel step"]  # fmt: skip


def test_valid_limits_are_kept_on_the_step_in_other_dialects_too() -> None:
    document = {"name": "svc", "steps": [{
        "id": "charge", "type": "function", "function": "log",
        "rateLimit": {"limit": 10, "period": "1s", "burst": 5},
        "circuitBreaker": {"failures": 3, "window": "1m", "reset": 30, "onOpen": "wait",
                           "name": "stripe"},
    }]}  # fmt: skip
    assert errors(document) == []
    definition = load_definition(document)
    [step] = definition.steps
    assert isinstance(step, ActionStep)
    kwargs = for_action(step.limits, None, "log", "svc/charge")
    assert kwargs["rate_limit"] == RateLimit(10, 1.0, 5, "svc/charge")  # the step's alone
    assert kwargs["circuit_breaker"] == CircuitBreaker(3, 60.0, 30.0, "wait", "stripe")
    assert kwargs["bulkhead"] is None


def test_a_step_s_own_limits_win_over_its_action_s_kind_by_kind() -> None:
    registered = StepLimits(RateLimit(5), Bulkhead(2), None)
    kwargs = for_action({"rateLimit": {"limit": 1, "period": 60}}, registered, "charge", "w/a")
    assert kwargs["rate_limit"] == RateLimit(1, 60.0, 1, "w/a")  # the step's own: its name
    assert kwargs["bulkhead"] == Bulkhead(2, "charge")  # the action's: every step shares it
    assert for_action(None, None, "charge", "w/a") == {}


def test_code_takes_dataclasses_or_dicts_and_refuses_bad_ones() -> None:
    found = limits_of({"limit": 3, "period": 2}, Bulkhead(4), None, name="step")
    assert found == StepLimits(RateLimit(3, 2.0, 1, "step"), Bulkhead(4, "step"), None)
    assert limits_of() is None
    engine = Engine("sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match=r"action 'x': rateLimit.limit: must be a whole"):
        engine.action("x", rate_limit={"limit": -1})(lambda value: value)
    with pytest.raises(ConfigurationError, match=r"circuitBreaker.on_open: must be one of"):
        engine.action("y", circuit_breaker=CircuitBreaker(on_open="never"))(  # type: ignore[arg-type]
            lambda value: value)  # fmt: skip


def test_a_canonical_step_s_limits_field_is_checked_at_its_path() -> None:
    document = canonical({"limits": {"rateLimit": {"limit": 0}, "bogus": 1}})
    assert sorted(errors(document)) == [
        "$.steps[0].limits.bogus: is not a flow limit (expected: rateLimit, bulkhead, "
        "circuitBreaker)",
        "$.steps[0].limits.rateLimit.limit: must be a whole number >= 1, not 0",
    ]
    good = load_definition(canonical({"limits": {"bulkhead": {"limit": 2}}}))
    [step] = good.steps
    assert isinstance(step, ActionStep) and step.limits == {"bulkhead": {"limit": 2}}


def test_a_state_machine_s_action_does_not_take_limits_or_a_cache() -> None:
    document = {"name": "m", "initial": "a", "states": {
        "a": {"entry": {"action": "log", "rateLimit": {"limit": 1}, "cache": {"key": "k",
                                                                              "ttl": 1},
                        "mapping": {"cache": "data, not a cache"}},
              "type": "final"}}}  # fmt: skip
    found = errors(document)
    assert (
        "$.states.a.entry.rateLimit: a state machine's action does not take rateLimit: "
        "register it with the action (@engine.action(...)) or use another dialect" in found
    )
    assert (
        "$.states.a.entry.cache: a state machine's action cannot be cached: use another "
        "dialect" in found
    )
    assert not any("mapping" in problem for problem in found)
