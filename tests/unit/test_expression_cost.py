"""The cost bound of expressions: refused when saved if the cost needs no data, stopped before
evaluation if the data makes it too costly, and ordinary expressions unchanged."""

from __future__ import annotations

import time

import pytest

from plait.expressions import (
    EvaluationTooCostly,
    ExpressionTooCostly,
    compile_expression,
    cost_limit,
)
from plait.settings import Settings

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
    started = time.perf_counter()
    with pytest.raises(EvaluationTooCostly) as stopped:
        compile_expression(FOUR_MAPS).evaluate({})
    assert time.perf_counter() - started < 0.5  # not 30 s
    assert names_the_limit(str(stopped.value))


def test_a_cost_that_depends_on_the_data_is_checked_with_the_real_sizes() -> None:
    expression = compile_expression(PAIRS)
    expression.check_cost()  # nothing to refuse when saved: it depends on the event
    small = {"event": {"data": {"items": list(range(10))}}}
    assert expression.evaluate(small) is True
    large = {"event": {"data": {"items": list(range(5000))}}}
    started = time.perf_counter()
    with pytest.raises(EvaluationTooCostly) as stopped:
        expression.evaluate(large)
    assert time.perf_counter() - started < 0.5
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
