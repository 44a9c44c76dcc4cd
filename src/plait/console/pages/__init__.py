"""The console's pages, one module per section, each with a ``router``."""

from plait.console.pages import (
    audit,
    auth,
    events,
    inbox,
    keys,
    live,
    machines,
    overview,
    run,
    runs,
    schedules,
    secrets,
    webhooks,
    workflows,
)

PAGES = (
    auth,
    live,
    overview,
    events,
    inbox,
    schedules,
    webhooks,
    keys,
    secrets,
    machines,
    audit,
    runs,
    run,
    workflows,
)
"""Every page module, in the order their routes are matched."""
