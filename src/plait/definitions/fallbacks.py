"""An error policy of ``fallback`` needs a fallback to run.

A step whose policy (its own ``on_error``, else the workflow's) is ``fallback`` but which has no
fallback steps would carry on past its failure as under ``continue``, quietly. Such a definition
is checked with a warning (a Draft may be unfinished) and refused at activation.
"""

from __future__ import annotations

from collections.abc import Iterator

from plait.definitions.model import Definition, Step, children
from plait.definitions.validate import Problem, at, everything


def missing_fallbacks(definition: Definition) -> list[Problem]:
    """A problem for each step whose own ``on_error`` is ``fallback`` with no fallback steps,
    and one at the workflow's error policy naming the steps that inherit ``fallback`` and have
    none (at ``$.errorHandling`` in the entity dialect, else ``$.on_error``)."""
    machine_steps = definition.machine.steps() if definition.machine is not None else []
    steps = list(everything([*definition.steps, *machine_steps]))
    problems = [
        Problem(at(step, "on_error"), f"step {step.id!r} has the error policy fallback but "
                "has no fallback to run: give it fallback steps, or choose continue or stop")
        for step in steps
        if step.on_error == "fallback" and not step.fallback
    ]  # fmt: skip
    if definition.on_error == "fallback":
        bare = [step.id for step in _governed(definition.steps) if step.on_error is None
                and not step.fallback]  # fmt: skip
        if bare:
            where = "$.errorHandling" if definition.dialect == "entity" else "$.on_error"
            names = ", ".join(repr(name) for name in bare)
            problems.append(Problem(where, "the error policy is fallback, but these steps have "
                                    f"no fallback to run: {names} (a failure would carry on as "
                                    "under Continue): give them fallback steps, or choose "
                                    "Continue or Stop"))  # fmt: skip
    return problems


def _governed(steps: list[Step]) -> Iterator[Step]:
    """The steps the workflow's error policy governs: ``steps`` and those nested in them, but
    not fallback steps nor compensations."""
    for step in steps:
        yield step
        fallbacks = {id(fallback) for fallback in step.fallback}
        yield from _governed([child for child in children(step) if id(child) not in fallbacks])
