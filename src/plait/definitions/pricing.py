"""A definition's top-level ``pricing`` (brief 003), in every dialect, and a code workflow's.

The key is lifted out of the document before its dialect reads it (the service dialect's
``metadata.pricing`` keeps the document's, as before), checked with a JSON path for each
problem (``plait.runtime.pricing``), and kept on the definition as written. A compiled
workflow gets the model, with the ids of the steps inside its parallel groups (whose step
rates ``parallelDiscount`` reduces).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from plait.definitions.model import Definition, ParallelStep, walk
from plait.definitions.validate import Findings, InvalidDefinition, Problem
from plait.runtime import pricing as model

KEY = "pricing"


def lift(document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``document`` without its ``pricing`` (copied when it has one), and the pricing."""
    if KEY not in document:
        return document, None
    lifted = dict(document)
    return lifted, lifted.pop(KEY)


def apply(definition: Definition, raw: Any, findings: Findings, dialect: str) -> None:
    """Check the lifted ``pricing`` and keep it on ``definition`` (a problem per path)."""
    if raw is None:
        return
    problems = model.check(raw)
    for path, message in problems:
        findings.error(path, message)
    if dialect == "service":  # its metadata kept the brief's pricing before plait priced runs
        definition.metadata[KEY] = raw
    if not problems:
        definition.pricing = dict(raw)


def pricing_of(definition: Definition) -> model.Pricing | None:
    """The pricing model of a checked ``definition`` (None: its runs are not priced), with
    the ids of the steps inside its parallel groups."""
    if definition.pricing is None:
        return None
    inside = {
        step.id for group in walk(definition.steps) if isinstance(group, ParallelStep)
        for step in walk(group.steps)
    }  # fmt: skip
    return dataclasses.replace(model.parse(definition.pricing), parallel=frozenset(inside))


def code_pricing(raw: Mapping[str, Any] | model.Pricing | None) -> model.Pricing | None:
    """A code workflow's ``pricing=``; ``InvalidDefinition`` lists its problems by path."""
    if raw is None:
        return None
    try:
        return model.parse(raw)
    except model.InvalidPricing as exc:
        raise InvalidDefinition([Problem(path, message) for path, message in exc.problems]) from exc
