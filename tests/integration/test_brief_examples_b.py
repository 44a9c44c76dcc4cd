"""The brief's invoice, content-production and inventory-reorder workflows (examples/definitions/)
validate and run through the real CLI (``plait validate`` / ``plait test``), with the reports
checked step by step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from plait.definitions.load import load_definition
from plait.definitions.model import ParallelStep

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "definitions"
INVOICE = EXAMPLES / "invoice.yaml"
CONTENT = EXAMPLES / "content-production.yaml"
INVENTORY = EXAMPLES / "inventory-reorder.yaml"
INVOICE_APP = "examples.definitions.invoice_actions:engine"


def _plait(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """Run ``python -m plait ARGS`` in ``cwd``; return its exit code and its JSON output."""
    environ = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    environ.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "plait", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _dry_run(
    file: Path,
    cwd: Path,
    value: Any,
    mocks: dict[str, Any] | None = None,
    app: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``plait test FILE --input JSON --mock NAME=JSON ... --json``; the report."""
    args = ["test", str(file), "--input", json.dumps(value), "--json"]
    for name, result in (mocks or {}).items():
        args += ["--mock", f"{name}={json.dumps(result)}"]
    if app:
        args += ["--app", app]
    code, report = _plait(args, cwd, env)
    assert isinstance(report, dict)
    assert code == (0 if report["outcome"] == "succeeded" else 1)
    return report


def _statuses(report: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {key: (step["status"], step["attempts"]) for key, step in report["steps"].items()}


def _errors(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["step"], error["message"]) for error in report["errors"]]


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("file", [INVOICE, CONTENT, INVENTORY], ids=lambda f: f.name)
def test_example_is_valid_without_warnings(file: Path, tmp_path: Path) -> None:
    code, result = _plait(["validate", str(file), "--json"], tmp_path)
    assert (code, result) == (0, {"valid": True, "errors": [], "warnings": []})


def test_invoice_actions_are_all_registered_by_its_app(tmp_path: Path) -> None:
    code, result = _plait(["validate", str(INVOICE), "--app", INVOICE_APP, "--json"], tmp_path)
    assert (code, result) == (0, {"valid": True, "errors": [], "warnings": []})


# -- invoice: retries, escalation fallbacks, compensation in reverse order ---------------------

INVOICE_INPUT = {"document": {"number": "INV-1001", "vendor": "Acme Supplies", "amount": 1200}}
BIG_INVOICE = {"document": {"number": "INV-2002", "vendor": "Acme Supplies", "amount": 12000}}


def _invoice(
    tmp_path: Path, value: Any, mocks: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the invoice on its registered actions; the report and the actions' journal."""
    journal = tmp_path / "journal.jsonl"
    report = _dry_run(INVOICE, tmp_path, value, mocks, app=INVOICE_APP,
                      env={"INVOICE_JOURNAL": str(journal)})  # fmt: skip
    lines = journal.read_text().splitlines() if journal.exists() else []
    return report, [json.loads(line) for line in lines]


def test_invoice_success_runs_every_step_once_and_compensates_nothing(tmp_path: Path) -> None:
    report, journal = _invoice(tmp_path, INVOICE_INPUT)
    assert report["status"] == "succeeded"
    assert report["workflow"] == "Invoice Processing"
    steps = ["extract", "validate", "approve", "process-payment", "update-accounting",
             "notify-completion"]  # fmt: skip
    assert _statuses(report) == {step: ("succeeded", 1) for step in steps}
    assert report["errors"] == []
    assert [entry["action"] for entry in journal] == steps  # in dependsOn order, no compensation
    assert report["output"] == {
        "extract": {"invoiceNumber": "INV-1001", "vendor": "Acme Supplies", "amount": 1200,
                    "currency": "EUR"},
        "validate": {"valid": True, "checkedBy": "rules"},
        "approve": {"approved": True, "approver": "auto", "approvalId": "apr-INV-1001"},
        "process-payment": {"paymentId": "pay-INV-1001", "amount": 1200, "currency": "EUR",
                            "approvalId": "apr-INV-1001"},
        "update-accounting": {"entryId": "je-INV-1001", "paymentId": "pay-INV-1001"},
        "notify-completion": {"sent": True, "to": "Acme Supplies"},
    }  # fmt: skip


def test_invoice_payment_failure_rolls_back_with_its_compensation_steps(
    tmp_path: Path,
) -> None:
    report, journal = _invoice(
        tmp_path, INVOICE_INPUT, {"process-payment": {"$error": "card declined"}}
    )
    assert report["status"] == "failed"
    assert report["output"] is None
    assert _statuses(report) == {
        "extract": ("succeeded", 1),
        "validate": ("succeeded", 1),
        "approve": ("succeeded", 1),
        "process-payment": ("failed", 3),  # its own retry policy: 3 attempts, then rollback
        "process-payment.compensate-1": ("succeeded", 1),  # reverse-approval
        "process-payment.compensate-2": ("succeeded", 1),  # notify-failure
    }  # update-accounting and notify-completion never started
    assert _errors(report) == [("process-payment", "process-payment (mocked): card declined")]
    assert report["errors"][0]["type"] == "plait.actions.base.ActionError"
    payment = report["steps"]["process-payment"]
    assert payment["startedAt"] < payment["finishedAt"]
    # 'rollback': the failed step's compensation steps ran in order, after the failure; the
    # journal (written by the actions as they ran) shows it.
    assert [entry["action"] for entry in journal] == [
        "extract", "validate", "approve", "reverse-approval", "notify-failure",
    ]  # fmt: skip
    # stepId: approve -> reverse-approval's `output` is the approval.
    assert journal[3]["input"] == {"approvalId": "apr-INV-1001", "invoiceNumber": "INV-1001"}
    assert journal[4]["input"] == {"invoiceNumber": "INV-1001", "reason": "payment-failed"}
    undo = report["steps"]["process-payment.compensate-1"]
    notify = report["steps"]["process-payment.compensate-2"]
    assert payment["finishedAt"] <= undo["startedAt"] <= undo["finishedAt"] <= notify["startedAt"]
    assert undo["output"] == {"reversed": "apr-INV-1001"}
    assert notify["output"] == {"notified": True, "invoiceNumber": "INV-1001",
                                "reason": "payment-failed"}  # fmt: skip


def test_invoice_escalations_are_fallbacks_and_accounting_may_fail(tmp_path: Path) -> None:
    report, journal = _invoice(tmp_path, BIG_INVOICE, {
        "validate": {"$error": "totals do not add up"},
        "update-accounting": {"$error": "ledger offline"},
    })  # fmt: skip
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")  # accounting failed
    assert _statuses(report) == {
        "extract": ("succeeded", 1),
        "validate": ("failed", 2),  # its retry policy: 2 attempts, then 'human-review'
        "validate.fallback": ("succeeded", 1),
        "approve": ("failed", 2),  # over the automatic limit; the default policy's 2 attempts
        "approve.fallback": ("succeeded", 1),  # 'notify-manager': the manager approves
        "process-payment": ("succeeded", 1),
        "update-accounting": ("failed", 2),  # 'log-and-continue'
        "notify-completion": ("succeeded", 1),  # log-and-continue carries on to it
    }
    assert _errors(report) == [
        ("validate", "validate (mocked): totals do not add up"),
        ("approve", "12000 is over the automatic limit of 5000"),
        ("update-accounting", "update-accounting (mocked): ledger offline"),
    ]
    output = report["output"]
    assert output["validate"] == {"valid": True, "checkedBy": "accounts-payable"}
    assert output["approve"]["approver"] == "finance-manager"
    assert output["process-payment"]["approvalId"] == "apr-m-INV-2002"
    assert output["update-accounting"] is None
    assert not [key for key in report["steps"] if ".compensate" in key]
    assert [entry["action"] for entry in journal] == [
        "extract", "human-review", "approve", "approve", "notify-manager", "process-payment",
        "notify-completion",
    ]  # fmt: skip
    # A fallback named in onError gets the failed step's input.
    assert journal[1]["input"]["invoice"]["invoiceNumber"] == "INV-2002"


def test_invoice_refused_approval_compensates_nothing(tmp_path: Path) -> None:
    report, journal = _invoice(
        tmp_path, BIG_INVOICE, {"notify-manager": {"$error": "manager said no"}}
    )
    assert report["status"] == "failed"
    assert report["output"] is None
    assert _statuses(report) == {
        "extract": ("succeeded", 1),
        "validate": ("succeeded", 1),
        "approve": ("failed", 2),
        "approve.fallback": ("failed", 2),
    }  # no completed step has a compensation; payment never started, so no rollback
    assert _errors(report) == [
        ("approve", "12000 is over the automatic limit of 5000"),
        ("approve.fallback", "notify-manager (mocked): manager said no"),
    ]
    assert [entry["action"] for entry in journal] == ["extract", "validate", "approve", "approve"]


def test_invoice_approval_given_by_the_fallback_is_reversed_too(tmp_path: Path) -> None:
    report, journal = _invoice(
        tmp_path, BIG_INVOICE, {"process-payment": {"$error": "card declined"}}
    )
    assert report["status"] == "failed"
    assert report["steps"]["approve.fallback"]["status"] == "succeeded"
    assert [entry["action"] for entry in journal][-2:] == ["reverse-approval", "notify-failure"]
    assert journal[-2]["input"]["approvalId"] == "apr-m-INV-2002"


# -- content production: parallel groups ------------------------------------------------------

CONTENT_INPUT = {"topic": "Durable workflows", "audience": "developers"}
ASSETS = {
    "write-article": {"words": 1800},
    "generate-images": {"images": 4},
    "create-social": {"posts": 3},
    "record-video": {"scriptSeconds": 90},
}
CHECKS = {
    "grammar-check": {"issues": 0},
    "seo-check": {"score": 91},
    "plagiarism-check": {"original": True},
}
CONTENT_MOCKS = {
    "research": {"keywords": ["replay", "checkpoints"]},
    **ASSETS,
    **CHECKS,
    "publish": {"url": "https://example.com/p/1"},
}


def test_content_all_branches_succeed_with_an_output_per_branch(tmp_path: Path) -> None:
    report = _dry_run(CONTENT, tmp_path, CONTENT_INPUT, CONTENT_MOCKS)
    assert report["status"] == "succeeded"
    assert report["output"] == {
        "research": {"keywords": ["replay", "checkpoints"]},
        "create-assets": ASSETS,
        "quality-check": CHECKS,
        "publish": {"url": "https://example.com/p/1"},
    }
    steps = ["research", *ASSETS, "create-assets", *CHECKS, "quality-check", "publish"]
    assert _statuses(report) == {step: ("succeeded", 1) for step in steps}
    assert report["steps"]["create-assets"]["output"] == ASSETS
    assert report["errors"] == []


def test_content_failed_branches_fail_the_group_and_the_run(tmp_path: Path) -> None:
    mocks = {
        **CONTENT_MOCKS,
        "generate-images": {"$error": "GPU quota exceeded"},
        "record-video": {"$error": "no voice available"},
    }
    report = _dry_run(CONTENT, tmp_path, CONTENT_INPUT, mocks)
    assert report["status"] == "failed"
    assert report["output"] is None
    assert _statuses(report) == {
        "research": ("succeeded", 1),
        "write-article": ("succeeded", 1),  # 'all' lets every branch end
        "generate-images": ("failed", 1),  # no retry policy in the brief: one attempt
        "create-social": ("succeeded", 1),
        "record-video": ("failed", 1),
        "create-assets": ("failed", 1),
    }  # quality-check and publish never started
    assert _errors(report) == [
        ("generate-images", "generate-images (mocked): GPU quota exceeded"),
        ("record-video", "record-video (mocked): no voice available"),
        ("create-assets", "2 of 4 parallel steps failed: "
         "generate-images: step 'generate-images' failed: plait.actions.base.ActionError: "
         "generate-images (mocked): GPU quota exceeded; "
         "record-video: step 'record-video' failed: plait.actions.base.ActionError: "
         "record-video (mocked): no voice available"),
    ]  # fmt: skip
    assert report["errors"][-1]["type"] == "plait.ParallelFailed"
    group = report["steps"]["create-assets"]
    assert group["output"] is None
    assert group["error"]["type"] == "plait.ParallelFailed"
    assert group["error"]["message"] == report["errors"][-1]["message"]


def _with_strategy(tmp_path: Path, strategy: str) -> Path:
    """The pipeline up to its first group, with that group's strategy changed."""
    document = yaml.safe_load(CONTENT.read_text())
    document["steps"] = document["steps"][:2]
    document["steps"][1]["strategy"] = strategy
    path = tmp_path / f"content-{strategy}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_content_any_strategy_takes_the_first_branch_to_succeed(tmp_path: Path) -> None:
    failing = {branch: {"$error": f"{branch} is down"} for branch in ASSETS}
    mocks = {**CONTENT_MOCKS, **failing, "create-social": {"posts": 3}}
    report = _dry_run(_with_strategy(tmp_path, "any"), tmp_path, CONTENT_INPUT, mocks)
    assert report["status"] == "succeeded"
    assert report["output"] == {
        "research": {"keywords": ["replay", "checkpoints"]},
        "create-assets": {"posts": 3},  # the winner's output
    }
    assert report["steps"]["create-social"]["status"] == "succeeded"
    assert {step for step, _ in _errors(report)} == {
        "write-article", "generate-images", "record-video",
    }  # fmt: skip


def test_content_any_strategy_fails_when_no_branch_succeeds(tmp_path: Path) -> None:
    failing = {branch: {"$error": f"{branch} is down"} for branch in ASSETS}
    report = _dry_run(
        _with_strategy(tmp_path, "any"), tmp_path, CONTENT_INPUT, {**CONTENT_MOCKS, **failing}
    )
    assert report["status"] == "failed"
    assert all(_statuses(report)[branch] == ("failed", 1) for branch in ASSETS)
    step, message = _errors(report)[-1]
    assert step == "create-assets"
    assert message.startswith("no parallel step succeeded: ")
    for branch in ASSETS:
        assert f"{branch} (mocked): {branch} is down" in message


def test_content_any_group_has_its_own_report_entry(tmp_path: Path) -> None:
    failing = {branch: {"$error": f"{branch} is down"} for branch in ASSETS}
    mocks = {**CONTENT_MOCKS, **failing, "create-social": {"posts": 3}}
    report = _dry_run(_with_strategy(tmp_path, "any"), tmp_path, CONTENT_INPUT, mocks)
    assert report["steps"]["create-assets"]["status"] == "succeeded"
    assert report["steps"]["create-assets"]["output"] == {"posts": 3}


def test_content_first_strategy_takes_the_first_branch_to_end(tmp_path: Path) -> None:
    report = _dry_run(_with_strategy(tmp_path, "first"), tmp_path, CONTENT_INPUT, CONTENT_MOCKS)
    assert report["status"] == "succeeded"
    assert report["output"]["create-assets"] in ASSETS.values()


def test_content_timeouts_are_read_as_milliseconds() -> None:
    definition = load_definition(CONTENT)
    research, assets = definition.steps[0], definition.steps[1]
    assert research.timeout == 120.0
    assert isinstance(assets, ParallelStep)
    assert assets.strategy == "all"
    assert {step.id: step.timeout for step in assets.steps} == {
        "write-article": 300.0, "generate-images": 180.0, "create-social": 120.0,
        "record-video": 240.0,
    }  # fmt: skip
    assert definition.metadata["pricing"]["parallelDiscount"] == 0.1


# -- inventory reorder: a node graph with Python code actions ----------------------------------

WIDGET = {"sku": "WID-1", "name": "Widget", "stock": 3, "minimum": 10}
SPROCKET = {"sku": "SPR-2", "name": "Sprocket", "stock": 40, "minimum": 25}
GADGET = {"sku": "GAD-3", "stock": 0, "minimum": 5, "reorderTo": 20}
INVENTORY_STEPS = ["checkStock", "createPurchaseOrder", "composeAlert", "notify"]


def test_inventory_items_below_minimum_go_on_a_purchase_order(tmp_path: Path) -> None:
    report = _dry_run(INVENTORY, tmp_path, {"items": [WIDGET, SPROCKET, GADGET]})
    assert report["status"] == "succeeded"
    assert report["workflow"] == "Inventory Reorder Alerts"
    assert _statuses(report) == {step: ("succeeded", 1) for step in INVENTORY_STEPS}
    assert report["errors"] == []
    output = report["output"]
    lines = [
        {"sku": "WID-1", "name": "Widget", "stock": 3, "minimum": 10, "quantity": 17},
        {"sku": "GAD-3", "name": "GAD-3", "stock": 0, "minimum": 5, "quantity": 20},
    ]  # the sprocket is above its minimum: not ordered
    assert output["checkStock"] == {"checked": 3, "reorder": lines, "units": 37}
    order = output["createPurchaseOrder"]
    assert order["$id"].startswith("purchaseorder_")
    assert order["$type"] == "PurchaseOrder"
    assert {key: order[key] for key in ("status", "lines", "units", "itemsChecked")} == {
        "status": "draft", "lines": lines, "units": 37, "itemsChecked": 3,
    }  # fmt: skip
    assert output["composeAlert"] == {
        "purchaseOrder": order["$id"],
        "skus": ["WID-1", "GAD-3"],
        "text": f"Purchase order {order['$id']}: 17 x Widget, 20 x GAD-3",
    }
    assert output["notify"]["type"] == "Inventory.reorderRequested"
    assert output["notify"]["$id"].startswith("event_")
    # The workflow context (brief 004): its declared start, then what the nodes wrote to it.
    assert report["success"] is True
    assert report["context"] == {"reorderFactor": 2, "lowStock": lines, "unitsToOrder": 37,
                                 "purchaseOrder": order["$id"]}  # fmt: skip


def test_inventory_items_above_minimum_order_nothing(tmp_path: Path) -> None:
    report = _dry_run(INVENTORY, tmp_path, {"items": [SPROCKET]})
    assert report["status"] == "succeeded"
    assert _statuses(report) == {step: ("succeeded", 1) for step in INVENTORY_STEPS}
    output = report["output"]
    assert output["checkStock"] == {"checked": 1, "reorder": [], "units": 0}
    # The graph dialect has no conditions: the record is made, empty, and says so.
    assert output["createPurchaseOrder"]["status"] == "nothing-to-order"
    assert output["createPurchaseOrder"]["lines"] == []
    assert output["composeAlert"]["skus"] == []
    assert output["composeAlert"]["text"] == "All stock levels are at or above their minimum."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"items": [WIDGET, {"sku": "SPR-2", "stock": 40}]},
         "code action failed: ValueError: item SPR-2 has no 'minimum' (line 9)"),
        ({"products": [WIDGET]},
         "code action failed: ValueError: the input needs 'items': a list of "
         "{sku, stock, minimum} (line 3)"),
        ({"items": [{**WIDGET, "stock": "3"}]},
         "code action failed: TypeError: '<' not supported between instances of 'str' and "
         "'int' (line 10)"),
    ],
    ids=["missing-field", "no-items", "wrong-type"],
)  # fmt: skip
def test_inventory_bad_input_fails_the_code_step_with_its_python_error(
    tmp_path: Path, value: Any, message: str
) -> None:
    report = _dry_run(INVENTORY, tmp_path, value)
    assert report["status"] == "failed"
    assert report["output"] is None
    assert _statuses(report) == {"checkStock": ("failed", 1)}  # nothing after it ran
    assert _errors(report) == [("checkStock", message)]
    assert report["errors"][0]["type"] == "plait.actions.code.pool.CodeActionError"
