"""Scenarios read against the workflow they test: an expectation that can never fail is refused.

A step id in ``expect.steps`` or ``tasks``, or an action name in ``expect.calls`` or ``mocks``,
that the workflow does not have would be checked against nothing (a misspelt ``calls:
{sendEmial: 0}`` always passes), so each is a problem at its path, with the closest name the
workflow has. A state machine's expectations (``state``, ``visited``, ``context``,
``rejected``) on a workflow that is not one are refused too.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from plait.definitions.model import ActionStep, walk
from plait.definitions.validate import Problem
from plait.resources.scenarios import MACHINE_ONLY

if TYPE_CHECKING:
    from plait.definitions.model import Definition, Step
    from plait.resources.scenarios import Scenario, Scenarios


def workflow_problems(
    scenarios: Scenarios, definition: Definition, path: str = "$"
) -> list[Problem]:
    """Every id or name the scenarios use that ``definition`` does not have, at its path under
    ``path`` (the scenarios' document)."""
    steps = _all_steps(definition)
    ids = sorted({step.id for step in steps})
    actions = sorted({step.action for step in steps if isinstance(step, ActionStep)})
    found: list[Problem] = []
    for index, scenario in enumerate(scenarios.scenarios):
        at = f"{path}.scenarios[{index}]"
        found += _unknown(f"{at}.expect.steps", scenario.expect.steps, ids, "step")
        found += _unknown(f"{at}.tasks", scenario.tasks, ids, "step")
        found += _unknown(f"{at}.expect.calls", scenario.expect.calls, actions, "action")
        found += _unknown(f"{at}.mocks", scenario.mocks, actions, "action")
        if definition.machine is None:
            found += _machine_only(f"{at}.expect", scenario)
    return found


def _all_steps(definition: Definition) -> list[Step]:
    roots = list(definition.steps)
    if definition.machine is not None:
        roots += definition.machine.steps()
    found = walk(roots)
    compensations = [c for step in found for c in step.compensation]
    return found + walk(list(compensations))


def _unknown(path: str, named: dict[str, Any], known: list[str], kind: str) -> list[Problem]:
    found: list[Problem] = []
    for name in named:
        bare = _bare(name) if kind == "step" else name
        if name in known or bare in known:
            continue
        close = difflib.get_close_matches(bare, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "none"
        found.append(Problem(f"{path}.{name}", f"the workflow has no {kind} {name!r}, so this "
                             f"can never be checked{hint} (its {kind}s: {listing})"))  # fmt: skip
    return found


def _bare(name: str) -> str:
    """A step key's id: ``vp-approval#2`` and a nested ``a.vp-approval`` are ``vp-approval``."""
    bare = name.split("#", 1)[0]
    return bare.rsplit("/", 1)[-1].rsplit(".", 1)[-1] if "." in bare or "/" in bare else bare


def _machine_only(path: str, scenario: Scenario) -> list[Problem]:
    asked = [name for name in MACHINE_ONLY if name in scenario.expect.model_fields_set]
    return [Problem(f"{path}.{name}", "the workflow is not a state machine: this expects a "
                    "state machine instance") for name in asked]  # fmt: skip
