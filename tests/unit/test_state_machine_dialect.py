"""Reading state machines: the brief's spellings, step ids, listened event types, warnings."""

from __future__ import annotations

from plait.definitions.load import check_definition, parse_document
from plait.definitions.model import ActionStep, ParallelStep

YAML = """
name: tickets
correlation: data.ticketId
initialState: new
start: Ticket.opened
events: {Ticket.assigned: assign, Ticket.closed: close, Ticket.noted: note}
states:
  new:
    onEntry: notifyTeam
    on:
      assign:
        target: open
        actions:
          - {function: setOwner, input: {owner: "{{ data.owner }}"}}
          - type: parallel
            steps: [{id: tell-owner, function: tell}, {id: tell-team, function: tell}]
  open:
    onExit: {action: log, mapping: {message: "'leaving ' + state"}}
    on: {close: closed, REOPEN: new}
    timeout: 5m
    timeoutTransition: {target: closed, action: autoClose}
  closed: {terminal: true, on: {REOPEN: new}}
"""


def test_the_briefs_spellings_and_step_ids() -> None:
    result = check_definition(parse_document(YAML, "tickets.yaml"))
    assert result.errors == []
    definition = result.definition
    assert definition is not None and definition.machine is not None
    machine = definition.machine
    assert machine.initial == "new" and machine.start == ["Ticket.opened"]
    new, opened = machine.states["new"], machine.states["open"]
    assert [s.id for s in new.entry] == ["new.entry"]
    first, second = new.on["assign"].actions
    assert isinstance(first, ActionStep) and first.id == "new.assign"
    assert isinstance(second, ParallelStep) and second.id == "new.assign-2"
    assert [s.id for s in opened.exit] == ["open.exit"] and opened.timeout == 300.0
    assert opened.timeout_transition is not None
    assert [s.id for s in opened.timeout_transition.actions] == ["open.timeout"]
    assert definition.trigger is not None
    assert sorted(definition.trigger.events) == sorted(
        ["Ticket.assigned", "Ticket.closed", "Ticket.noted", "Ticket.opened", "REOPEN"]
    )
    assert machine.can_start("Ticket.opened") and machine.can_start("Ticket.assigned")
    assert not machine.can_start("Ticket.closed")
    assert sorted(str(w) for w in result.warnings) == [
        "$.events[\"Ticket.noted\"]: event 'note' has no transition in any state",
        "$.states.closed.on: state 'closed' is terminal: its transitions are never taken",
    ]


def test_timeouts_need_both_halves_and_steps_are_checked() -> None:
    document = parse_document(YAML, "tickets.yaml")
    del document["states"]["open"]["timeout"]
    document["states"]["new"]["on"]["assign"]["guard"] = "context.owner =="
    document["states"]["new"]["on"]["assign"]["actions"][0]["input"] = "{{ nobody.x }}"
    errors = [str(p) for p in check_definition(document).errors]
    assert "$.states.open.timeoutTransition: state 'open' has a timeoutTransition but no " \
        "'timeout'" in errors  # fmt: skip
    assert any(e.startswith("$.states.new.on.assign.guard: expression 'context.owner ==' does "
                            "not compile") for e in errors)  # fmt: skip
    assert any(e.startswith("$.states.new.on.assign.actions[0].input: unknown name 'nobody'")
               for e in errors)  # fmt: skip


def test_a_null_state_is_read_as_an_empty_one_not_a_crash() -> None:
    """A state written as null (YAML ``done:`` with nothing after it) is an empty state: the
    problems are the machine's, at their paths (an API request gave a 500 before)."""
    from plait.definitions.load import check_definition

    result = check_definition({"name": "m", "initial": "a", "states": {"a": None}})
    assert [(p.path, p.message) for p in result.errors] == [
        ("$.initial", "no event can create an instance: the initial state has no transitions "
                      "and 'start' is empty"),
    ]  # fmt: skip
