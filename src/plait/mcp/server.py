"""The MCP server of an engine: its tools (:mod:`plait.mcp.tools`), resources and prompts, on
the reference SDK's ``MCPServer``. The transports (:mod:`plait.mcp.stdio`,
:mod:`plait.mcp.http`) build one and say how a call finds its caller.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

from plait import __version__
from plait.errors import NotFound, PlaitError
from plait.mcp.results import invalid_arguments, wire
from plait.mcp.tools import WhoCalls, register

if TYPE_CHECKING:
    from plait.engine import Engine
    from plait.resources.base import Resource

INSTRUCTIONS = """\
plait runs durable workflows. Find things with the query tool ({type, filter, sort, limit,
cursor} for a page, {type, id} for one). To author a workflow: read definition_schema, write a
definition, check it with validate_workflow (every problem comes with its JSON path), test it
with test_workflow (scenarios with mocked actions on virtual time: nothing real runs), then
create_workflow (a Draft) and activate_workflow. To diagnose: run_timeline shows each step of a
run with its error; workflow_stats how a workflow is doing. A tool error carries a problem
document: status, detail and errors [{path, message}]."""

JSON = "application/json"


def build_server(engine: Engine, who: WhoCalls, *, read_only: bool = False) -> MCPServer[Any]:
    """The MCP server of ``engine``; ``who`` finds the caller of a request; ``read_only``
    offers only the tools that change nothing."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer[Any] = _Server(
        "plait", title="plait", version=__version__, instructions=INSTRUCTIONS,
        warn_on_duplicate_tools=False,
    )  # fmt: skip
    # MCPServer configures the root logger (logging.basicConfig); plait's interfaces configure
    # logging themselves, and the process's other loggers keep their handlers and level.
    root.handlers[:] = handlers
    root.setLevel(level)
    register(server, engine, who, read_only=read_only)
    _resources(server, engine, who)
    _prompts(server)
    return server


class _Server(MCPServer[Any]):
    """The SDK's server, but arguments that fail a tool's input schema come back as a problem
    document with their paths (as every other tool error), not the validator's text."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return invalid_arguments(exc.__cause__, name)
            raise


def _resources(server: MCPServer[Any], engine: Engine, who: WhoCalls) -> None:
    @server.resource(
        "plait://workflows/{id}", name="workflow", mime_type=JSON,
        description="A stored workflow by id or name: its definition, status, version and "
        "counters.",
    )  # fmt: skip
    async def workflow(id: str, ctx: Context) -> str:
        return await _read(who, ctx, lambda org: engine.workflows.get(org, id))

    @server.resource(
        "plait://runs/{id}", name="run", mime_type=JSON,
        description="A run's document: status, input, output, error, its steps and history.",
    )  # fmt: skip
    async def run(id: str, ctx: Context) -> str:
        return await _read(who, ctx, lambda org: engine.runs.get(org, id))

    @server.resource(
        "plait://schema/definition", name="definition-schema", mime_type=JSON,
        description="The JSON Schema of plait's canonical workflow definition.",
    )  # fmt: skip
    def definition_schema() -> str:
        from plait.definitions.model import json_schema

        return orjson.dumps(json_schema()).decode()


async def _read(who: WhoCalls, ctx: Context, get: Callable[[str], Awaitable[Resource]]) -> str:
    """A resource of the caller's organization as JSON (every role may read); a missing one is
    the SDK's not-found error, another error carries the problem's detail."""
    try:
        caller = who(ctx)
        value = await get(caller.org)
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except PlaitError as exc:
        raise ResourceError(str(exc)) from exc
    return orjson.dumps(wire(value, caller.role), option=orjson.OPT_NON_STR_KEYS).decode()


def _prompts(server: MCPServer[Any]) -> None:
    @server.prompt(
        "debug-failed-run", title="Debug a failed run",
        description="Find why a run failed and propose a fix.",
    )  # fmt: skip
    def debug_failed_run(run: str) -> str:
        return (
            f"Run {run} of plait failed. Find out why and propose a fix.\n"
            f"1. Call run_timeline with run={run!r}: find the first step whose status is failed "
            "and read its error (type, message, and path: the place in the definition at "
            "fault) and its attempts.\n"
            '2. Call query with {"type": "Workflow", "id": <the run\'s workflow>} to read '
            "the definition, and workflow_stats to see whether the step fails often.\n"
            "3. Explain the cause in a sentence. If the definition is at fault, write the "
            "corrected fields, check them with validate_workflow and test_workflow (mock the "
            "actions), and only then, with the user's agreement, update_workflow.\n"
            "4. To finish the run after the fix: resume_run (from the failed step) or fork_run "
            "(from an earlier step)."
        )

    @server.prompt(
        "write-workflow", title="Write a workflow for ...",
        description="Write, check and test a workflow for a goal, before it goes live.",
    )  # fmt: skip
    def write_workflow(goal: str, trigger: str = "") -> str:
        started = f" It starts on the event {trigger}." if trigger else ""
        return (
            f"Write a plait workflow that does this: {goal}.{started}\n"
            "1. Read the definition_schema tool (or the plait://schema/definition resource), "
            'and query existing workflows for examples ({"type": "Workflow"}).\n'
            "2. Write the definition: name, triggerEvent, steps (each with an id and an "
            "action), and tests: {scenarios: [...]} covering the normal path and a failure.\n"
            "3. Call validate_workflow and fix every error at its path until it is valid.\n"
            "4. Call test_workflow: each scenario runs on a throwaway engine with mocked "
            "actions and virtual time. Fix the definition until every scenario passes.\n"
            "5. Call create_workflow (it is stored as a Draft), show the user what it does, "
            "and activate_workflow only when they agree."
        )
