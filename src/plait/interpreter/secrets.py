"""``secrets.NAME`` in a step's input: which secrets a template reads, and the scope that holds
their values while the step runs.

The values are read when the step runs (never when the definition is saved), by the run's
``RunSecrets``, so they are redacted from everything the run records.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from plait.expressions.rewrite import analyse
from plait.secrets import SCOPE_NAME

if TYPE_CHECKING:
    from plait.expressions import Template
    from plait.runtime.context import Context

EVERY = frozenset({"*"})
"""What a template reads when a secret's name is computed (``secrets[input.which]``): every
secret of the organization (``*`` cannot name a secret)."""


@lru_cache(maxsize=4096)
def secret_names(template: Template) -> frozenset[str]:
    """The names of the secrets ``template`` reads (``secrets.TOKEN``, ``secrets["TOKEN"]``):
    empty when it reads none, :data:`EVERY` when a name is computed. Found once per template
    (templates are compiled once per definition version)."""
    names: set[str] = set()
    for _, expression in template.expressions:
        if SCOPE_NAME not in expression.names:
            continue
        chains = [c.path for c in analyse(expression.cel).chains if c.path[0] == SCOPE_NAME]
        for path in chains or [(SCOPE_NAME,)]:
            if len(path) < 2 or not isinstance(path[1], str):
                return EVERY
            names.add(path[1])
    return frozenset(names)


async def secret_scope(ctx: Context, template: Template | None) -> dict[str, Any]:
    """``{"secrets": {NAME: value}}`` for the secrets ``template`` reads, or ``{}`` when it
    reads none. ``SecretNotFound`` names a secret the organization does not have."""
    if template is None:
        return {}
    names = secret_names(template)
    if not names:
        return {}
    return {SCOPE_NAME: await ctx.secrets.read_many(None if names is EVERY else names)}
