"""The automation service: stored workflows and their lifecycle, events and triggers, runs by
organization. Every interface (Python, CLI, REST) calls these; business rules live here once."""

from plait.service.pages import Page

__all__ = ["Page"]
