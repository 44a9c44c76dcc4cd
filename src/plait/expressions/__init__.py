"""Expressions (CEL, accepting the brief's JavaScript forms) and ``{{ }}`` templates.

Everything is compiled when a definition is saved and evaluated per run::

    expression = compile_expression('input.plan === "enterprise"')
    expression.evaluate({"input": {"plan": "enterprise"}})  # True

    template = compile_template({"to": "{{accountSetup.customerEmail}}", "template": "welcome"})
    template.render(scope)
"""

from plait.expressions.cel import (
    FUNCTIONS,
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING,
    BudgetExceeded,
    EvaluationError,
    EvaluationTooCostly,
    Expression,
    ExpressionError,
    ExpressionTooCostly,
    compile_expression,
    truthy,
)
from plait.expressions.cost import cost_limit, current_limit, shared_budget
from plait.expressions.rewrite import rewrite
from plait.expressions.templates import (
    Template,
    TemplateError,
    TemplateTooCostly,
    compile_mapping_value,
    compile_template,
    literal_template,
)

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING",
    "BudgetExceeded",
    "EvaluationError",
    "EvaluationTooCostly",
    "Expression",
    "ExpressionError",
    "ExpressionTooCostly",
    "Template",
    "TemplateError",
    "TemplateTooCostly",
    "compile_expression",
    "compile_mapping_value",
    "compile_template",
    "cost_limit",
    "current_limit",
    "literal_template",
    "rewrite",
    "shared_budget",
    "truthy",
]
