from __future__ import annotations

from typing import Any

import pytest

from plait.expressions import (
    EvaluationError,
    ExpressionError,
    TemplateError,
    compile_mapping_value,
    compile_template,
)

SCOPE: dict[str, Any] = {
    "input": {"customerId": "cust_1", "plan": "enterprise", "industry": "health", "seats": 12},
    "accountSetup": {
        "customerEmail": "ada@example.com",
        "companyName": "Acme",
        "accountUrl": "https://acme.example.com",
    },
    "assignAccountManager": None,
    "deal": {"name": "Big deal", "value": 1000.0, "contact": {"name": "Ada"}},
    "step": [{"$id": "customer_1"}],
}


def render(value: Any, scope: dict[str, Any] | None = None) -> Any:
    return compile_template(value).render(SCOPE if scope is None else scope)


# Exact expressions keep their type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.seats}}", 12),
        ("{{ input.seats }}", 12),
        ("  {{input.seats}}\n", 12),  # a YAML block scalar's trailing newline
        ("{{deal.value}}", 1000.0),
        ("{{deal.contact}}", {"name": "Ada"}),
        ("{{[input.plan, input.seats]}}", ["enterprise", 12]),
        ("{{input.plan === 'enterprise'}}", True),
        ("{{assignAccountManager}}", None),
        ('{{ {"a": {"b": 1}} }}', {"a": {"b": 1}}),  # braces inside the expression
    ],
)
def test_a_string_that_is_one_expression_yields_its_value_with_its_type(
    text: str, expected: Any
) -> None:
    result = render(text)
    assert result == expected
    assert type(result) is type(expected)


# Interpolation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {{accountSetup.companyName}}!", "Hello Acme!"),
        ("{{input.plan}}/{{input.customerId}}", "enterprise/cust_1"),
        ("seats: {{input.seats}}", "seats: 12"),
        ("value: {{deal.value}}", "value: 1000.0"),
        ("flag: {{input.seats > 3}}", "flag: true"),
        ("manager: [{{assignAccountManager}}]", "manager: []"),
        ("contact: {{deal.contact}}", 'contact: {"name":"Ada"}'),
        ("list: {{[1, 'a']}}", 'list: [1,"a"]'),
        ("quote: {{'}}'}}", "quote: }}"),  # a '}}' inside a string literal
    ],
)
def test_embedded_expressions_interpolate(text: str, expected: str) -> None:
    assert render(text) == expected


# Literals


@pytest.mark.parametrize(
    "value",
    ["welcome", "", "{{ not closed", "a } b { c", 42, 1.5, True, None, ["x", {"y": [1]}]],
)
def test_values_without_expressions_are_literal(value: Any) -> None:
    template = compile_template(value)
    assert template.is_literal
    assert template.expressions == []
    assert template.render({}) == value


def test_literal_render_returns_a_copy_callers_may_change() -> None:
    template = compile_template({"topics": ["Implementation", "Training"], "n": 1})
    first = template.render({})
    first["topics"].append("changed")
    assert template.render({}) == {"topics": ["Implementation", "Training"], "n": 1}


def test_literal_parts_of_a_dynamic_template_are_copied_too() -> None:
    template = compile_template({"to": "{{input.customerId}}", "topics": ["a"]})
    template.render(SCOPE)["topics"].append("changed")
    assert template.render(SCOPE)["topics"] == ["a"]


# Nested structures and paths


def test_the_brief_welcome_email_input() -> None:
    template = compile_template(
        {
            "to": "{{accountSetup.customerEmail}}",
            "template": "welcome",
            "variables": {
                "companyName": "{{accountSetup.companyName}}",
                "industry": "{{input.industry}}",
                "accountUrl": "{{accountSetup.accountUrl}}",
            },
            "suggestedTopics": ["Implementation timeline", "Success metrics"],
        }
    )
    assert not template.is_literal
    assert [(path, e.source) for path, e in template.expressions] == [
        ("to", "accountSetup.customerEmail"),
        ("variables.companyName", "accountSetup.companyName"),
        ("variables.industry", "input.industry"),
        ("variables.accountUrl", "accountSetup.accountUrl"),
    ]
    assert template.render(SCOPE) == {
        "to": "ada@example.com",
        "template": "welcome",
        "variables": {
            "companyName": "Acme",
            "industry": "health",
            "accountUrl": "https://acme.example.com",
        },
        "suggestedTopics": ["Implementation timeline", "Success metrics"],
    }


def test_paths_of_list_items_odd_keys_and_the_root() -> None:
    template = compile_template(
        {"items": ["a", "b", "{{input.plan}}"], "odd key": "{{input.seats}}"}
    )
    assert [path for path, _ in template.expressions] == ["items[2]", '["odd key"]']
    assert [path for path, _ in compile_template("{{input.plan}}").expressions] == [""]


def test_render_error_names_the_field_and_the_expression() -> None:
    template = compile_template(
        {"accountManagerEmail": "{{assignAccountManager.email}}", "ok": "{{input.plan}}"}
    )
    with pytest.raises(TemplateError) as caught:
        template.render(SCOPE)
    error = caught.value
    assert isinstance(error, EvaluationError)
    assert error.path == "accountManagerEmail"
    assert error.expression == "assignAccountManager.email"
    assert error.reason == "assignAccountManager is null, so it has no key 'email'"
    assert str(error).startswith(
        "field 'accountManagerEmail': expression 'assignAccountManager.email' failed"
    )


def test_render_error_in_nested_list_interpolation() -> None:
    template = compile_template({"lines": ["ok", "Dear {{accountSetup.contactName}}"]})
    with pytest.raises(TemplateError) as caught:
        template.render(SCOPE)
    assert caught.value.path == "lines[1]"
    assert "no key 'contactName' in accountSetup" in caught.value.reason


def test_compile_error_names_the_field() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_template({"variables": {"companyName": "Hi {{accountSetup. }}"}})
    error = caught.value
    assert error.path == "variables.companyName"
    assert error.expression == "accountSetup."
    assert error.position is not None
    assert str(error).startswith("field 'variables.companyName': expression 'accountSetup.'")


def test_empty_braces_do_not_compile() -> None:
    with pytest.raises(ExpressionError, match="empty"):
        compile_template("{{ }}")


# Mapping values: each value is an expression, unless it reads unknown names


KNOWN = {"deal", "step", "steps", "results", "input", "event", "now"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deal.name", "Big deal"),
        ("deal.contact", {"name": "Ada"}),
        ("step.0.$id", "customer_1"),
        ('"Onboarding: " + deal.name', "Onboarding: Big deal"),
        ("deal.value * 0.1", 100.0),
        ("'round-robin'", "round-robin"),  # quoted: a string expression, not a literal
        ("42", 42),
        ("{{deal.name}}", "Big deal"),  # templates are templates
        ("Deal {{deal.name}}", "Deal Big deal"),
    ],
)
def test_mapping_values_that_are_expressions(text: str, expected: Any) -> None:
    template, literal = compile_mapping_value(text, KNOWN)
    assert literal is False
    assert template.render(SCOPE) == expected


@pytest.mark.parametrize(
    "text",
    [
        "round-robin",  # compiles as round - robin: unknown names
        "Call",  # an unknown name
        "Task",
        "lead.name",  # the trigger noun is not lead
        "hello world",  # does not compile
        "",
    ],
)
def test_mapping_values_that_read_unknown_names_are_literal(text: str) -> None:
    template, literal = compile_mapping_value(text, KNOWN)
    assert literal is True
    assert template.is_literal
    assert template.render(SCOPE) == text


def test_mapping_value_reads_only_known_names_with_macros() -> None:
    template, literal = compile_mapping_value("deal.items.map(i, i.price)", {"deal"})
    assert literal is False
    assert template.render({"deal": {"items": [{"price": 2}]}}) == [2]
