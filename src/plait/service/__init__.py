"""The service layer: business rules live here once. Every interface (Python, CLI, REST) calls
these services and renders the typed resources (``plait.resources``) they return."""
