"""Validation reports every problem of a document at once, each at the path the author wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plait.definitions.load import (
    InvalidDefinition,
    Problem,
    check_definition,
    load_definition,
    parse_document,
)


def service(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "svc", "steps": list(steps), **top}


def fn(step_id: str, **keys: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "function", **keys}


def errors(document: Any, **options: Any) -> list[str]:
    return [str(problem) for problem in check_definition(document, **options).errors]


def warnings(document: Any) -> list[str]:
    return [str(problem) for problem in check_definition(document).warnings]


# -- references and graphs ----------------------------------------------------------------------


def test_a_dependency_cycle_is_named_at_its_first_step() -> None:
    document = service(
        fn("start"),
        fn("a", dependsOn=["c"]),
        fn("b", dependsOn=["a"]),
        fn("c", dependsOn=["b", "start"]),
    )
    assert errors(document) == ["$.steps[1]: dependency cycle: a -> c -> b -> a"]


def test_a_step_depending_on_itself_is_a_cycle() -> None:
    assert errors(service(fn("a", dependsOn=["a"]))) == ["$.steps[0]: dependency cycle: a -> a"]


def test_graph_edges_can_form_a_cycle() -> None:
    document = {
        "metadata": {"name": "loop"},
        "nodes": [
            {"id": "x", "type": "action", "config": {"action": "log"}},
            {"id": "y", "type": "action", "config": {"action": "log"}},
        ],
        "edges": [{"source": "x", "target": "y"}, {"source": "y", "target": "x"}],
    }
    assert errors(document) == ["$.nodes[0]: dependency cycle: x -> y -> x"]


def test_unknown_depends_on_is_reported_with_a_suggestion() -> None:
    document = service(fn("shipping"), fn("notify", dependsOn=["shiping"]))
    assert errors(document) == [
        "$.steps[1].dependsOn[0]: unknown step 'shiping' (did you mean 'shipping'?)"
    ]


def test_depends_on_must_name_a_sibling() -> None:
    document = service(
        {"id": "group", "type": "parallel", "steps": [fn("inner")]},
        fn("after", dependsOn=["inner"]),
    )
    assert errors(document) == [
        "$.steps[1].dependsOn[0]: step 'inner' is not at the same level as 'after'; "
        "dependsOn can only name sibling steps"
    ]


def test_graph_edges_must_name_nodes() -> None:
    document = {
        "metadata": {"name": "g"},
        "nodes": [{"id": "a", "type": "action", "config": {"action": "log"}}],
        "edges": [{"source": "a", "target": "b"}],
    }
    assert errors(document) == ["$.edges[0].target: unknown node 'b'"]


def test_a_fallback_for_an_unknown_step_is_an_error() -> None:
    document = {
        "name": "f",
        "steps": [{"id": "a", "function": "doA"}],
        "errorHandling": {"fallbackSteps": {"b": "doB"}},
    }
    assert errors(document) == ["$.errorHandling.fallbackSteps.b: fallback for unknown step 'b'"]


def test_duplicate_ids_are_reported_at_the_second_occurrence_nested_included() -> None:
    document = service(
        fn("a"),
        {"id": "group", "type": "parallel", "steps": [fn("b"), fn("a")]},
        fn("b"),
    )
    assert errors(document) == [
        "$.steps[1].steps[1].id: duplicate step id 'a' (first used at $.steps[0])",
        "$.steps[2].id: duplicate step id 'b' (first used at $.steps[1].steps[0])",
    ]


def test_step_ids_must_not_hide_names_expressions_use() -> None:
    document = {
        "name": "r",
        "triggerEvent": "Deal.won",
        "steps": [{"id": "input", "action": "log"}, {"id": "deal", "action": "log"}],
    }
    assert errors(document) == [
        "$.steps[0].id: step id 'input' is reserved: expressions use it for run data",
        "$.steps[1].id: step id 'deal' hides the trigger entity 'deal'",
    ]


# -- expressions --------------------------------------------------------------------------------


def test_an_expression_that_does_not_compile_shows_its_position() -> None:
    document = service(fn("a", condition="input.total > "))
    [problem] = errors(document)
    assert problem.startswith("$.steps[0].condition: expression 'input.total > ' does not compile")
    assert "at position " in problem


def test_a_broken_template_is_reported_at_its_field() -> None:
    document = {
        "name": "f",
        "steps": [{"id": "a", "function": "send", "input": {"to": {"address": "{{input.( }}"}}}],
    }
    [problem] = errors(document)
    assert problem.startswith("$.steps[0].input.to.address: expression 'input.(' does not compile")


def test_unknown_names_in_expressions_are_errors() -> None:
    document = {
        "name": "f",
        "steps": [
            {"id": "accountSetup", "function": "setup"},
            {"id": "welcome", "function": "send", "input": {"to": "{{acountSetup.email}}"},
             "condition": "{{typo.x}}"},
        ],
    }  # fmt: skip
    assert errors(document) == [
        "$.steps[1].condition: unknown name 'typo' in expression 'typo.x'",
        "$.steps[1].input.to: unknown name 'acountSetup' in expression 'acountSetup.email' "
        "(did you mean 'accountSetup'?)",
    ]


def test_reading_steps_by_an_unknown_id_is_a_warning() -> None:
    document = service(fn("a"), fn("b", dependsOn=["a"], condition='results["c"].ok'))
    assert warnings(document) == [
        "$.steps[1].condition: expression 'results[\"c\"].ok' reads the output of 'c', "
        "which is not a step"
    ]


def test_foreach_variables_are_known_inside_the_loop() -> None:
    document = service(
        {"id": "each", "type": "foreach", "items": "inputs.lines", "as": "line",
         "steps": [fn("book", input="{{line.sku}}")]},
        fn("after", dependsOn=["each"], input="{{line}}"),
    )  # fmt: skip
    assert errors(document) == ["$.steps[1].input: unknown name 'line' in expression 'line'"]


# -- actions, types, schemas --------------------------------------------------------------------


def test_unknown_actions_are_reported_at_the_key_that_names_them() -> None:
    known = {"setup", "log", "validate"}.__contains__
    function_doc = {"name": "f", "steps": [{"id": "a", "function": "setpu"}]}
    entity_doc = {"name": "e", "steps": [{"action": "Customer.crate"}]}
    service_doc = service(fn("validate"), fn("charge", dependsOn=["validate"]))
    graph_doc = {
        "metadata": {"name": "g"},
        "nodes": [{"id": "n", "type": "action", "config": {"action": "mail"}}],
    }
    assert errors(function_doc, actions=known) == ["$.steps[0].function: unknown action 'setpu'"]
    assert errors(entity_doc, actions=known) == [
        "$.steps[0].action: unknown action 'Customer.crate'"
    ]
    assert errors(service_doc, actions=known) == ["$.steps[1].id: unknown action 'charge'"]
    assert errors(graph_doc, actions=known) == ["$.nodes[0].config.action: unknown action 'mail'"]
    assert errors(function_doc) == []  # a draft: actions not checked


def test_wrong_types_are_reported_at_their_source_paths() -> None:
    document = service(
        fn("a", timeout="soon", required="yes"),
        fn("b", dependsOn="a", retryPolicy={"maxAttempts": 0, "backoff": "exp"}),
        {"id": "c", "type": "parallel", "strategy": "most", "steps": [fn("d", timeout=-5)]},
    )
    assert errors(document) == [
        "$.steps[0].required: expected true or false, got 'yes'",
        "$.steps[0].timeout: expected a number or a duration like '30s', got 'soon'",
        "$.steps[1].dependsOn: expected a list, got 'a'",
        "$.steps[1].retryPolicy.maxAttempts: must be at least 1, got 0",
        "$.steps[1].retryPolicy.backoff: expected 'exponential', 'linear' or 'constant', got 'exp'",
        "$.steps[2].strategy: expected 'all', 'any' or 'first', got 'most'",
        "$.steps[2].steps[0].timeout: must be greater than 0, got -5",
    ]


def test_canonical_documents_report_model_errors_at_their_paths() -> None:
    document = {
        "dialect": "canonical",
        "name": "c",
        "steps": [{"kind": "action", "id": "a", "action": "log", "timeout": "soon"}],
    }
    assert errors(document) == ["$.steps[0].timeout: expected a number, got 'soon'"]


def test_invalid_json_schemas_are_reported_inside_the_schema() -> None:
    document = {
        "name": "f",
        "input": {"type": "objekt", "properties": {"a": {"minLength": -1}}},
        "steps": [{"id": "a", "function": "f"}],
    }
    result = errors(document)
    assert [problem.split(":")[0] for problem in result] == [
        "$.input.properties.a.minLength", "$.input.type",
    ]  # fmt: skip


def test_unknown_keys_are_warnings() -> None:
    document = service(fn("a"), fn("b", dependOn=["a"]))
    assert warnings(document) == ["$.steps[1].dependOn: unknown key 'dependOn' is ignored"]


def test_keys_of_another_step_type_are_warnings() -> None:
    document = service(fn("a", steps=[fn("b")]))
    assert warnings(document) == ["$.steps[0].steps: 'steps' is ignored on a function step"]


# -- everything at once -------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    document = service(
        fn("a", timeout="soon"),
        fn("b", dependsOn=["nope"]),
        fn("b"),
        fn("c", condition="input.x >"),
        fn("d", dependsOn=["e"]),
        fn("e", dependsOn=["d"]),
    )
    problems = errors(document)
    assert len(problems) == 5
    assert [p.split(":")[0] for p in problems] == [
        "$.steps[0].timeout",
        "$.steps[2].id",
        "$.steps[1].dependsOn[0]",
        "$.steps[4]",
        "$.steps[3].condition",
    ]


def test_a_step_that_cannot_be_read_still_counts_as_a_step() -> None:
    document = service({"id": "a", "type": "function", "name": 5}, fn("b", dependsOn=["a"]))
    assert errors(document) == ["$.steps[0].name: expected a string, got 5"]


def test_load_definition_raises_with_every_problem() -> None:
    document = service(fn("a", dependsOn=["x"]), fn("a"))
    with pytest.raises(InvalidDefinition) as caught:
        load_definition(document)
    assert caught.value.problems == [
        Problem("$.steps[1].id", "duplicate step id 'a' (first used at $.steps[0])"),
        Problem("$.steps[0].dependsOn[0]", "unknown step 'x'"),
    ]
    assert str(caught.value) == (
        "invalid workflow definition (2 problems):\n"
        "  $.steps[1].id: duplicate step id 'a' (first used at $.steps[0])\n"
        "  $.steps[0].dependsOn[0]: unknown step 'x'"
    )


# -- warnings -----------------------------------------------------------------------------------


def test_mapping_literals_are_warnings() -> None:
    document = {
        "name": "Lead Assignment",
        "triggerEvent": "Lead.created",
        "steps": [{"action": "Contact.assign", "mapping": {"assignee": "round-robin"}}],
    }
    result = check_definition(document)
    assert result.valid
    assert [str(w) for w in result.warnings] == [
        "$.steps[0].mapping.assignee: mapping value 'round-robin' is not an expression over "
        "known names; it is used as the literal string"
    ]


def test_unused_step_outputs_are_warnings_when_the_output_is_declared() -> None:
    document = {
        "dialect": "canonical",
        "name": "c",
        "output": {"total": "{{steps.price.amount}}"},
        "steps": [
            {"kind": "action", "id": "price", "action": "quote"},
            {"kind": "action", "id": "audit", "action": "log", "depends_on": ["price"]},
        ],
    }
    assert warnings(document) == [
        "$.steps[1]: the output of step 'audit' is never used: no expression nor the workflow "
        "output reads it"
    ]
    del document["output"]
    assert warnings(document) == []


# -- parsing ------------------------------------------------------------------------------------


def test_a_yaml_syntax_error_names_line_and_column() -> None:
    text = "name: broken\nsteps:\n  - id: a\n    type: [function\n"
    result = check_definition(text)
    [problem] = result.errors
    assert problem.path == "$"
    assert problem.message.startswith("invalid YAML at line 5, column 1:")


def test_a_json_syntax_error_names_line_and_column() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse_document('{\n  "name": "x",\n  "steps": [,]\n}', "wf.json")
    [problem] = caught.value.problems
    assert problem == Problem("$", "invalid JSON at line 3, column 13: Expecting value")


def test_the_top_level_must_be_an_object() -> None:
    assert errors("- a\n- b\n") == ["$: expected an object at the top, got a list"]


def test_files_are_read_as_json_or_yaml_by_extension(tmp_path: Path) -> None:
    yaml_file = tmp_path / "wf.yaml"
    yaml_file.write_text("name: y\nsteps:\n  - {id: a, type: function}\n")
    json_file = tmp_path / "wf.json"
    json_file.write_text('{"name": "j", "steps": [{"id": "a", "type": "function"}]}')
    assert load_definition(yaml_file).name == "y"
    assert load_definition(json_file).name == "j"
    assert errors(tmp_path / "missing.yaml")[0].startswith("$: cannot read ")


def test_yaml_dates_stay_strings() -> None:
    document = parse_document("name: y\ncreated: 2024-01-01\n", "wf.yml")
    assert document["created"] == "2024-01-01"
