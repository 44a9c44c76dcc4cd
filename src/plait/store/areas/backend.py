"""Every store verb in one class; a backend subclass adds its connection handling
(``open``, ``close``, ``_submit``, ``_read``, ``schema_version``)."""

from __future__ import annotations

from collections.abc import Callable

from plait.store.areas.children import ChildrenArea
from plait.store.areas.core import CoreArea
from plait.store.areas.keys import KeysArea
from plait.store.areas.machines import MachinesArea
from plait.store.areas.operations import OperationsArea
from plait.store.areas.schedules import SchedulesArea
from plait.store.areas.secrets import SecretsArea
from plait.store.areas.tasks import TasksArea
from plait.store.areas.trees import TreesArea
from plait.store.areas.webhooks import WebhooksArea
from plait.store.areas.workflows import WorkflowsArea
from plait.store.records import EventRouter


class StoreBackend(
    CoreArea, WorkflowsArea, KeysArea, WebhooksArea, SchedulesArea,
    ChildrenArea, TreesArea, TasksArea, MachinesArea, OperationsArea, SecretsArea,
):  # fmt: skip
    """All verbs of the Store protocol and of the automation service's registry."""

    def __init__(
        self, *, router: EventRouter | None = None, on_runnable: Callable[[], None] | None = None
    ) -> None:
        self._router = router
        self._on_runnable = on_runnable

    async def open(self) -> None:
        raise TypeError("provided by a backend")

    async def close(self) -> None:
        raise TypeError("provided by a backend")

    async def schema_version(self) -> int:
        raise TypeError("provided by a backend")
