from __future__ import annotations

from typing import Any

import cel
import pytest

from plait.expressions import (
    FUNCTIONS,
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING,
    EvaluationError,
    ExpressionError,
    compile_expression,
    rewrite,
)

# The brief's customer onboarding run, after accountSetup; assignAccountManager was skipped.
SCOPE: dict[str, Any] = {
    "input": {"customerId": "cust_1", "plan": "professional", "companySize": "enterprise"},
    "accountSetup": {"customerEmail": "ada@example.com", "companyName": "Acme"},
    "assignAccountManager": None,
    "deal": {"name": "Big deal", "value": 50_000.0, "count": 3, "contact": {"name": "Ada"}},
    "event": {"type": "Account.created", "data": {"account": "acc_1"}},
    "steps": {"account": {"id": "acc_1"}},
    "step": [{"$id": "customer_1", "name": "Acme"}],
}


def evaluate(text: str, scope: dict[str, Any] | None = None) -> Any:
    return compile_expression(text).evaluate(SCOPE if scope is None else scope)


def failure(text: str, scope: dict[str, Any] | None = None) -> EvaluationError:
    with pytest.raises(EvaluationError) as caught:
        evaluate(text, scope)
    return caught.value


# Rewriting the brief's JavaScript forms


@pytest.mark.parametrize(
    ("js", "cel"),
    [
        ("a === b", "a == b"),
        ("a !== b", "a != b"),
        ("a == b && c != d || !e", "a == b && c != d || !e"),
        ("x === null || y === true || z === false", "x == null || y == true || z == false"),
        ("x === undefined", "x == null"),
        ("x.undefined", "x.undefined"),
        ("step.0", "step[0]"),
        ("step.0.$id", 'step[0]["$id"]'),
        ("a.0.1", "a[0][1]"),
        ("f(x).0", "f(x)[0]"),
        ("workflow.$id", 'workflow["$id"]'),
        ("a.$id.$type", 'a["$id"]["$type"]'),
        ("1.5 + .5 * 2.0e3", "1.5 + .5 * 2.0e3"),
        ("!!assignAccountManager", "truthy(assignAccountManager)"),
        ("!! x", "truthy(x)"),
        ("!!!x", "!truthy(x)"),
        ("!!!!x", "truthy(x)"),
        ("!!a.b[0].c", "truthy(a.b[0].c)"),
        ("!!a.b.size()", "truthy(a.b.size())"),
        ("!!f(!!x)", "truthy(f(truthy(x)))"),
        ("!!(a || b) && c", "truthy((a || b)) && c"),
        ("!!step.0.$id", 'truthy(step[0]["$id"])'),
        ("!x", "!x"),
        ("a.in || a.null", 'a["in"] || a["null"]'),  # CEL keywords cannot follow a "."
    ],
)
def test_rewrite_turns_javascript_forms_into_cel(js: str, cel: str) -> None:
    assert rewrite(js) == cel


@pytest.mark.parametrize(
    "js",
    [
        '"a === b"',
        "'a !== b'",
        '"!!x and step.0.$id and undefined"',
        "'it\\'s === \"quoted\"'",
        '"""triple === quoted"""',
        "r'raw \\ === '",
    ],
)
def test_rewrite_never_changes_string_literals(js: str) -> None:
    assert rewrite(js) == js


def test_rewrite_changes_code_around_strings_with_escaped_quotes() -> None:
    assert rewrite('x === "say \\"===\\"" && y !== \'a\'') == 'x == "say \\"===\\"" && y != \'a\''


def test_single_and_double_quoted_strings_are_both_valid() -> None:
    assert evaluate("'enterprise' === \"enterprise\"", {}) is True


# Compile-time errors and caps


def test_syntax_error_shows_expression_and_zero_based_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a ==")
    error = caught.value
    assert error.expression == "a =="
    assert error.position == 4
    assert "syntax error" in error.reason
    assert str(error).startswith("expression 'a ==' does not compile at position 4: syntax error")


def test_error_position_refers_to_the_source_not_the_rewritten_text() -> None:
    # "a === b +" becomes "a == b +": the end of the source is offset 9, not 8.
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a === b +")
    assert caught.value.position == 9


def test_error_position_on_a_later_line() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a &&\n  b ) c")
    assert caught.value.position == 9


def test_empty_expression_does_not_compile() -> None:
    with pytest.raises(ExpressionError, match="empty"):
        compile_expression("   ")


def test_expression_length_is_capped() -> None:
    longest = "a" * MAX_EXPRESSION_LENGTH
    assert compile_expression(longest).names == {longest}
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a" * (MAX_EXPRESSION_LENGTH + 1))
    assert f"the limit is {MAX_EXPRESSION_LENGTH}" in caught.value.reason
    assert len(str(caught.value)) < 300  # the message shortens the expression


def test_nesting_depth_is_capped_and_the_position_names_the_bracket() -> None:
    deepest = "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert evaluate(deepest, {}) == 1
    with pytest.raises(ExpressionError) as caught:
        compile_expression("x + " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1))
    assert "nesting depth 13" in caught.value.reason
    assert caught.value.position == 4 + MAX_NESTING


def test_macros_and_calls_count_towards_nesting() -> None:
    nested = "a" + ".map(x, [x" * 6 + "])" * 6  # 12 levels: six calls, six lists
    compile_expression(nested)
    with pytest.raises(ExpressionError, match="nesting depth"):
        compile_expression("size(" + nested + ")")


def test_compiled_expressions_are_cached_by_text() -> None:
    assert compile_expression("input.plan") is compile_expression("input.plan")


# Names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("input.plan === 'enterprise' || accountSetup.companyName", {"input", "accountSetup"}),
        ("items.all(x, x > 0)", {"items"}),
        ("items.map(item, item.price * rate)", {"items", "rate"}),
        ("x.exists(x, x == 1)", {"x"}),  # the list is the outer x
        ("size(order.items) > 0 && order.total.startsWith('1')", {"order"}),
        ("{'k': value}['k'] == null", {"value"}),
        ("'text' + \"more\"", set()),
        ("!!assignAccountManager", {"assignAccountManager"}),
        ('results["verify-identity"].verified === true', {"results"}),
    ],
)
def test_names_are_the_top_level_names_read(text: str, names: set[str]) -> None:
    expression = compile_expression(text)
    assert expression.names == names
    assert expression.source == text


# The brief's examples


def test_brief_condition_with_strict_equality() -> None:
    text = 'input.plan === "enterprise" || input.companySize === "enterprise"'
    assert evaluate(text) is True
    assert evaluate(text, {"input": {"plan": "starter", "companySize": "small"}}) is False


def test_brief_truthiness_of_a_step_that_may_have_been_skipped() -> None:
    assert evaluate("!!assignAccountManager") is False
    assert evaluate("!!assignAccountManager", {"assignAccountManager": {"email": "x"}}) is True
    assert evaluate("!!assignAccountManager", {}) is False  # not bound at all


def test_brief_mapping_arithmetic_and_event_filter() -> None:
    assert evaluate("deal.value * 0.1") == pytest.approx(5000.0)
    assert evaluate("event.data.account == steps.account.id") is True
    assert evaluate('"Welcome call with " + deal.contact.name') == "Welcome call with Ada"
    assert evaluate("step.0.$id") == "customer_1"
    results = {"results": {"verify-identity": {"verified": True}}}
    assert evaluate('results["verify-identity"].verified === true', results) is True


# Truthiness


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        (True, True),
        (1, True),
        (-0.5, True),
        ("no", True),
        ([0], True),
        ({"a": None}, True),
    ],
)
def test_truthiness(value: Any, expected: bool) -> None:
    assert evaluate("!!x", {"x": value}) is expected
    assert evaluate("!!!x", {"x": value}) is (not expected)


def test_double_negation_of_a_missing_member_is_an_error_not_false() -> None:
    error = failure("!!accountSetup.managerEmail")
    assert "no key 'managerEmail' in accountSetup" in error.reason


def test_truthiness_guards_a_member_access() -> None:
    text = "!!assignAccountManager && assignAccountManager.email == 'x'"
    assert evaluate(text) is False
    assert evaluate(text, {}) is False
    assert evaluate(text, {"assignAccountManager": {"email": "x"}}) is True


# Numbers


def test_int_and_double_compare_with_each_other() -> None:
    assert evaluate("deal.count < 3.5") is True
    assert evaluate("deal.count == 3.0") is True
    assert evaluate("deal.value > 100") is True
    assert evaluate("deal.count in [1.0, 3.0]") is True


def test_mixing_int_and_double_in_arithmetic_is_a_clear_error() -> None:
    error = failure("deal.count * 0.1")
    assert error.reason.startswith("type error:")
    assert "double(x)" in error.reason
    assert evaluate("double(deal.count) * 0.5") == 1.5


# Run-time errors


def test_missing_key_names_the_key_and_the_object() -> None:
    error = failure("accountSetup.customerEmail2")
    assert error.expression == "accountSetup.customerEmail2"
    assert error.reason.startswith("no key 'customerEmail2' in accountSetup")
    assert "'customerEmail'" in error.reason  # the keys it does have
    assert str(error).startswith("expression 'accountSetup.customerEmail2' failed: no key")


def test_missing_nested_key_names_the_path() -> None:
    error = failure("event.data.account == steps.account.name")
    assert error.reason.startswith("no key 'name' in steps.account")


def test_missing_key_through_brackets_and_list_items() -> None:
    assert "no key 'email' in step[0]" in failure("step.0.email").reason
    assert "index 3 is out of range for step (length 1)" in failure("step.3.$id").reason


def test_member_of_null_says_which_name_is_null() -> None:
    error = failure("assignAccountManager.email")
    assert error.reason == "assignAccountManager is null, so it has no key 'email'"


def test_member_of_a_string_says_so() -> None:
    assert "accountSetup.companyName is a string" in failure("accountSetup.companyName.x").reason


def test_undefined_name_lists_the_names_available() -> None:
    error = failure("foo + 1", {"input": {}, "event": {}})
    assert error.reason == "undefined name 'foo' (names available: event, input)"


def test_unknown_function_and_wrong_argument_types() -> None:
    assert failure("frobnicate(1)", {}).reason == "unknown function 'frobnicate'"
    assert "size() does not accept" in failure("size(deal.count)").reason


def test_missing_key_inside_a_macro_still_names_the_key() -> None:
    error = failure("items.map(x, x.price)", {"items": [{"cost": 1}]})
    assert "no key 'price'" in error.reason


def test_division_by_zero() -> None:
    assert failure("deal.count / 0").reason == "division by zero"


def test_failing_library_function_is_an_evaluation_error_without_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = failure("'abc'.substring(5)", {})
    assert error.reason.startswith("substring() failed:")
    assert capsys.readouterr().err == ""
    assert evaluate("' Ada '.trim().lowerAscii()", {}) == "ada"  # the next call is clean


def test_has_tests_presence_without_failing() -> None:
    assert evaluate("has(accountSetup.customerEmail)") is True
    assert evaluate("has(accountSetup.managerEmail)") is False
    assert evaluate("has(deal.contact.phone) ? deal.contact.phone : 'none'") == "none"


# Values


def test_results_have_their_json_types() -> None:
    assert evaluate("deal.contact") == {"name": "Ada"}
    assert evaluate("[input.plan, deal.count, deal.value, true, null]") == [
        "professional",
        3,
        50_000.0,
        True,
        None,
    ]


def test_results_never_alias_the_scope() -> None:
    contact = evaluate("deal.contact")
    contact["name"] = "changed"
    assert SCOPE["deal"]["contact"]["name"] == "Ada"


def test_only_the_names_read_are_needed_in_scope() -> None:
    assert evaluate("input.plan", {"input": {"plan": "p"}}) == "p"


def test_whole_values_stay_whole_when_an_expression_also_reads_them_whole() -> None:
    assert evaluate("size(deal) == 4 && deal.name == 'Big deal'") is True
    assert evaluate("has(deal.contact.name) && size(deal.contact) == 1") is True
    assert evaluate("deal.contact.name + string(size(deal))") == "Ada4"


# The fast path (member chains bound in Python) must agree with plain CEL


SCOPES: list[dict[str, Any]] = [
    {"a": {"b": {"c": 1, "d": [1, 2]}, "e": "x"}, "items": [{"k": 1}, {"k": 2}], "n": None},
    {"a": {"b": None, "e": ""}, "items": [], "n": {"m": 1}},
    {"a": {"b": {"c": "text"}}, "items": [{"j": 1}], "n": None},
    {"a": {}, "items": [1], "n": 0},
    {"a": [], "items": {"x": 1}, "n": 1},
]
CHAIN_EXPRESSIONS = [
    "a.b.c",
    "a.b.c + 1",
    "has(a.b.c)",
    "has(a.b) && a.b.c == 1",
    "a.b == null || a.b.c == 1",
    "a.b.d[1]",
    "size(a.b.d) + a.b.c",
    "items[0].k",
    "items.map(x, x.k)",
    "items.exists(x, x.k == a.b.c)",
    'a["b"]["c"]',
    'a.e.startsWith("x")',
    "!!n && n.m == 1",
    'a.b.c == 1 ? a.e : "no"',
    '{"k": a.b.c}.k',
    "[a.b.c, a.e]",
    "type(a.b) == map",
    "a",
]


@pytest.mark.parametrize("text", CHAIN_EXPRESSIONS)
def test_evaluation_agrees_with_plain_cel(text: str) -> None:
    program = cel.compile(rewrite(text))
    functions = {name: FUNCTIONS[name] for name in program.functions() if name in FUNCTIONS}
    for scope in SCOPES:
        try:
            expected: Any = program.execute({**scope, **functions})
        except Exception:
            expected = EvaluationError
        try:
            got: Any = compile_expression(text).evaluate(scope)
        except EvaluationError:
            got = EvaluationError
        assert (got, type(got)) == (expected, type(expected)), scope
