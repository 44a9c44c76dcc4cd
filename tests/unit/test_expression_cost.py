"""The cost bound of expressions: refused when saved if the cost needs no data, stopped before
evaluation if the data makes it too costly, and ordinary expressions unchanged."""

from __future__ import annotations

import pytest

from plait.expressions import (
    BudgetExceeded,
    EvaluationTooCostly,
    ExpressionTooCostly,
    TemplateError,
    TemplateTooCostly,
    compile_expression,
    compile_template,
    cost_limit,
    shared_budget,
)
from plait.settings import Settings
from tests.cpu import cpu_seconds

LITERAL = "[" + ",".join(str(i) for i in range(1, 41)) + "]"
FOUR_MAPS = (
    f"{LITERAL}.map(a, {LITERAL}.map(b, {LITERAL}.map(c, {LITERAL}.map(d, a * b * c * d))))"
    ".size() > 0"
)
"""The report's filter: four nested ``map`` over a 40-item list literal (30-40 s, 400 MB)."""
PAIRS = "event.data.items.map(a, event.data.items.map(b, a * b)).size() > 0"
"""A cost that depends on the event: quadratic in the number of items."""


def names_the_limit(message: str, limit: str = "1,000,000") -> bool:
    return (
        f"the limit is {limit}" in message
        and "max_expression_cost" in message
        and "PLAIT_MAX_EXPRESSION_COST" in message
    )


def test_the_reported_filter_is_within_the_length_and_nesting_caps() -> None:
    assert len(FOUR_MAPS) < 2000 and abs(len(FOUR_MAPS) - 495) < 40
    compile_expression(FOUR_MAPS)  # it compiles: only its cost is refused


def test_the_reported_filter_is_refused_whatever_the_data() -> None:
    expression = compile_expression(FOUR_MAPS)
    with pytest.raises(ExpressionTooCostly) as refused:
        expression.check_cost()
    assert refused.value.limit == Settings().max_expression_cost
    assert refused.value.value > 100 * refused.value.limit
    assert refused.value.setting == "max_expression_cost"
    message = str(refused.value)
    assert names_the_limit(message) and f"{refused.value.value:,} units" in message
    assert "is refused" in message


def test_the_reported_filter_is_not_evaluated_at_all() -> None:
    started = cpu_seconds()
    with pytest.raises(EvaluationTooCostly) as stopped:
        compile_expression(FOUR_MAPS).evaluate({})
    assert cpu_seconds() - started < 0.5  # not 30 s
    assert names_the_limit(str(stopped.value))


def test_a_cost_that_depends_on_the_data_is_checked_with_the_real_sizes() -> None:
    expression = compile_expression(PAIRS)
    expression.check_cost()  # nothing to refuse when saved: it depends on the event
    small = {"event": {"data": {"items": list(range(10))}}}
    assert expression.evaluate(small) is True
    large = {"event": {"data": {"items": list(range(5000))}}}
    started = cpu_seconds()
    with pytest.raises(EvaluationTooCostly) as stopped:
        expression.evaluate(large)
    assert cpu_seconds() - started < 0.5
    assert stopped.value.value > stopped.value.limit
    assert names_the_limit(str(stopped.value)) and "with these values" in str(stopped.value)


def test_the_limit_in_force_is_the_one_set_for_the_context() -> None:
    expression = compile_expression(PAIRS)
    scope = {"event": {"data": {"items": list(range(200))}}}
    cost = expression.cost.at(scope, 10**9)
    assert expression.evaluate(scope, cost_limit=cost + 10**4) is True
    with cost_limit(cost // 2), pytest.raises(EvaluationTooCostly) as stopped:
        expression.evaluate(scope)
    assert names_the_limit(str(stopped.value), f"{cost // 2:,}")
    with cost_limit(10**9):
        assert expression.evaluate(scope) is True


def test_ordinary_expressions_cost_a_fixed_few_units() -> None:
    for text in ('input.plan == "enterprise"', "input.seats > 10 && !input.trial",
                 "has(input.email) ? input.email : null", "{{ accountSetup.customerEmail }}"[3:-3],
                 "steps.fetch.status == 200"):  # fmt: skip
        cost = compile_expression(text).cost
        assert cost.fixed is not None and cost.fixed < 50, (text, cost)


def test_list_and_string_growth_is_bounded_by_the_same_estimate() -> None:
    """Memory: a value of n items (or 16 n characters) costs at least n units to build."""
    lists = compile_expression("xs.map(x, xs).size()")
    with pytest.raises(EvaluationTooCostly):
        lists.evaluate({"xs": list(range(2000))})  # would hold 4 M values
    assert lists.evaluate({"xs": list(range(20))}) == 20
    text = compile_expression("s.replace('', s).size()")
    with pytest.raises(EvaluationTooCostly):
        text.evaluate({"s": "x" * 5000})  # would build a 25 M character string
    assert text.evaluate({"s": "ab"}) == 8  # "ab" + "a" + "ab" + "b" + "ab"


def test_a_pattern_the_regex_engine_takes_long_to_compile_is_refused() -> None:
    with pytest.raises(ExpressionTooCostly):
        compile_expression(r"input.name.matches('\\w{1000}')").check_cost()
    date = compile_expression(r"input.day.matches('^\\d{4}-\\d{2}-\\d{2}$')")
    date.check_cost()
    assert date.evaluate({"input": {"day": "2026-12-06"}}) is True
    read = compile_expression("input.name.matches(input.pattern)")
    with pytest.raises(EvaluationTooCostly):
        read.evaluate({"input": {"name": "a", "pattern": "((a{1,50}){1,50}){1,50}"}})
    assert read.evaluate({"input": {"name": "ab", "pattern": "^a"}}) is True


def test_nested_comprehensions_over_items_use_the_size_of_the_items() -> None:
    """An order's lines are measured as the largest item, not as the whole list."""
    expression = compile_expression("orders.exists(o, o.lines.exists(l, l.sku == 'X'))")
    orders = [{"lines": [{"sku": "A"}] * 10} for _ in range(100)]
    assert expression.evaluate({"orders": orders}) is False
    whole = expression.cost.at({"orders": orders}, 10**9)
    assert whole < 200_000  # bounding each order by all the orders would make it ~7 M


def test_values_handed_to_cel_are_counted() -> None:
    """Converting a value for CEL takes time too (a string about 3 us)."""
    expression = compile_expression("xs.size() > 0")
    with pytest.raises(EvaluationTooCostly):
        expression.evaluate({"xs": [f"item {i}" for i in range(100_000)]})
    assert expression.evaluate({"xs": [f"item {i}" for i in range(1000)]}) is True


# The reviewer's findings: what the first estimate missed.

WORD_BOUNDARIES = r"input.s.matches('(\\b.){100}x')"
"""A Unicode ``\\b`` over non-ASCII text sends the regex engine down its slow path, whose time
is the text's length times the size of the compiled pattern (13.3 s on 'é ' * 500,000)."""


def test_matching_costs_the_text_times_the_pattern() -> None:
    expression = compile_expression(WORD_BOUNDARIES)
    expression.check_cost()  # its cost depends on the text
    text = {"input": {"s": "é " * 500_000}}
    assert expression.cost.at(text, 10**12) > 100 * Settings().max_expression_cost
    started = cpu_seconds()
    with pytest.raises(EvaluationTooCostly) as stopped:
        expression.evaluate(text)
    assert cpu_seconds() - started < 0.5  # not 13 s
    assert names_the_limit(str(stopped.value))
    wider = compile_expression(r"input.s.matches('(\\b.){300}')")
    with pytest.raises(EvaluationTooCostly):
        wider.evaluate({"input": {"s": "é" * 200_000}})  # 6.2 s
    assert expression.evaluate({"input": {"s": "é " * 100}}) is False


def test_matching_a_pattern_read_from_the_scope_costs_its_size_too() -> None:
    read = compile_expression("input.s.matches(input.pattern)")
    scope = {"input": {"s": "é " * 100_000, "pattern": r"(\b.){100}x"}}
    with pytest.raises(EvaluationTooCostly):
        read.evaluate(scope)
    assert read.evaluate({"input": {"s": "é " * 100_000, "pattern": "^é"}}) is True


def test_ordinary_matching_stays_cheap() -> None:
    email = compile_expression(r"input.email.matches('^[a-z.]+@[a-z]+\\.[a-z]+$')")
    scope = {"input": {"email": "ada.lovelace@example.com"}}
    assert email.cost.at(scope, 10**9) < 3_000
    assert email.evaluate(scope) is True


def test_a_list_literal_costs_the_values_it_copies() -> None:
    """``[m, m, ...]`` copies ``m`` deeply each time it is built (4.7 s estimated at 42 K)."""
    copies = ",".join(["data.m"] * 100)
    expression = compile_expression(f"data.l.exists(y, size([{copies}]) < 0)")
    scope = {"data": {"l": list(range(100)), "m": {f"k{i}": i for i in range(10_000)}}}
    started = cpu_seconds()
    with pytest.raises(EvaluationTooCostly) as stopped:
        expression.evaluate(scope)
    assert cpu_seconds() - started < 0.5
    assert stopped.value.value > 100 * stopped.value.limit
    small = {"data": {"l": [1, 2], "m": {"a": 1}}}
    assert expression.evaluate(small) is False


def test_a_map_literal_costs_the_values_it_copies() -> None:
    copies = ", ".join(f"'k{i}': data.m" for i in range(100))
    expression = compile_expression(f"data.l.exists(y, size({{{copies}}}) < 0)")
    scope = {"data": {"l": list(range(100)), "m": {f"k{i}": i for i in range(10_000)}}}
    with pytest.raises(EvaluationTooCostly):
        expression.evaluate(scope)


def test_converting_a_large_result_back_is_counted() -> None:
    """``[l, l, ...]`` returns 240 copies of ``l``: 10.4 s and 2.4 GB for 100,000 items."""
    expression = compile_expression("[" + ",".join(["input.l"] * 240) + "]")
    started = cpu_seconds()
    with pytest.raises(EvaluationTooCostly):
        expression.evaluate({"input": {"l": list(range(100_000))}})
    assert cpu_seconds() - started < 0.5
    result = expression.evaluate({"input": {"l": [1, 2]}})
    assert result == [[1, 2]] * 240
    plain = compile_expression("input.l")  # one chain: a copy of the value, made without CEL
    assert plain.cost.fixed is not None


# One budget per render: the expressions of a template add up.


def test_the_expressions_of_one_template_share_the_limit() -> None:
    """300 expressions of 147 K units each in one template: 3.2 s per render before."""
    dear = "input.l.map(a, input.l.map(b, a)).size()"
    template = compile_template({f"f{i}": f"{{{{ {dear} }}}}" for i in range(300)})
    scope = {"input": {"l": list(range(60))}}
    each = compile_expression(dear).estimate(scope)
    assert each < Settings().max_expression_cost  # each alone is within the limit
    started = cpu_seconds()
    with pytest.raises(TemplateError) as stopped:
        template.render(scope)
    assert cpu_seconds() - started < 0.5
    message = str(stopped.value)
    assert names_the_limit(message) and "the expressions of this template together" in message
    assert isinstance(stopped.value.__cause__, BudgetExceeded)
    assert stopped.value.__cause__.value <= Settings().max_expression_cost + each
    assert template.render({"input": {"l": [1, 2]}})["f299"] == 2


def test_a_template_too_costly_whatever_the_data_evaluates_nothing() -> None:
    dear = "[" + ",".join(["1"] * 400) + "].map(a, a + 1).size()"
    template = compile_template([f"{{{{ {dear} }}}}"] * 300)
    assert compile_expression(dear).cost.least < Settings().max_expression_cost
    with pytest.raises(TemplateTooCostly) as refused:
        template.check_cost()
    assert refused.value.value == template.least > refused.value.limit
    with pytest.raises(TemplateTooCostly):
        template.render({})
    assert "a template of 300 expressions is refused" in str(refused.value)
    assert names_the_limit(str(refused.value))


def test_a_render_inside_a_shared_budget_spends_from_it() -> None:
    dear = "input.l.map(a, input.l.map(b, a)).size()"
    scope = {"input": {"l": list(range(60))}}
    each = compile_expression(dear).estimate(scope)
    template = compile_template(f"{{{{ {dear} }}}}")
    with shared_budget("the fields of this task", limit=each * 2 + 10):
        template.render(scope)
        template.render(scope)
        with pytest.raises(TemplateError) as stopped:
            template.render(scope)
    assert "the estimated cost of the fields of this task is at least" in str(stopped.value)
    template.render(scope)  # outside: the limit is its own again
