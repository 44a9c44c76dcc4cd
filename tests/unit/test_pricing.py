"""Pricing models (brief 003) evaluated on runs of known steps and durations, with the brief's
formulas in exact decimals; and their validation, with a JSON path for each problem."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from plait.definitions.load import check_definition
from plait.definitions.pricing import code_pricing
from plait.definitions.validate import InvalidDefinition
from plait.runtime.pricing import Pricing, parse, priced_steps
from plait.store.costs import PricedRun
from plait.store.records import StepRecord

DOCUMENTS: dict[str, Any] = {
    "model": "per-execution",
    "baseRate": 0.5,
    "stepRates": {"ocr": 0.25, "classify": 0.1, "extract": 0.15, "validate": 0.05},
    "discounts": {"volume": [
        {"min": 100, "max": 1000, "discount": 0.1},
        {"min": 1001, "max": 10000, "discount": 0.2},
        {"min": 10001, "max": None, "discount": 0.3},
    ]},
}  # fmt: skip
VIDEO: dict[str, Any] = {
    "model": "time-based", "rate": 0.1, "minimum": 1.0, "maximum": 100.0,
    "stepMultipliers": {"transcode": 1.5, "analyze": 1.2, "generate-thumbnails": 0.8},
}  # fmt: skip
T0 = 1_800_000_000.0


def step(key: str, status: str = "completed", start: float = 0.0, end: float = 1.0,
         kind: str = "step", position: int = 0) -> StepRecord:  # fmt: skip
    return StepRecord(key, position, key.split("#")[0], kind, status, 1,
                      started_at=T0 + start, finished_at=T0 + end)  # fmt: skip


def run(*steps: StepRecord, seconds: float = 10.0) -> PricedRun:
    return PricedRun("run_x", "default", "w", T0, T0 + seconds, list(steps))


def total(pricing: Pricing, priced: PricedRun, volume: int = 1) -> Decimal:
    return pricing.price(priced).at(volume)[0]


def sequential(*names: str, failed: str = "") -> list[StepRecord]:
    return [step(n, "failed" if n == failed else "completed", i, i + 1, position=i)
            for i, n in enumerate(names)]  # fmt: skip


def test_document_processing_charges_base_and_completed_steps() -> None:
    pricing = parse(DOCUMENTS)
    done = run(*sequential("ocr", "classify", "extract", "validate"))
    assert total(pricing, done) == Decimal("1.05")  # 0.5 + 0.25 + 0.1 + 0.15 + 0.05
    # A failed step is not completed: it adds nothing.
    assert total(pricing, run(*sequential("ocr", "classify", "extract", "validate",
                                          failed="validate"))) == Decimal("1.00")  # fmt: skip
    # A step without a rate adds nothing either.
    assert total(pricing, run(*sequential("ocr", "archive"))) == Decimal("0.75")


@pytest.mark.parametrize(
    ("volume", "expected"),
    [(1, "1.05"), (99, "1.05"), (100, "0.945"), (1000, "0.945"), (1001, "0.84"),
     (10000, "0.84"), (10001, "0.735"), (10**9, "0.735")],
)  # fmt: skip
def test_volume_tiers_multiply_by_one_minus_the_tier_discount(volume: int, expected: str) -> None:
    pricing = parse(DOCUMENTS)
    amount, items = pricing.price(run(*sequential("ocr", "classify", "extract", "validate"))).at(
        volume
    )
    assert amount == Decimal(expected)
    assert sum(Decimal(i["amount"]) for i in items) == amount  # the lines add up exactly
    if volume >= 100:
        assert items[-1]["kind"] == "volume" and items[-1]["quantity"] == str(volume)


def test_invoice_charges_the_refund_when_any_step_failed() -> None:
    pricing = parse({"model": "per-execution", "rate": 2.0, "failureRefund": 1.0})
    assert total(pricing, run(*sequential("extract", "validate", "approve"))) == Decimal("2.0")
    failed = run(*sequential("extract", "validate", "approve", failed="validate"))
    assert total(pricing, failed) == Decimal("1.0")
    (line,) = pricing.price(failed).at(1)[1]
    assert line == {"kind": "charge", "name": "failureRefund", "rate": "1", "amount": "1"}


def test_the_refund_applies_too_when_the_run_failed_outside_any_step() -> None:
    """A run that raised after its steps, or missed its deadline, failed: no full rate."""
    pricing = parse({"model": "per-execution", "rate": 2.0, "failureRefund": 1.0})
    steps = sequential("extract", "validate", "approve")
    failed = PricedRun("run_x", "default", "w", T0, T0 + 10, steps, status="failed")
    assert total(pricing, failed) == Decimal("1.0")
    assert total(pricing, PricedRun("run_x", "default", "w", T0, T0 + 10, steps)) == 2


def test_a_resumed_run_is_charged_for_the_time_it_executed() -> None:
    """``earlier``: the seconds of its executions before the latest resume (``started_at``)."""
    pricing = parse({"model": "time-based", "rate": 1})
    resumed = PricedRun("run_x", "default", "w", T0, T0 + 5, [], earlier=Decimal("3.5"))
    assert total(pricing, resumed) == Decimal("8.5")
    (line,) = pricing.price(resumed).at(1)[1]
    assert line["quantity"] == "8.5"


def test_expense_approval_charges_human_review_when_a_task_ran() -> None:
    pricing = parse({"model": "per-execution", "rates": {"automated": 0.25, "humanReview": 1.0}})
    automated = run(*sequential("extract", "policy-check", "auto-approve", "process"))
    assert total(pricing, automated) == Decimal("0.25")
    reviewed = run(step("extract"), step("human-approval", kind="task", start=1, end=3600),
                   step("process", start=3600, end=3601))  # fmt: skip
    assert total(pricing, reviewed) == Decimal("1.0")


def test_video_pipeline_time_with_step_multipliers_minimum_and_maximum() -> None:
    pricing = parse(VIDEO)
    steps = [
        step("transcode", start=0, end=30),
        step("analyze", start=30, end=40),
        step("generate-thumbnails", start=40, end=45),
        step("upload", start=45, end=60),
    ]
    # 60 s x 0.1 = 6; transcode 30 x 0.1 x 0.5 = 1.5; analyze 10 x 0.1 x 0.2 = 0.2;
    # thumbnails 5 x 0.1 x (0.8 - 1) = -0.1; upload has no multiplier.
    assert total(pricing, run(*steps, seconds=60)) == Decimal("7.6")
    assert total(pricing, run(step("transcode", end=2), seconds=3)) == Decimal("1.0")  # minimum
    amount, items = pricing.price(run(step("transcode", end=1500), seconds=2000)).at(1)
    assert amount == Decimal("100.0") and items[-1]["kind"] == "maximum"  # 200 + 75 capped
    assert items[-1]["amount"] == "-175"


def test_durations_count_to_the_millisecond() -> None:
    pricing = parse({"model": "time-based", "rate": "0.001"})
    assert total(pricing, run(seconds=1.23456)) == Decimal("0.001235")


def test_parallel_discount_takes_off_the_step_rates_inside_parallel_groups() -> None:
    pricing = parse({"model": "per-execution", "baseRate": 50, "parallelDiscount": 0.1,
                     "stepRates": {"write-article": 2, "publish": 1}})  # fmt: skip
    # Code: steps whose run times overlap ran in parallel.
    together = run(step("write-article", start=0, end=5), step("generate-images", start=1, end=4),
                   step("publish", start=5, end=6))  # fmt: skip
    assert total(pricing, together) == Decimal("52.8")  # 50 + 2 x 0.9 + 1
    apart = run(step("write-article", start=0, end=5), step("publish", start=5, end=6))
    assert total(pricing, apart) == Decimal("53")
    # A definition: the ids inside its parallel groups, whatever the times.
    grouped = Pricing(**{**pricing.__dict__, "parallel": frozenset({"write-article"})})
    assert total(grouped, apart) == Decimal("52.8")
    # The brief's content pipeline has no step rates: the discount leaves baseRate alone.
    content = parse({"model": "per-execution", "baseRate": 50.0, "parallelDiscount": 0.1})
    assert total(content, together) == Decimal("50.0")


def test_loop_and_child_steps_are_priced_by_their_step_id() -> None:
    records = [step("ocr[0]"), step("ocr[1]", start=1, end=2),
               step("sub.result", kind="child-result", start=2, end=3)]  # fmt: skip
    found = priced_steps(records, frozenset())
    assert [s.id for s in found] == ["ocr", "ocr", "sub"]
    pricing = parse({"model": "per-execution", "baseRate": 0, "stepRates": {"ocr": 1, "sub": 2}})
    assert total(pricing, run(*records)) == Decimal("4")


def test_amounts_are_exact_decimals_from_the_numbers_as_written() -> None:
    pricing = parse({"model": "per-execution", "baseRate": 0.1, "stepRates": {"a": 0.2}})
    assert total(pricing, run(step("a"))) == Decimal("0.3")  # not 0.30000000000000004
    assert parse({"model": "per-execution", "rate": "0.123456789012345678901"}).rate == Decimal(
        "0.123456789012345678901"
    )
    assert parse({**DOCUMENTS, "currency": "EUR"}).currency == "EUR"
    assert parse(DOCUMENTS).currency == "USD"
    for unbounded in ("Infinity", float("inf"), None):  # JSON has no Infinity; YAML has .inf
        volume = [{"min": 1, "max": unbounded, "discount": 0.5}]
        tiers = parse({**DOCUMENTS, "discounts": {"volume": volume}}).tiers
        assert tiers[0].max is None and tiers[0].holds(10**12)


@pytest.mark.parametrize(
    ("pricing", "problems"),
    [
        ({"model": "flat"}, ["$.pricing.model"]),
        ({"model": "per-execution"}, ["$.pricing"]),
        ({"model": "per-execution", "rate": 1, "baseRate": 2}, ["$.pricing"]),
        ({"model": "per-execution", "rate": -1}, ["$.pricing.rate"]),
        ({"model": "per-execution", "rate": "lots"}, ["$.pricing.rate"]),
        ({"model": "per-execution", "rate": True}, ["$.pricing.rate"]),
        ({"model": "per-execution", "baseRate": 1, "failureRefund": 1},
         ["$.pricing.failureRefund"]),
        ({"model": "per-execution", "rates": {"automated": 1}}, ["$.pricing.rates.humanReview"]),
        ({"model": "per-execution", "rate": 1, "stepRates": {"ocr": "x"}},
         ["$.pricing.stepRates.ocr"]),
        ({"model": "per-execution", "rate": 1, "parallelDiscount": 1.5},
         ["$.pricing.parallelDiscount"]),
        ({"model": "per-execution", "rate": 1, "stepMultipliers": {}},
         ["$.pricing.stepMultipliers"]),
        ({"model": "per-execution", "rate": 1, "currency": "dollars"}, ["$.pricing.currency"]),
        ({"model": "per-execution", "rate": 1, "discounts": {"volume": [
            {"min": 10, "max": 5, "discount": 0.1}]}}, ["$.pricing.discounts.volume[0].max"]),
        ({"model": "per-execution", "rate": 1, "discounts": {"volume": [
            {"min": 1, "max": 100, "discount": 0.1}, {"min": 50, "discount": 0.2}]}},
         ["$.pricing.discounts.volume[1]"]),
        ({"model": "per-execution", "rate": 1, "discounts": {"volume": [
            {"min": 1.5, "discount": 2}]}},
         ["$.pricing.discounts.volume[0].min", "$.pricing.discounts.volume[0].discount"]),
        ({"model": "time-based", "minimum": 5, "maximum": 1, "baseRate": 1},
         ["$.pricing.baseRate", "$.pricing.rate", "$.pricing.maximum"]),
        ("cheap", ["$.pricing"]),
    ],
)  # fmt: skip
def test_invalid_pricing_names_each_problem_by_path(pricing: Any, problems: list[str]) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        code_pricing(pricing)
    assert sorted(p.path for p in raised.value.problems) == sorted(problems)


def test_definitions_of_every_dialect_check_their_pricing() -> None:
    service = {
        "name": "svc",
        "dialect": "service",
        "triggerEvent": "Invoice.received",
        "steps": [{"id": "extract", "type": "function", "function": "log"}],
        "pricing": {"model": "per-execution", "rate": 1, "failureRefund": "half"},
    }
    result = check_definition(service)
    assert [(p.path, p.message) for p in result.errors] == [
        ("$.pricing.failureRefund", "expected a number, not 'half'")
    ]
    canonical = {"name": "c", "trigger": {"event": "Video.uploaded"},
                 "steps": [{"id": "transcode", "action": "log"}],
                 "pricing": {"model": "time-based", "rate": 0.1}}  # fmt: skip
    ok = check_definition(canonical)
    assert ok.errors == [] and ok.definition is not None
    assert ok.definition.pricing == {"model": "time-based", "rate": 0.1}
    entity = {"name": "e", "triggerEvent": "Deal.won",
              "steps": [{"action": "log", "mapping": {"message": "'hi'"}}],
              "pricing": {"model": "time-based"}}  # fmt: skip
    assert [p.path for p in check_definition(entity).errors] == ["$.pricing.rate"]


def test_a_failed_operation_takes_its_priced_runs_with_it() -> None:
    """An operation undone inside a batch (its savepoint rolled back) leaves no cost to write:
    the priced runs travel with the counter deltas (``Counters.mark``/``undo``)."""
    from plait.store.counters import Counters

    counters = Counters()
    counters.priced("kept")
    mark = counters.mark()
    counters.priced("undone")
    counters.undo(mark)
    assert counters._priced == ["kept"]
    counters.clear()
    assert counters._priced == []
