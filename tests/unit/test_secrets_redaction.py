"""Redaction of secret values (text, JSON, run records) and where definitions may read
``secrets.NAME``; no I/O."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from plait.definitions.load import check_definition
from plait.definitions.model import ActionStep
from plait.expressions import compile_template
from plait.interpreter.secrets import EVERY, secret_names
from plait.secrets import Redactor, check_name, marker
from plait.store.records import StepRecord


def redactor(**secrets: str) -> Redactor:
    made = Redactor()
    for name, value in secrets.items():
        made.add(name, value)
    return made


def test_an_empty_redactor_changes_nothing_and_costs_nothing() -> None:
    data = b'{"a": "anything"}'
    record = StepRecord("k", 0, "k", "step", "completed", 1, data)
    empty = Redactor()
    assert not empty
    assert empty.json(data) is data and empty.record(record) is record


def test_json_is_redacted_in_strings_and_keys_and_stays_valid() -> None:
    # A value that is also a JSON token (true) or a digit must not break the document.
    r = redactor(FLAG="true", PIN="7")
    data = orjson.dumps({"ok": True, "n": 7, "text": "true 7", "true": [1, "x7"]})
    assert orjson.loads(r.json(data)) == {
        "ok": True, "n": 7, "text": "[secret:FLAG] [secret:PIN]",
        "[secret:FLAG]": [1, "x[secret:PIN]"],
    }  # fmt: skip


def test_values_with_escapes_are_found_in_their_json_form() -> None:
    value = 'a"b\\c\nü😀'
    r = redactor(TOKEN=value)
    data = orjson.dumps({"message": f"refused {value}!"})
    assert orjson.loads(r.json(data)) == {"message": "refused [secret:TOKEN]!"}
    assert r.json(b'{"other": "text"}') == b'{"other": "text"}'


def test_a_value_inside_a_longer_one_does_not_leave_part_of_the_longer() -> None:
    r = redactor(SHORT="abc", LONG="xxabcxx")
    assert r.text("1 xxabcxx 2 abc") == "1 [secret:LONG] 2 [secret:SHORT]"


def test_records_have_payloads_redacted_and_identities_kept() -> None:
    r = redactor(TOKEN="s3cr3t")
    record = StepRecord("s3cr3t-step", 0, "s3cr3t-step", "step", "failed", 1,
                        orjson.dumps({"out": "s3cr3t"}),
                        orjson.dumps({"message": "bad s3cr3t"}))  # fmt: skip
    shown = r.record(record)
    assert shown is not record and record.output == orjson.dumps({"out": "s3cr3t"})
    assert orjson.loads(shown.output) == {"out": marker("TOKEN")}
    assert orjson.loads(shown.error) == {"message": "bad [secret:TOKEN]"}
    assert shown.key == "s3cr3t-step"  # a step's identity is never rewritten
    assert r.record([record])[0].output == shown.output
    assert r.record({"doc": ["s3cr3t"]}) == {"doc": [marker("TOKEN")]}
    assert r.record("T.s3cr3t") == "T.[secret:TOKEN]"  # text: an event's type, an assignee
    assert r.record("run_42") == "run_42"


def test_a_store_call_keeps_its_identifying_arguments_and_redacts_the_rest() -> None:
    """A step's key is compared with what the code computes on replay: never rewritten."""
    from plait.runtime.executor import _redacted_call

    def remove_wait(run_id: str, step_key: str, note: str, *, event_id: str) -> None: ...

    args, kwargs = _redacted_call(
        remove_wait, redactor(TOKEN="s3cr3t"), ("run-s3cr3t", "wait-s3cr3t", "a s3cr3t"),
        {"event_id": "e-s3cr3t"},
    )  # fmt: skip
    assert args == ("run-s3cr3t", "wait-s3cr3t", "a [secret:TOKEN]")
    assert kwargs == {"event_id": "e-[secret:TOKEN]"}


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ({"h": "Bearer {{secrets.TOKEN}}"}, frozenset({"TOKEN"})),
        ({"a": "{{secrets['A']}}", "b": "{{ secrets.B + input.x }}"}, frozenset({"A", "B"})),
        ("{{secrets[input.which]}}", EVERY),
        ("{{size(secrets)}}", EVERY),
        ({"plain": "{{input.secrets}}", "literal": "secrets.TOKEN"}, frozenset()),
    ],
)
def test_the_secrets_a_template_reads_are_found_when_it_is_compiled(
    template: Any, names: frozenset[str]
) -> None:
    assert secret_names(compile_template(template)) == names


def action(step_id: str, input: Any, **more: Any) -> dict[str, Any]:
    return {"kind": "action", "id": step_id, "action": "http", "input": input, **more}


def test_definitions_read_secrets_in_action_inputs_only() -> None:
    def errors(*steps: dict[str, Any]) -> list[str]:
        document = {"name": "w", "dialect": "canonical", "steps": list(steps)}
        return [str(p) for p in check_definition(document).errors]

    assert errors(action("call", {"url": "{{secrets.URL}}"})) == []
    [condition] = errors(action("call", {}, condition="secrets.FLAG == 'on'"))
    assert "unknown name 'secrets'" in condition
    [reserved] = errors(action("secrets", {}))
    assert "step id 'secrets' is reserved" in reserved


@pytest.mark.parametrize("name", ["TOKEN", "_x", "stripe_key_2"])
def test_names_are_identifiers(name: str) -> None:
    assert check_name(name, 200) == name


def test_an_entity_mapping_reads_a_secret_as_an_expression() -> None:
    step = {"action": "http", "mapping": {"url": "'https://crm.test'", "token": "secrets.T"}}
    result = check_definition({"name": "w", "triggerEvent": "Deal.won", "steps": [step]})
    assert (result.errors, result.warnings) == ([], [])
    assert result.definition is not None
    [action] = result.definition.steps
    assert isinstance(action, ActionStep)
    assert secret_names(compile_template(action.input)) == {"T"}
