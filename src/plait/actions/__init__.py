"""Actions: what declarative steps call (registered Python callables and built-ins)."""

from plait.actions.base import Action, ActionContext, ActionError, ActionRegistry

__all__ = ["Action", "ActionContext", "ActionError", "ActionRegistry"]
