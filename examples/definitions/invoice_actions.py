"""Actions for examples/definitions/invoice.yaml: the functions of brief 003's invoice workflow.

    PYTHONPATH=. plait test examples/definitions/invoice.yaml \
        --app examples.definitions.invoice_actions:engine \
        --input '{"document": {"number": "INV-1001", "vendor": "Acme Supplies", "amount": 1200}}'

Each function step of the workflow calls the action named by its id; the fallbacks
(``human-review``, ``notify-manager``) and compensations (``reverse-approval``,
``notify-failure``) are actions too. They are stand-ins for real services, simple enough to
read: approval is automatic up to ``APPROVAL_LIMIT``, above it ``approve`` fails and the
manager's fallback decides.

When ``INVOICE_JOURNAL`` names a file, every call appends one JSON line
``{"action": ..., "input": ...}`` to it, so that a test (or a curious reader) can see which
actions ran, how often, and in what order: compensations included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from plait import Engine
from plait.actions.base import ActionError

engine = Engine()

APPROVAL_LIMIT = 5000


def _journal(name: str, value: Any) -> None:
    path = os.environ.get("INVOICE_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as journal:
            journal.write(json.dumps({"action": name, "input": value}) + "\n")


def action(name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register ``fn`` as the action ``name``, journalling each call."""

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def journalled(value: Any) -> Any:
            _journal(name, value)
            return fn(value)

        engine.action(name)(journalled)
        return fn

    return register


@action("extract")
def extract(value: dict[str, Any]) -> dict[str, Any]:
    document = value.get("document") or {}
    missing = [key for key in ("number", "vendor", "amount") if key not in document]
    if missing:
        raise ActionError(f"the invoice document has no {', '.join(missing)}")
    return {
        "invoiceNumber": document["number"],
        "vendor": document["vendor"],
        "amount": document["amount"],
        "currency": document.get("currency", "EUR"),
    }


@action("validate")
def validate(value: dict[str, Any]) -> dict[str, Any]:
    if value["invoice"]["amount"] <= 0:
        raise ActionError(f"amount {value['invoice']['amount']} is not positive")
    return {"valid": True, "checkedBy": "rules"}


@action("human-review")
def human_review(value: dict[str, Any]) -> dict[str, Any]:  # called with validate's input
    return {"valid": True, "checkedBy": "accounts-payable"}


@action("approve")
def approve(value: dict[str, Any]) -> dict[str, Any]:
    invoice = value["invoice"]
    if invoice["amount"] > APPROVAL_LIMIT:
        raise ActionError(f"{invoice['amount']} is over the automatic limit of {APPROVAL_LIMIT}")
    return {"approved": True, "approver": "auto", "approvalId": f"apr-{invoice['invoiceNumber']}"}


@action("notify-manager")
def notify_manager(value: dict[str, Any]) -> dict[str, Any]:
    number = value["invoice"]["invoiceNumber"]
    return {"approved": True, "approver": "finance-manager", "approvalId": f"apr-m-{number}"}


@action("process-payment")
def process_payment(value: dict[str, Any]) -> dict[str, Any]:
    invoice = value["invoice"]
    return {
        "paymentId": f"pay-{invoice['invoiceNumber']}",
        "amount": invoice["amount"],
        "currency": invoice["currency"],
        "approvalId": value["approvalId"],
    }


@action("update-accounting")
def update_accounting(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "entryId": f"je-{value['invoice']['invoiceNumber']}",
        "paymentId": value["payment"]["paymentId"],
    }


@action("notify-completion")
def notify_completion(value: dict[str, Any]) -> dict[str, Any]:
    return {"sent": True, "to": value["vendor"]}


@action("reverse-approval")
def reverse_approval(value: dict[str, Any]) -> dict[str, Any]:
    return {"reversed": value["approvalId"]}


@action("notify-failure")
def notify_failure(value: dict[str, Any]) -> dict[str, Any]:
    return {"notified": True, "invoiceNumber": value["invoiceNumber"], "reason": value["reason"]}
