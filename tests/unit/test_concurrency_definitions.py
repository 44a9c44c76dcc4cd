"""A definition's flow control keys (docs/flow-control.md): ``concurrency``, ``priority`` and
``singleton`` at the top of every dialect, checked with the JSON path of each problem, kept on
the normalised definition (which reloads unchanged), and read into the workflow's
``FlowControl``."""

from __future__ import annotations

from typing import Any

import pytest

from plait.definitions import flow
from plait.definitions.load import load_definition
from plait.definitions.validate import InvalidDefinition
from plait.workflow import FlowControl

FUNCTION_STEPS: dict[str, Any] = {
    "name": "f",
    "steps": [{"id": "charge", "function": "chargeCard", "input": {"amount": 5}}],
}


def test_every_dialect_takes_the_flow_keys_and_keeps_them() -> None:
    document = {**FUNCTION_STEPS, "concurrency": {"key": "input.customer", "limit": 3,
                "strategy": "cancel-newest"}, "priority": -2,
                "singleton": {"key": "input.order", "mode": "cancel"}}  # fmt: skip
    definition = load_definition(document)
    assert definition.dialect == "function"
    assert flow.of(definition) == FlowControl(
        concurrency_key="input.customer", concurrency_limit=3, strategy="cancel-newest",
        priority=-2, singleton_key="input.order", singleton_mode="cancel",
    )  # fmt: skip
    reloaded = load_definition(definition.model_dump(mode="json", by_alias=True))
    assert flow.of(reloaded) == flow.of(definition)


def test_defaults_and_a_workflow_without_flow_keys() -> None:
    assert flow.of(load_definition(FUNCTION_STEPS)) is None
    document = {**FUNCTION_STEPS, "concurrency": {"key": "input.customer"}}
    assert flow.of(load_definition(document)) == FlowControl(concurrency_key="input.customer")


@pytest.mark.parametrize(
    ("keys", "path", "said"),
    [
        ({"concurrency": {"key": "input.(", "limit": 1}}, "$.concurrency.key", "does not compile"),
        ({"concurrency": {"key": "input.a", "limit": 1.5}}, "$.concurrency.limit", "at least 1"),
        ({"concurrency": {"key": "input.a", "strategy": "drop"}}, "$.concurrency.strategy",
         "queue, cancel-newest, cancel-in-progress"),
        ({"concurrency": {"key": "input.a", "limti": 2}}, "$.concurrency.limti", "unknown key"),
        ({"concurrency": "input.a"}, "$.concurrency", "must be an object"),
        ({"priority": 11}, "$.priority", "from -10 to 10"),
        ({"priority": True}, "$.priority", "from -10 to 10"),
        ({"singleton": {"mode": "skip"}}, "$.singleton.key", "an expression over the input"),
        ({"singleton": {"key": "input.a", "mode": "later"}}, "$.singleton.mode", "skip or cancel"),
    ],
)  # fmt: skip
def test_each_problem_is_reported_at_its_path(keys: dict[str, Any], path: str, said: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        load_definition({**FUNCTION_STEPS, **keys})
    [problem] = [p for p in caught.value.problems if p.path == path]
    assert said in problem.message


def test_code_options_take_a_debounce_pair() -> None:
    control = flow.options(debounce=("input.user", 30), priority=1)
    assert control == FlowControl(priority=1, debounce_key="input.user", debounce_delay=30.0)
    with pytest.raises(InvalidDefinition, match=r"\$\.debounce\.key"):
        flow.options(debounce={"key": "", "delay": 1})
