"""Actions: what declarative steps call (registered Python callables and built-ins)."""

from plait.actions.base import Action, ActionContext, ActionError, Actions

__all__ = ["Action", "ActionContext", "ActionError", "Actions"]
