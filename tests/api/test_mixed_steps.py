"""Mixed step shapes: each step's own keys decide its kind, so one entity-dialect document holds
an `action` + `mapping` step and a `type: human-task` step (brief 000 with brief 003's human
review)."""

from __future__ import annotations

import httpx

from plait.definitions.load import check_definition
from plait.definitions.model import ActionStep, HumanTaskStep

MIXED = {
    "name": "Reviewed welcome",
    "triggerEvent": "Customer.created",
    "steps": [
        {"action": "Activity.create", "mapping": {"subject": "'Welcome ' + customer.name"}},
        {"id": "review", "type": "human-task", "assignTo": "'ops@example.com'",
         "title": "Review the welcome"},
        {"action": "Activity.create", "mapping": {"subject": "'Reviewed: ' + customer.name"}},
    ],
}  # fmt: skip


def test_each_step_is_read_by_its_own_keys() -> None:
    result = check_definition(MIXED)
    assert result.errors == []
    assert result.definition is not None
    first, review, last = result.definition.steps
    assert isinstance(first, ActionStep) and isinstance(last, ActionStep)
    assert isinstance(review, HumanTaskStep) and review.path == "$.steps[1]"
    assert [s.after for s in (first, review, last)] == [[], ["step-1"], ["review"]]


async def test_a_mixed_document_is_stored_and_activated(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post("/~acme/workflows", headers=admin, json=MIXED)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/~acme/workflows/{created.json()['$id']}/activate",
                                  headers=admin)  # fmt: skip
    assert activated.status_code == 200, activated.text
