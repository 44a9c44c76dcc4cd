"""plait's MCP server: query, act on, author and diagnose workflows from an agent, with the
reference ``mcp`` SDK (docs/mcp.md).

``plait mcp`` serves it on stdio (:mod:`plait.mcp.stdio`) and ``plait serve`` over streamable
HTTP at ``/mcp`` (:mod:`plait.mcp.http`, mounted by :func:`plait.api.create_app`). Like every
interface it parses, calls the services and renders the resource models; the same API keys and
roles as the REST API govern every tool (:mod:`plait.mcp.tools`, ``TOOLS``). The server itself
is :func:`plait.mcp.server.build_server`.

Nothing here loads the SDK on import: ``import plait`` and ``plait.api.create_app`` never pay
for it; the HTTP endpoint loads it in a thread once the app starts.
"""
