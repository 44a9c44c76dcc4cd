"""Three workflows of the product brief, adapted under examples/definitions/, run through the CLI.

- customer-onboarding.yaml: the function-steps ``customerOnboardingWorkflow`` of brief 001;
- deal-won.json: the platform-entity ``Deal.won`` workflow of brief 000 (document actions);
- order-fulfillment.yaml: the service-steps order fulfillment of brief 003.

Each runs as ``python -m plait test FILE --input JSON --mock ACTION=JSON ... --json`` (or ``plait
run`` on a scratch database) in a temporary directory, and the tests read the JSON report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

DEFINITIONS = Path(__file__).resolve().parents[2] / "examples" / "definitions"
ONBOARDING = DEFINITIONS / "customer-onboarding.yaml"
DEAL_WON = DEFINITIONS / "deal-won.json"
ORDER = DEFINITIONS / "order-fulfillment.yaml"


def _plait(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "plait", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _mocks(mocks: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for action, value in mocks.items():
        args += ["--mock", f"{action}={json.dumps(value)}"]
    return args


def _test(
    file: Path, input_: Any, mocks: dict[str, Any], cwd: Path, *, exit_code: int = 0
) -> dict[str, Any]:
    """``plait test FILE --input ... --mock ... --json``; the report, after checking the exit."""
    done = _plait(["test", str(file), "--input", json.dumps(input_), *_mocks(mocks), "--json"], cwd)
    assert done.returncode == exit_code, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _validate(file: Path, cwd: Path) -> dict[str, Any]:
    done = _plait(["validate", str(file), "--json"], cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {key: step["status"] for key, step in report["steps"].items()}


def _seconds(step: dict[str, Any]) -> float:
    """Virtual time from a step's first attempt to its end: the retry delays it waited."""
    started = datetime.fromisoformat(step["startedAt"])
    finished = datetime.fromisoformat(step["finishedAt"])
    return (finished - started).total_seconds()


def _errors(report: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["step"], e["message"]) for e in report["errors"]]


# -- customer onboarding (brief 001, function steps) -------------------------------------------

ACCOUNT = {
    "customerEmail": "ops@acme.test",
    "companyName": "Acme Health",
    "accountUrl": "https://app.example.com/acme",
}
MANAGER = {"name": "Dana Scully", "email": "dana@example.com"}
PLAN = {
    "onboardingStatus": "in_progress",
    "nextSteps": ["Kickoff call", "Import data"],
    "estimatedTimeToValue": 14,
}


def _onboarding_mocks(**overrides: Any) -> dict[str, Any]:
    mocks: dict[str, Any] = {
        "setupCustomerAccount": ACCOUNT,
        "sendPersonalizedEmail": {"messageId": "msg_1"},
        "allocateResources": {"seats": 25},
        "assignAccountManager": MANAGER,
        "scheduleKickoffCall": {"meetingAt": "2026-12-01T10:00:00Z"},
        "sendSchedulingLink": {"linkSent": True},
        "generateCustomerSuccessPlan": PLAN,
    }
    mocks.update(overrides)
    return mocks


def _customer(plan: str, company_size: str) -> dict[str, str]:
    return {"customerId": "cust_12345", "plan": plan, "industry": "healthcare",
            "companySize": company_size}  # fmt: skip


def test_onboarding_validates_with_only_the_unread_outputs_warned(tmp_path: Path) -> None:
    # The outputMapping reads createSuccessPlan and assignAccountManager; the other steps run
    # for their effects, and validation points out that their outputs are not in the result.
    result = _validate(ONBOARDING, tmp_path)
    assert (result["valid"], result["errors"]) == (True, [])
    assert [w["path"] for w in result["warnings"]] == ["$.steps[1]", "$.steps[2]", "$.steps[4]"]
    assert all("is never used" in w["message"] for w in result["warnings"])


def test_onboarding_starter_plan_skips_the_account_manager_and_kickoff(tmp_path: Path) -> None:
    report = _test(ONBOARDING, _customer("starter", "small"), _onboarding_mocks(), tmp_path)

    assert report["status"] == "succeeded"
    assert report["workflow"] == "customerOnboardingWorkflow"
    assert _statuses(report) == {
        "accountSetup": "succeeded",
        "welcomeEmail": "succeeded",
        "resourceAllocation": "succeeded",
        "assignAccountManager": "skipped",  # neither the plan nor the size is enterprise
        "scheduleKickoff": "skipped",  # {{!!assignAccountManager}}: a skipped step is null
        "createSuccessPlan": "succeeded",
    }
    for key in ("accountSetup", "welcomeEmail", "resourceAllocation", "createSuccessPlan"):
        assert report["steps"][key]["attempts"] == 1
    # The outputMapping forms the brief's output; no manager was assigned (the step skipped).
    assert report["output"] == {**PLAN, "accountManager": None}
    assert report["steps"]["createSuccessPlan"]["output"] == PLAN
    assert report["errors"] == []


def test_onboarding_enterprise_size_assigns_a_manager_and_schedules_the_kickoff(
    tmp_path: Path,
) -> None:
    # The condition is `plan === "enterprise" || companySize === "enterprise"`: the second half.
    report = _test(ONBOARDING, _customer("professional", "enterprise"), _onboarding_mocks(),
                   tmp_path)  # fmt: skip

    assert report["status"] == "succeeded"
    assert set(_statuses(report).values()) == {"succeeded"}
    assert "scheduleKickoff.fallback" not in report["steps"]
    assert report["output"] == {**PLAN, "accountManager": "Dana Scully"}
    assert report["steps"]["scheduleKickoff"]["output"] == {"meetingAt": "2026-12-01T10:00:00Z"}
    assert report["errors"] == []


def test_onboarding_enterprise_kickoff_failure_runs_the_scheduling_link_fallback(
    tmp_path: Path,
) -> None:
    mocks = _onboarding_mocks(scheduleKickoffCall={"$error": "calendar down"})
    report = _test(ONBOARDING, _customer("enterprise", "large"), mocks, tmp_path)

    assert report["status"] == "succeeded"
    assert _statuses(report) == {
        "accountSetup": "succeeded",
        "welcomeEmail": "succeeded",
        "resourceAllocation": "succeeded",
        "assignAccountManager": "succeeded",
        "scheduleKickoff": "failed",
        "scheduleKickoff.fallback": "succeeded",
        "createSuccessPlan": "succeeded",
    }
    kickoff = report["steps"]["scheduleKickoff"]
    # errorHandling.retryStrategy: 3 attempts, waiting 1 s then 2 s (initialDelay 1000 ms, x2).
    assert kickoff["attempts"] == 3
    assert _seconds(kickoff) == pytest.approx(3.0)
    assert kickoff["error"]["message"] == "scheduleKickoffCall (mocked): calendar down"
    assert report["steps"]["scheduleKickoff.fallback"]["attempts"] == 1
    assert report["steps"]["scheduleKickoff.fallback"]["output"] == {"linkSent": True}
    assert report["output"] == {**PLAN, "accountManager": "Dana Scully"}
    # The recovered failure is still reported.
    assert _errors(report) == [("scheduleKickoff", "scheduleKickoffCall (mocked): calendar down")]


def test_onboarding_failing_step_is_retried_then_fails_the_run(tmp_path: Path) -> None:
    mocks = _onboarding_mocks(sendPersonalizedEmail={"$error": "mail server unreachable"})
    report = _test(ONBOARDING, _customer("starter", "small"), mocks, tmp_path, exit_code=1)

    assert report["status"] == "failed"
    assert report["output"] is None
    # No fallback for welcomeEmail: after maxAttempts the run stops; later steps never start.
    assert _statuses(report) == {"accountSetup": "succeeded", "welcomeEmail": "failed"}
    assert report["steps"]["accountSetup"]["attempts"] == 1
    assert report["steps"]["welcomeEmail"]["attempts"] == 3
    assert _seconds(report["steps"]["welcomeEmail"]) == pytest.approx(3.0)
    assert _errors(report) == [
        ("welcomeEmail", "sendPersonalizedEmail (mocked): mail server unreachable")
    ]


def test_onboarding_output_schema_is_enforced(tmp_path: Path) -> None:
    plan = {"onboardingStatus": "done", "nextSteps": "call", "estimatedTimeToValue": 14}
    mocks = _onboarding_mocks(generateCustomerSuccessPlan=plan)
    report = _test(ONBOARDING, _customer("starter", "small"), mocks, tmp_path, exit_code=1)

    assert report["status"] == "failed"
    assert report["steps"]["createSuccessPlan"]["status"] == "succeeded"
    [error] = report["errors"]
    assert error["step"] is None  # the run's own error, not a step's
    assert error["type"] == "plait.errors.SchemaViolation"
    assert "$['nextSteps']: 'call' is not of type 'array'" in error["message"]
    assert (
        "$['onboardingStatus']: 'done' is not one of ['completed', 'in_progress', "
        "'needs_assistance']" in error["message"]
    )


def test_onboarding_output_mapping_names_the_field_a_result_lacks(tmp_path: Path) -> None:
    mocks = _onboarding_mocks(generateCustomerSuccessPlan={"onboardingStatus": "completed"})
    report = _test(ONBOARDING, _customer("starter", "small"), mocks, tmp_path, exit_code=1)

    assert report["status"] == "failed"
    [error] = report["errors"]
    assert error["step"] is None
    assert "field 'nextSteps'" in error["message"]
    assert "no key 'nextSteps' in createSuccessPlan" in error["message"]


def test_onboarding_input_schema_rejects_an_unknown_plan(tmp_path: Path) -> None:
    customer = _customer("gold", "small")
    args = ["test", str(ONBOARDING), "--input", json.dumps(customer),
            *_mocks(_onboarding_mocks()), "--json"]  # fmt: skip
    done = _plait(args, tmp_path)

    assert done.returncode == 4  # rejected before a run starts: no report
    assert "$['plan']: 'gold' is not one of ['starter', 'professional', 'enterprise']" in (
        done.stderr
    )


# -- Deal.won (brief 000, platform entity) -------------------------------------------------------

DEAL = {
    "name": "Acme Corp",
    "plan": "enterprise",
    "value": 120000,
    "contact": {"name": "Ada Lovelace", "email": "ada@acme.test"},
}


def test_deal_won_validates_with_the_literal_warning(tmp_path: Path) -> None:
    result = _validate(DEAL_WON, tmp_path)

    assert result["valid"] is True
    assert result["errors"] == []
    assert result["warnings"] == [{
        "path": "$.steps[3].mapping.type",
        "message": "mapping value 'Call' is not an expression over known names; "
                   "it is used as the literal string",
    }]  # fmt: skip


def _check_deal_won_records(report: dict[str, Any]) -> None:
    assert report["status"] == "succeeded"
    assert report["workflow"] == "Customer Onboarding"
    assert _statuses(report) == dict.fromkeys(["step-1", "step-2", "step-3", "step-4"], "succeeded")
    assert all(step["attempts"] == 1 for step in report["steps"].values())
    assert report["errors"] == []
    output = report["output"]
    customer, subscription = output["step-1"], output["step-2"]
    project, activity = output["step-3"], output["step-4"]
    # Each step's output is the record it created, as in the report's step entries.
    for key, record in output.items():
        assert report["steps"][key]["output"] == record
    for record, noun in [(customer, "Customer"), (subscription, "Subscription"),
                         (project, "Project"), (activity, "Activity")]:  # fmt: skip
        assert record["$type"] == noun
        assert record["$id"].startswith(noun.lower() + "_")
        assert record["createdAt"] == record["updatedAt"]
    assert len({r["$id"] for r in output.values()}) == 4
    # The mappings, evaluated against the deal (the run's input) and earlier steps.
    assert customer["name"] == "Acme Corp"
    assert customer["contact"] == DEAL["contact"]
    assert subscription["plan"] == "enterprise"
    assert subscription["customer"] == customer["$id"]  # step.0.$id
    assert project["name"] == "Onboarding: Acme Corp"
    assert activity["subject"] == "Welcome call with Ada Lovelace"
    assert activity["type"] == "Call"  # the literal string
    assert set(customer) == {"name", "contact", "$id", "$type", "createdAt", "updatedAt"}


def test_deal_won_creates_the_records_on_the_document_store(tmp_path: Path) -> None:
    # `plait run` on a scratch database: document actions are real, nothing is mocked.
    db = f"sqlite:///{tmp_path / 'plait.db'}"
    args = ["run", str(DEAL_WON), "--input", json.dumps(DEAL), "--db", db, "--json"]
    done = _plait(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    _check_deal_won_records(report)

    # The run, and its steps, are durable in that database.
    stored = _plait(["runs", "get", report["runId"], "--db", db, "--json"], tmp_path)
    assert stored.returncode == 0, stored.stderr
    run = json.loads(stored.stdout)
    assert run["status"] == "succeeded"
    # (the workflow's 30 s timeout is recorded too, when its budget started: run.deadline)
    assert [s["key"] for s in run["steps"]] == [
        "run.deadline", "step-1", "step-2", "step-3", "step-4"]  # fmt: skip
    assert run["steps"][0]["kind"] == "deadline"


def test_deal_won_under_plait_test_without_mocks(tmp_path: Path) -> None:
    _check_deal_won_records(_test(DEAL_WON, DEAL, {}, tmp_path))


# -- order fulfillment (brief 003, service steps) -----------------------------------------------

ORDER_INPUT = {
    "orderId": "ord_1001",
    "customerId": "cust_7",
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-4", "qty": 1}],
}
VALID = {"valid": True, "total": 59.9}
PAID = {"transactionId": "txn_42", "amount": 59.9}
STOCK = {"inStock": True}
RESERVED = {"reservationId": "rsv_9"}
SHIPPED = {"trackingNumber": "1Z999AA10123456784"}
SENT = {"sent": True}


def _order_mocks(**overrides: Any) -> dict[str, Any]:
    mocks: dict[str, Any] = {
        "validate": VALID,
        "payment": PAID,
        "check-stock": STOCK,
        "reserve": RESERVED,
        "shipping": SHIPPED,
        "notification": SENT,
    }
    mocks.update(overrides)
    return mocks


def test_order_fulfillment_validates_cleanly(tmp_path: Path) -> None:
    assert _validate(ORDER, tmp_path) == {"valid": True, "errors": [], "warnings": []}


def test_order_fulfillment_runs_the_graph_with_a_parallel_inventory_group(tmp_path: Path) -> None:
    report = _test(ORDER, ORDER_INPUT, _order_mocks(), tmp_path)

    assert report["status"] == "succeeded"
    assert report["workflow"] == "Order Fulfillment Automation"
    assert _statuses(report) == dict.fromkeys(
        ["validate", "payment", "check-stock", "reserve", "inventory", "shipping",
         "notification"], "succeeded",
    )  # fmt: skip
    assert all(step["attempts"] == 1 for step in report["steps"].values())
    # The parallel group's output is its children's outputs by id.
    group = {"check-stock": STOCK, "reserve": RESERVED}
    assert report["steps"]["inventory"]["output"] == group
    assert report["steps"]["check-stock"]["output"] == STOCK
    assert report["steps"]["reserve"]["output"] == RESERVED
    assert report["output"] == {"validate": VALID, "payment": PAID, "inventory": group,
                                "shipping": SHIPPED, "notification": SENT}  # fmt: skip
    assert report["errors"] == []


def test_order_fulfillment_optional_notification_failure_makes_the_run_partial(
    tmp_path: Path,
) -> None:
    mocks = _order_mocks(notification={"$error": "smtp down"})
    report = _test(ORDER, ORDER_INPUT, mocks, tmp_path, exit_code=1)  # not a full success

    assert report["status"] == "succeeded"  # required: false: it ends normally, output and all
    assert report["outcome"] == "partial"
    assert report["steps"]["notification"]["status"] == "failed"
    assert report["steps"]["notification"]["attempts"] == 1  # no retry policy: one attempt
    assert report["steps"]["shipping"]["status"] == "succeeded"
    assert report["output"]["notification"] is None
    assert report["output"]["shipping"] == SHIPPED
    assert _errors(report) == [("notification", "notification (mocked): smtp down")]


def test_order_fulfillment_validate_is_retried_then_stops_the_run(tmp_path: Path) -> None:
    mocks = _order_mocks(validate={"$error": "address not deliverable"})
    report = _test(ORDER, ORDER_INPUT, mocks, tmp_path, exit_code=1)

    assert report["status"] == "failed"
    assert report["output"] is None
    assert _statuses(report) == {"validate": "failed"}  # nothing depending on it started
    # retryPolicy {maxAttempts: 3, backoff: exponential}: waits of 1 s then 2 s.
    assert report["steps"]["validate"]["attempts"] == 3
    assert _seconds(report["steps"]["validate"]) == pytest.approx(3.0)
    assert _errors(report) == [("validate", "validate (mocked): address not deliverable")]


def test_order_fulfillment_failed_reservation_fails_the_group_and_the_run(tmp_path: Path) -> None:
    mocks = _order_mocks(reserve={"$error": "SKU B-4 out of stock"})
    report = _test(ORDER, ORDER_INPUT, mocks, tmp_path, exit_code=1)

    assert report["status"] == "failed"
    assert _statuses(report) == {
        "validate": "succeeded",
        "payment": "succeeded",
        "check-stock": "succeeded",
        "reserve": "failed",
        "inventory": "failed",
    }
    assert report["steps"]["reserve"]["attempts"] == 1
    assert _errors(report) == [
        ("reserve", "reserve (mocked): SKU B-4 out of stock"),
        ("inventory", "1 of 2 parallel steps failed: reserve: step 'reserve' failed: "
                      "plait.actions.base.ActionError: reserve (mocked): SKU B-4 out of stock"),
    ]  # fmt: skip
