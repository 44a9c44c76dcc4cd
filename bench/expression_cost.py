"""How the cost estimate of expressions compares with the time CEL takes.

    python bench/expression_cost.py            # calibration: ns per estimated unit
    python bench/expression_cost.py --hot      # the per-evaluation overhead of the estimate

The calibration evaluates expressions that stress each part of the estimate (comprehension
bodies, the deep copies of ``map``, ``filter`` and literals, handing values to CEL and back,
library functions, the regex engine's slow path)
with a limit high enough to let them run, and prints the estimate, the time and their ratio.
The estimate is an upper bound when every ratio stays under ~100-150 ns per unit, so that the
default ``max_expression_cost`` of 1,000,000 units is ~100 ms of evaluation at most.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from plait.expressions import compile_expression

LITERAL = "[" + ",".join(str(i) for i in range(40)) + "]"
RECORDS = [{f"field{j}": (j if j % 2 else f"value{j}") for j in range(10)} for _ in range(1000)]

CASES: list[tuple[str, dict[str, Any]]] = [
    ("xs.all(a, a+a+a+a+a+a+a+a+a+a+a >= 0)", {"xs": list(range(20_000))}),
    ("xs.exists(a, a < 0)", {"xs": list(range(50_000))}),
    ("xs.map(x, x + 1).size()", {"xs": list(range(3_000))}),
    ("xs.filter(x, x >= 0).size()", {"xs": list(range(3_000))}),
    ("xs.map(a, ys).size()", {"xs": list(range(300)), "ys": list(range(40))}),
    ("xs.filter(x, x.field1 >= 0).size()", {"xs": RECORDS[:300]}),
    ("xs.map(a, xs.map(b, a * b)).size()", {"xs": list(range(150))}),
    (f"{LITERAL}.map(a, {LITERAL}.map(b, {LITERAL}.map(c, a * b * c))).size()", {}),
    (f"{LITERAL}.all(a, {LITERAL}.all(b, {LITERAL}.all(c, a * b * c >= 0)))", {}),
    ("xs.size() > 0", {"xs": RECORDS}),
    ("xs.size() > 0", {"xs": [f"s{i}" for i in range(20_000)]}),
    ("xs.size() > 0", {"xs": [i / 3 for i in range(20_000)]}),
    ("-1 in xs", {"xs": list(range(100_000))}),
    ("xs == ys", {"xs": list(range(100_000)), "ys": list(range(100_000))}),
    ("(s + s).size()", {"s": "x" * 1_000_000}),
    ("s.split(',').size()", {"s": "a," * 20_000}),
    ("xs.join(',').size()", {"xs": ["a"] * 20_000}),
    ("s.lowerAscii().size()", {"s": "A" * 100_000}),
    ("xs.sort().size()", {"xs": [f"s{i}" for i in range(10_000)]}),
    ("xs.distinct().size()", {"xs": list(range(2_000))}),
    ("s.replace('', 'ab').size()", {"s": "A" * 100_000}),
    ("s.matches('((a{1,30}){1,30}){1,30}')", {"s": "aaaa"}),
    # the regex engine's slow path: a Unicode \\b over non-ASCII text
    ("s.matches('(\\\\b.){100}x')", {"s": "\u00e9 " * 50_000}),
    ("s.matches('(\\\\b.){1000}x')", {"s": "\u00e9 " * 10_000}),
    # literals copy what they hold; a built result is converted back
    ("size([" + ",".join(["xs"] * 20) + "])", {"xs": list(range(10_000))}),
    ("size([" + ",".join(["m"] * 20) + "])", {"m": {f"k{i}": i for i in range(5_000)}}),
    ("[" + ",".join(["xs"] * 20) + "]", {"xs": list(range(10_000))}),
    ("[" + ",".join(["xs"] * 20) + "]", {"xs": [f"s{i}" for i in range(10_000)]}),
]


def estimate(text: str, scope: dict[str, Any]) -> int:
    return compile_expression(text).estimate(scope, cost_limit=10**12)


def seconds(text: str, scope: dict[str, Any], repeat: int = 3) -> float:
    expression = compile_expression(text)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        expression.evaluate(scope, cost_limit=10**12)
        best = min(best, time.perf_counter() - started)
    return best


def calibrate() -> None:
    print(f"{'ns/unit':>8} {'units':>13} {'ms':>9}  expression")
    for text, scope in CASES:
        units, spent = estimate(text, scope), seconds(text, scope)
        print(f"{spent * 1e9 / units:8.1f} {units:13,} {spent * 1e3:9.2f}  {text[:70]}")


def hot() -> None:
    scope = {"input": {"plan": "enterprise", "seats": 12, "name": "Ada"}}
    for text in ('input.plan == "enterprise"', '"Hello " + input.name', "input.seats > 10"):
        expression = compile_expression(text)
        loops = 20_000
        started = time.perf_counter()
        for _ in range(loops):
            expression.evaluate(scope)
        each = (time.perf_counter() - started) / loops
        started = time.perf_counter()
        for _ in range(loops):
            expression.cost.at(scope, 1_000_000) if expression.cost.fixed is None else None
        check = (time.perf_counter() - started) / loops
        print(f"{each * 1e6:7.2f} us per evaluation, of which {check * 1e6:5.2f} us measuring "
              f"sizes  {text}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hot", action="store_true", help="per-evaluation overhead only")
    hot() if parser.parse_args().hot else calibrate()
