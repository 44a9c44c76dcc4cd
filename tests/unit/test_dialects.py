"""Each dialect of the brief normalises into the canonical model (ids, actions, order, times)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plait.definitions.load import check_definition, load_definition
from plait.definitions.model import (
    ActionStep,
    ConditionStep,
    Definition,
    ForeachStep,
    ParallelStep,
    SleepStep,
    Step,
)

# -- brief 000: the platform entity -------------------------------------------------------------

DEAL_WON = {
    "name": "Customer Onboarding",
    "triggerEvent": "Deal.won",
    "steps": [
        {"action": "Customer.create", "mapping": {"name": "deal.name", "contact": "deal.contact"}},
        {
            "action": "Subscription.create",
            "mapping": {"plan": "deal.plan", "customer": "step.0.$id"},
        },
        {"action": "Project.create", "mapping": {"name": '"Onboarding: " + deal.name'}},
        {
            "action": "Activity.create",
            "mapping": {"subject": '"Welcome call with " + deal.contact.name', "type": "Call"},
        },
    ],
    "errorHandling": "Fallback",
    "timeout": 30_000,
}

LEAD_ASSIGNMENT_YAML = """
name: Lead Assignment
triggerEvent: Lead.created
steps:
  - { action: Contact.assign, mapping: { assignee: 'round-robin' } }
  - { action: Activity.create, mapping: { subject: '"Follow up: " + lead.name', type: Task } }
errorHandling: Continue
"""


def test_entity_deal_won_steps_run_in_order_with_mappings_as_templates() -> None:
    result = check_definition(DEAL_WON)
    definition = _valid(result.definition)
    assert definition.dialect == "entity"
    assert definition.trigger is not None and definition.trigger.events == ["Deal.won"]
    steps = _actions(definition.steps)
    assert [s.id for s in steps] == ["step-1", "step-2", "step-3", "step-4"]
    assert [s.action for s in steps] == [
        "Customer.create", "Subscription.create", "Project.create", "Activity.create",
    ]  # fmt: skip
    assert [s.after for s in steps] == [[], ["step-1"], ["step-2"], ["step-3"]]
    assert all(s.depends_on == [] for s in steps)  # in turn: a failure under Continue skips none
    assert steps[0].input == {"name": "{{ deal.name }}", "contact": "{{ deal.contact }}"}
    assert steps[1].input == {"plan": "{{ deal.plan }}", "customer": "{{ step.0.$id }}"}
    assert steps[2].input == {"name": '{{ "Onboarding: " + deal.name }}'}
    assert steps[3].input == {
        "subject": '{{ "Welcome call with " + deal.contact.name }}',
        "type": "Call",
    }
    assert definition.on_error == "fallback"
    assert definition.timeout == 30.0
    assert steps[2].path == "$.steps[2]"
    assert steps[2].sources == {"input": "mapping"}


def test_entity_mapping_literals_are_warned_about_at_their_path() -> None:
    result = check_definition(DEAL_WON)
    assert [str(w) for w in result.warnings] == [
        "$.steps[3].mapping.type: mapping value 'Call' is not an expression over known names; "
        "it is used as the literal string",
        "$.errorHandling: the error policy is fallback, but these steps have no fallback to run: "
        "'step-1', 'step-2', 'step-3', 'step-4' (a failure would carry on as under Continue): "
        "give them fallback steps, or choose Continue or Stop",
    ]


def test_entity_lead_assignment_in_yaml() -> None:
    result = check_definition(LEAD_ASSIGNMENT_YAML)
    definition = _valid(result.definition)
    steps = _actions(definition.steps)
    assert steps[0].input == {"assignee": "round-robin"}
    assert steps[1].input == {"subject": '{{ "Follow up: " + lead.name }}', "type": "Task"}
    assert definition.on_error == "continue"
    assert {w.path for w in result.warnings} == {
        "$.steps[0].mapping.assignee",
        "$.steps[1].mapping.type",
    }


def test_entity_record_fields_stored_as_json_strings_are_decoded() -> None:
    record = {
        **DEAL_WON,
        "steps": json.dumps(DEAL_WON["steps"]),
        "retryPolicy": json.dumps({"maxAttempts": 5, "backoff": "linear", "initialDelay": 500}),
        "status": "Activated",
        "version": 3,
        "$id": "workflow_nV4xKpQm",
    }
    definition = load_definition(record)
    assert len(definition.steps) == 4
    assert definition.retry is not None
    assert (definition.retry.max_attempts, definition.retry.backoff) == (5, "linear")
    assert definition.retry.initial_delay == 0.5


def test_entity_step_ids_come_from_id_or_name() -> None:
    document = {
        "name": "named",
        "triggerEvent": ["Contact.created", "Contact.qualified"],
        "steps": [
            {"id": "tag", "action": "Contact.update", "mapping": {"id": "contact.$id"}},
            {"name": "notify", "action": "log", "mapping": {"message": "steps.tag"}},
        ],
    }
    definition = load_definition(document)
    assert [s.id for s in definition.steps] == ["tag", "notify"]
    assert definition.trigger is not None
    assert definition.trigger.events == ["Contact.created", "Contact.qualified"]
    assert _actions(definition.steps)[0].input == {"id": "{{ contact.$id }}"}


# -- brief 001: function steps ------------------------------------------------------------------

CUSTOMER_ONBOARDING_001_AS_WRITTEN = """
name: customerOnboardingWorkflow
description: Automates the customer onboarding process from signup to successful first use
input:
  type: object
  properties:
    customerId: { type: string }
    plan: { enum: [starter, professional, enterprise] }
    industry: { type: string }
    companySize: { enum: [small, medium, large, enterprise] }
  required: [customerId, plan, industry, companySize]
output:
  type: object
  properties:
    onboardingStatus: { enum: [completed, in_progress, needs_assistance] }
    nextSteps: { type: array, items: { type: string } }
    estimatedTimeToValue: { type: number }
    accountManager: { type: string }
  required: [onboardingStatus, nextSteps, estimatedTimeToValue]
steps:
  - id: accountSetup
    function: setupCustomerAccount
    input:
      customerId: '{{input.customerId}}'
      plan: '{{input.plan}}'
  - id: welcomeEmail
    function: sendPersonalizedEmail
    input:
      to: '{{accountSetup.customerEmail}}'
      template: welcome
      variables:
        companyName: '{{accountSetup.companyName}}'
        industry: '{{input.industry}}'
        accountUrl: '{{accountSetup.accountUrl}}'
  - id: resourceAllocation
    function: allocateResources
    input:
      customerId: '{{input.customerId}}'
      plan: '{{input.plan}}'
      companySize: '{{input.companySize}}'
  - id: assignAccountManager
    function: assignAccountManager
    input:
      customerId: '{{input.customerId}}'
      industry: '{{input.industry}}'
      plan: '{{input.plan}}'
    condition: '{{input.plan === "enterprise" || input.companySize === "enterprise"}}'
  - id: scheduleKickoff
    function: scheduleKickoffCall
    input:
      customerEmail: '{{accountSetup.customerEmail}}'
      accountManagerEmail: '{{assignAccountManager.email}}'
      suggestedTopics: [Implementation timeline, Success metrics, Training needs]
    condition: '{{!!assignAccountManager}}'
  - id: createSuccessPlan
    function: generateCustomerSuccessPlan
    input:
      customerId: '{{input.customerId}}'
      industry: '{{input.industry}}'
      companySize: '{{input.companySize}}'
      plan: '{{input.plan}}'
errorHandling:
  retryStrategy:
    maxAttempts: 3
    backoff:
      initialDelay: 1000
      multiplier: 2
  fallbackSteps:
    scheduleKickoff: sendSchedulingLink
metrics:
  - { name: timeToFirstLogin, description: Time from signup to first login }
  - { name: onboardingCompletionRate, description: Percentage of customers completing onboarding }
  - { name: timeToValue, description: Time from signup to first value realization }
"""
# The brief does not say how the output is formed from the steps' results: plait is told.
OUTPUT_MAPPING = """
outputMapping:
  onboardingStatus: '{{createSuccessPlan.onboardingStatus}}'
  nextSteps: '{{createSuccessPlan.nextSteps}}'
  estimatedTimeToValue: '{{createSuccessPlan.estimatedTimeToValue}}'
  accountManager: '{{!!assignAccountManager ? assignAccountManager.name : null}}'
"""
CUSTOMER_ONBOARDING_001_YAML = CUSTOMER_ONBOARDING_001_AS_WRITTEN.replace(
    "\nsteps:\n", OUTPUT_MAPPING + "steps:\n", 1
)


def test_function_output_schema_nothing_produces_is_refused_at_its_required_fields() -> None:
    result = check_definition(CUSTOMER_ONBOARDING_001_AS_WRITTEN)
    assert [p.path for p in result.errors] == [
        "$.output.required[0]", "$.output.required[1]", "$.output.required[2]",
    ]  # fmt: skip
    assert "no field 'onboardingStatus': without 'outputMapping'" in result.errors[0].message


def test_function_customer_onboarding() -> None:
    result = check_definition(CUSTOMER_ONBOARDING_001_YAML)
    assert result.errors == []
    # Steps run for their effects: their outputs are not in the mapped output.
    assert [w.path for w in result.warnings] == ["$.steps[1]", "$.steps[2]", "$.steps[4]"]
    definition = _valid(result.definition)
    assert definition.dialect == "function"
    steps = _actions(definition.steps)
    assert [s.id for s in steps] == [
        "accountSetup", "welcomeEmail", "resourceAllocation", "assignAccountManager",
        "scheduleKickoff", "createSuccessPlan",
    ]  # fmt: skip
    assert steps[0].action == "setupCustomerAccount"
    assert steps[1].after == ["accountSetup"]
    assert steps[5].after == ["scheduleKickoff"]
    assert steps[1].input["variables"]["companyName"] == "{{accountSetup.companyName}}"
    assert steps[3].condition == 'input.plan === "enterprise" || input.companySize === "enterprise"'
    assert steps[4].condition == "!!assignAccountManager"
    assert steps[0].sources == {"action": "function"}


def test_function_schemas_retry_fallback_and_metrics() -> None:
    definition = load_definition(CUSTOMER_ONBOARDING_001_YAML)
    assert definition.input_schema is not None
    assert definition.input_schema["required"] == ["customerId", "plan", "industry", "companySize"]
    assert definition.output_schema is not None
    assert definition.output == {
        "onboardingStatus": "{{createSuccessPlan.onboardingStatus}}",
        "nextSteps": "{{createSuccessPlan.nextSteps}}",
        "estimatedTimeToValue": "{{createSuccessPlan.estimatedTimeToValue}}",
        "accountManager": "{{!!assignAccountManager ? assignAccountManager.name : null}}",
    }
    assert definition.retry is not None
    assert definition.retry.max_attempts == 3
    assert definition.retry.backoff == "exponential"
    assert definition.retry.initial_delay == 1.0
    assert definition.retry.multiplier == 2
    kickoff = _by_id(definition.steps, "scheduleKickoff")
    assert kickoff.on_error == "fallback"
    [fallback] = _actions(kickoff.fallback)
    assert fallback.id == "scheduleKickoff.fallback"
    assert fallback.action == "sendSchedulingLink"
    assert fallback.input == _actions([kickoff])[0].input  # the step's own input
    assert fallback.path == "$.errorHandling.fallbackSteps.scheduleKickoff"
    assert [m.name for m in definition.metrics] == [
        "timeToFirstLogin", "onboardingCompletionRate", "timeToValue",
    ]  # fmt: skip


def test_function_fallback_object_and_schema_aliases() -> None:
    document = {
        "name": "f",
        "inputSchema": {"type": "object"},
        "steps": [{"id": "charge", "function": "chargeCard", "input": {"amount": 5}}],
        "errorHandling": {
            "fallbackSteps": {"charge": {"function": "invoiceLater", "input": {"due": 30}}}
        },
    }
    definition = load_definition(document)
    assert definition.input_schema == {"type": "object"}
    [fallback] = _actions(definition.steps[0].fallback)
    assert (fallback.action, fallback.input) == ("invoiceLater", {"due": 30})


# -- brief 003: service steps -------------------------------------------------------------------

ORDER_FULFILLMENT = {
    "name": "Order Fulfillment Automation",
    "type": "Automation",
    "subtype": "workflow",
    "steps": [
        {
            "id": "validate",
            "name": "Validate Order",
            "type": "function",
            "required": True,
            "timeout": 5000,
            "retryPolicy": {"maxAttempts": 3, "backoff": "exponential"},
        },
        {
            "id": "payment",
            "name": "Process Payment",
            "type": "function",
            "required": True,
            "timeout": 30000,
            "dependsOn": ["validate"],
        },
        {
            "id": "inventory",
            "name": "Reserve Inventory",
            "type": "parallel",
            "required": True,
            "dependsOn": ["payment"],
            "steps": [
                {"id": "check-stock", "name": "Check Stock"},
                {"id": "reserve", "name": "Reserve Items"},
            ],
        },
        {
            "id": "shipping",
            "name": "Schedule Shipping",
            "type": "function",
            "required": True,
            "dependsOn": ["inventory"],
        },
        {
            "id": "notification",
            "name": "Send Confirmation",
            "type": "function",
            "required": False,
            "dependsOn": ["shipping"],
        },
    ],
    "pricing": {
        "model": "per-execution",
        "baseRate": 0.5,
        "stepRates": {"payment": 0.2, "shipping": 0.15, "notification": 0.05},
    },
}

CUSTOMER_ONBOARDING_003_YAML = """
name: Customer Onboarding
type: Automation
subtype: workflow
steps:
  - id: profile
    name: Create Profile
    type: function
    required: true
  - id: verify-identity
    name: Identity Verification
    type: condition
    required: true
    dependsOn: [profile]
    condition: 'inputs.accountType === "business"'
    then:
      id: business-verification
      name: Business Verification
      type: function
    else:
      id: personal-verification
      name: Personal Verification
      type: function
  - id: setup-features
    name: Setup Features
    type: condition
    dependsOn: [verify-identity]
    condition: 'results["verify-identity"].verified === true'
    then:
      id: enable-all-features
      type: parallel
      steps:
        - { id: api-access, name: Enable API Access }
        - { id: integrations, name: Setup Integrations }
        - { id: team-invite, name: Invite Team Members }
    else:
      id: limited-access
      name: Enable Basic Features
      type: function
  - id: send-welcome
    name: Send Welcome Email
    type: function
    required: false
    dependsOn: [setup-features]
pricing:
  model: per-execution
  rate: 1.0
"""


def test_service_order_fulfillment() -> None:
    result = check_definition(ORDER_FULFILLMENT)
    assert (result.errors, result.warnings) == ([], [])
    definition = _valid(result.definition)
    assert definition.dialect == "service"
    validate, payment, inventory, shipping, notification = definition.steps
    assert isinstance(validate, ActionStep)
    assert (validate.id, validate.action, validate.name) == (
        "validate",
        "validate",
        "Validate Order",
    )
    assert validate.depends_on == []
    assert validate.timeout == 5.0
    assert validate.retry is not None
    assert (validate.retry.max_attempts, validate.retry.backoff) == (3, "exponential")
    assert validate.sources["action"] == "id"
    assert payment.timeout == 30.0 and payment.depends_on == ["validate"]
    assert isinstance(inventory, ParallelStep)
    assert inventory.strategy == "all"
    assert [(c.id, _actions([c])[0].action) for c in inventory.steps] == [
        ("check-stock", "check-stock"), ("reserve", "reserve"),
    ]  # fmt: skip
    assert inventory.steps[1].path == "$.steps[2].steps[1]"
    assert shipping.depends_on == ["inventory"]
    assert notification.required is False
    assert definition.metadata["pricing"]["stepRates"]["payment"] == 0.2
    assert definition.metadata["type"] == "Automation"


def test_service_customer_onboarding_conditions() -> None:
    result = check_definition(CUSTOMER_ONBOARDING_003_YAML)
    assert (result.errors, result.warnings) == ([], [])
    definition = _valid(result.definition)
    profile, verify, features, welcome = definition.steps
    assert profile.depends_on == []
    assert isinstance(verify, ConditionStep)
    assert verify.test == 'inputs.accountType === "business"'
    assert [s.id for s in verify.then] == ["business-verification"]
    assert [s.id for s in verify.else_] == ["personal-verification"]
    assert verify.then[0].path == "$.steps[1].then"
    assert verify.sources["test"] == "condition"
    assert isinstance(features, ConditionStep)
    [enable] = features.then
    assert isinstance(enable, ParallelStep)
    assert [s.id for s in enable.steps] == ["api-access", "integrations", "team-invite"]
    assert enable.steps[2].path == "$.steps[2].then.steps[2]"
    assert welcome.required is False and welcome.depends_on == ["setup-features"]


def test_service_error_handling_compensation_and_retry_defaults() -> None:
    document = {
        "name": "Invoice Processing",
        "timeout": "2h",
        "steps": [
            {
                "id": "extract",
                "type": "function",
                "function": "extractInvoice",
                "input": {"file": "{{inputs.file}}"},
                "timeout": 30000,
                "retryPolicy": {"maxAttempts": 3, "backoff": "exponential", "baseDelay": 1000,
                                "maxDelay": 30000},
                "onError": "retry",
            },
            {"id": "approve", "type": "function", "onError": "continue",
             "compensation": "reverseApproval", "dependsOn": ["extract"]},
            {"id": "pay", "type": "function", "dependsOn": ["approve"],
             "onError": {"fallback": {"id": "pay-later", "function": "scheduleInvoice"}},
             "compensation": {"function": "refund", "input": {"id": "{{pay.id}}"}}},
            {"id": "pause", "type": "sleep", "duration": "5m", "dependsOn": ["pay"]},
            {"id": "each", "type": "foreach", "items": "inputs.lines", "as": "line",
             "concurrency": 4, "steps": [{"id": "book", "input": "{{line}}"}]},
        ],
        "errorHandling": {
            "defaultRetryPolicy": {"maxAttempts": 2, "backoff": "exponential", "baseDelay": 1000},
            "compensationStrategy": "reverse-order",
            "notifyOnFailure": True,
        },
    }  # fmt: skip
    result = check_definition(document)
    assert (result.errors, result.warnings) == ([], [])
    definition = _valid(result.definition)
    assert definition.timeout == 7200.0
    assert definition.retry is not None
    assert (definition.retry.max_attempts, definition.retry.initial_delay) == (2, 1.0)
    extract, approve, pay, pause, each = definition.steps
    assert isinstance(extract, ActionStep)
    assert extract.action == "extractInvoice" and extract.input == {"file": "{{inputs.file}}"}
    assert extract.on_error == "stop"
    assert extract.retry is not None
    assert (extract.retry.initial_delay, extract.retry.max_delay) == (1.0, 30.0)
    assert approve.on_error == "continue"
    assert [(c.id, c.action) for c in approve.compensation] == [
        ("approve.compensate", "reverseApproval")
    ]
    assert pay.on_error == "fallback"
    assert [(s.id, _actions([s])[0].action) for s in pay.fallback] == [
        ("pay-later", "scheduleInvoice")
    ]
    assert pay.fallback[0].path == "$.steps[2].onError.fallback"
    assert [(c.id, c.input) for c in pay.compensation] == [("pay.compensate", {"id": "{{pay.id}}"})]
    assert isinstance(pause, SleepStep) and pause.seconds == 300.0
    assert isinstance(each, ForeachStep)
    assert (each.items, each.as_, each.concurrency) == ("inputs.lines", "line", 4)
    assert definition.metadata["notifyOnFailure"] is True


def test_service_human_task_steps_load() -> None:
    document = {
        "name": "Expense Approval",
        "steps": [
            {"id": "extract", "type": "function"},
            {"id": "human-approval", "type": "human-task", "timeout": 86400000,
             "assignTo": 'results["policy-check"].approver', "dependsOn": ["extract"]},
        ],
    }  # fmt: skip
    result = check_definition(document)
    assert result.errors == []
    assert [str(p) for p in result.warnings] == [
        "$.steps[1].assignTo: expression 'results[\"policy-check\"].approver' reads the output "
        "of 'policy-check', which is not a step"
    ]
    assert result.definition is not None
    assert result.definition.steps[1].kind == "human-task"


# -- brief 004: node graphs ---------------------------------------------------------------------

INVENTORY_GRAPH = {
    "metadata": {
        "name": "Inventory Reorder Alerts",
        "id": "inventory-reorder",
        "description": "Flag items below their threshold and raise purchase orders",
    },
    "nodes": [
        {"id": "notify", "type": "action", "name": "Reorder notification",
         "config": {"action": "PurchaseOrder.create", "input": {"items": "{{check.low}}"}}},
        {"id": "start", "type": "trigger", "name": "Manual stock check"},
        {"id": "check", "type": "action", "name": "Check stock levels",
         "config": {"code": "low = [i for i in input['items'] if i['qty'] < i['min']]\n"
                            "result = {'low': low}"}},
        {"id": "log", "type": "action", "name": "Log",
         "config": {"action": "log", "input": {"message": "checked"}}},
    ],
    "edges": [
        {"source": "start", "target": "check"},
        {"source": "check", "target": "notify"},
        {"source": "check", "target": "log"},
    ],
}  # fmt: skip


def test_graph_nodes_become_steps_in_topological_order() -> None:
    result = check_definition(INVENTORY_GRAPH)
    assert (result.errors, result.warnings) == ([], [])
    definition = _valid(result.definition)
    assert definition.dialect == "graph"
    assert definition.name == "Inventory Reorder Alerts"
    assert definition.description is not None
    assert definition.metadata == {"id": "inventory-reorder"}
    assert definition.trigger is not None
    assert (definition.trigger.events, definition.trigger.manual) == ([], True)
    check, notify, log = _actions(definition.steps)
    assert (check.id, check.action, check.depends_on) == ("check", "code", [])
    assert check.input == {"code": INVENTORY_GRAPH["nodes"][2]["config"]["code"]}  # type: ignore[index]
    assert check.path == "$.nodes[2]"
    assert check.sources["action"] == "config.code"
    assert (notify.action, notify.depends_on) == ("PurchaseOrder.create", ["check"])
    assert notify.input == {"items": "{{check.low}}"}
    # Its edge, and the node before it: nodes run one at a time, in this order.
    assert (log.depends_on, log.after) == (["check"], ["notify"])
    assert definition.context == {}  # every graph has a workflow context


def test_graph_trigger_events() -> None:
    document = {
        "metadata": {"name": "on ticket"},
        "nodes": [
            {"id": "t", "type": "trigger", "config": {"event": "Ticket.created"}},
            {"id": "a", "type": "action", "config": {"action": "log"}},
        ],
        "edges": [{"source": "t", "target": "a"}],
    }
    definition = load_definition(document)
    assert definition.trigger is not None and definition.trigger.events == ["Ticket.created"]


# -- canonical ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        DEAL_WON,
        CUSTOMER_ONBOARDING_001_YAML,
        ORDER_FULFILLMENT,
        CUSTOMER_ONBOARDING_003_YAML,
        INVENTORY_GRAPH,
    ],
)
def test_a_normalised_definition_reloads_as_canonical_unchanged(document: Any) -> None:
    definition = load_definition(document)
    dumped = json.loads(definition.model_dump_json(by_alias=True))
    assert load_definition(dumped) == definition


def test_canonical_documents_get_paths_filled_in() -> None:
    document = {
        "dialect": "canonical",
        "name": "c",
        "steps": [
            {"kind": "action", "id": "a", "action": "log"},
            {"kind": "condition", "id": "b", "test": "steps.a != null", "depends_on": ["a"],
             "then": [{"kind": "action", "id": "c", "action": "log"}]},
        ],
    }  # fmt: skip
    definition = load_definition(document)
    branch = definition.steps[1]
    assert isinstance(branch, ConditionStep)
    assert branch.path == "$.steps[1]"
    assert branch.then[0].path == "$.steps[1].then[0]"


# -- detection and durations --------------------------------------------------------------------


def test_states_make_a_state_machine() -> None:
    result = check_definition({"name": "Order", "states": {"pending": {}}, "initialState": "p"})
    assert [str(p) for p in result.errors] == ["$.initialState: unknown state 'p'"]


@pytest.mark.parametrize("steps", [None, []])
def test_a_workflow_needs_steps(steps: Any) -> None:
    document: dict[str, Any] = {"name": "empty", "triggerEvent": "Deal.won"}
    if steps is not None:
        document["steps"] = steps
    result = check_definition(document)
    assert [p.path for p in result.errors] == ["$.steps"]


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (5000, 5.0),
        (1500.5, 1.5005),
        ("250ms", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5s", 1.5),
    ],
)
def test_durations_are_milliseconds_or_strings_with_a_unit(written: Any, seconds: float) -> None:
    document = {"name": "d", "steps": [{"id": "a", "type": "function", "timeout": written}]}
    assert load_definition(document).steps[0].timeout == pytest.approx(seconds)


def _valid(definition: Definition | None) -> Definition:
    assert definition is not None
    return definition


def _actions(steps: list[Step]) -> list[ActionStep]:
    assert all(isinstance(s, ActionStep) for s in steps)
    return [s for s in steps if isinstance(s, ActionStep)]


def _by_id(steps: list[Step], step_id: str) -> Step:
    return next(s for s in steps if s.id == step_id)
