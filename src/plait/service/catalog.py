"""The catalog: what this process knows how to execute.

It holds the code workflows registered here (``@engine.workflow`` and ``engine.define``), the
actions (registered and built-in), the shared clients of built-in actions (an HTTP client, the
code sandbox pool), and the stored definition versions compiled here. The engine fills it; the
services and the worker read it.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plait.actions.base import Actions
from plait.errors import DuplicateWorkflow, UnknownWorkflow
from plait.ids import new_id
from plait.interpreter.cache import PlanCache

if TYPE_CHECKING:
    from plait.settings import Settings
    from plait.store.base import Store
    from plait.store.records import ClaimedRun
    from plait.workflow import Workflow


class Catalog:
    """Code workflows, actions, clients and compiled plans of one engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workflows: dict[str, Workflow] = {}
        """Workflows registered in this process, by name."""
        self.actions = Actions()
        self.clients: dict[str, Any] = {"code_pool_options": _pool_options(settings),
                                        "smtp": _smtp_server(settings)}  # fmt: skip
        """Shared clients of built-in actions (the HTTP client, the code sandbox pool, the SMTP
        server of the ``email`` action)."""
        self.system: dict[str, Workflow] = {}
        """Built-in workflows every worker runs and the registry does not show (the
        notification runs of schedules, ``plait.notify``); made on first use."""
        self.registry_ids: dict[str, str] = {}
        """The stored registry id of each code workflow (filled when the store opens)."""
        self._builtins = False
        self._plans = PlanCache()

    def add(self, workflow: Workflow) -> Workflow:
        if workflow.name in self.workflows:
            raise DuplicateWorkflow(workflow.name)
        self.workflows[workflow.name] = workflow
        return workflow

    @property
    def runnable(self) -> Mapping[str, Workflow]:
        """What a worker of this process runs: the registered workflows (a live view: some are
        registered after the worker starts) and the built-in ones."""
        if not self.system:
            from plait.service.notifications import notify_workflow

            built = notify_workflow(self.clients)
            self.system[built.name] = built
        return ChainMap(self.workflows, self.system)

    def get(self, name: str) -> Workflow:
        found = self.workflows.get(name)
        if found is None:
            raise UnknownWorkflow(name, list(self.workflows))
        return found

    def take(self, other: Catalog) -> None:
        """Register ``other``'s workflows and actions (copied) here too."""
        self.workflows.update(other.workflows)
        self.actions = other.actions.copy()
        self._builtins = other._builtins

    def prepare_actions(self) -> Actions:
        """The actions, with the built-ins (http, emit, log, code, documents) registered once."""
        if not self._builtins:
            from plait.actions.builtin import register_builtins
            from plait.actions.code_action import code_action

            register_builtins(self.actions)
            if not self.actions.known("code"):
                self.actions.register("code", code_action)
            self._builtins = True
        return self.actions

    def known_action(self, name: str) -> bool:
        return self.prepare_actions().known(name)

    def ordered_replay(self, workflow: str, version: int | None) -> bool:
        """Whether runs of ``workflow`` replay in call order (code) or by step key (definitions).

        A process that does not have a code workflow registered (the CLI) assumes call order,
        the stricter choice: at worst a step after a failure runs again.
        """
        if version is not None:
            return False
        found = self.workflows.get(workflow)
        return True if found is None else found.ordered_replay

    def plan(self, org: str, workflow_id: str, version: int, data: dict[str, Any]) -> Workflow:
        """The workflow of a stored definition version, compiled once per process."""
        key = (org, workflow_id, version)
        if key not in self._plans:
            from plait.definitions.model import Definition
            from plait.interpreter.define import build_workflow

            definition = Definition.model_validate(data)
            self._plans[key] = build_workflow(definition, self.prepare_actions(), self.clients)[0]
        return self._plans[key]

    async def resolve(self, store: Store, run: ClaimedRun) -> Workflow:
        """The workflow that executes ``run``: registered code, or its stored version."""
        if run.workflow_version is None or run.workflow_id is None:
            return self.get(run.workflow)
        key = (run.org, run.workflow_id, run.workflow_version)
        if key not in self._plans:
            stored = await store.get_workflow_version(*key)
            if stored is None:
                raise UnknownWorkflow(f"{run.workflow} v{run.workflow_version}")
            return self.plan(*key, stored.definition)
        return self._plans[key]

    async def mirror(self, store: Store, now: float) -> None:
        """Show this process's code workflows in the registry (read-only, org ``default``)."""
        from plait.store.records import WorkflowRecord

        for workflow in self.workflows.values():
            record = WorkflowRecord("default", new_id("workflow", 8), workflow.name, "code",
                                    "Activated", 1, {"name": workflow.name}, 0, 0, 0, 0, None,
                                    now, now)  # fmt: skip
            stored = await store.upsert_code_workflow(record, workflow.triggers)
            if stored.kind == "code":
                self.registry_ids[workflow.name] = stored.id

    async def close_clients(self) -> None:
        if self._builtins:
            from plait.actions.builtin import close_builtins
            from plait.actions.code_action import close_code_pool

            await close_code_pool(self.clients)
            await close_builtins(self.clients)


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "size": settings.code_workers, "timeout": settings.code_timeout_seconds,
        "cpu_seconds": settings.code_cpu_seconds, "memory_mb": settings.code_memory_mb,
        "org_workers": settings.code_org_workers or max(1, settings.code_workers - 1),
        "max_output_bytes": settings.code_max_output_bytes,
    }  # fmt: skip


def _smtp_server(settings: Settings) -> Any:
    """The SMTP server of the ``email`` action, or None without ``smtp_url`` (the module, and
    the standard library's ``email`` package, are loaded only for one)."""
    if not settings.smtp_url:
        return None
    from plait.actions.email import smtp_server

    return smtp_server(settings)
