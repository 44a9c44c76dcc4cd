"""The REST API (``plait serve``): ``create_app(engine)`` returns its ASGI application."""

from plait.api.app import create_app

__all__ = ["create_app"]
