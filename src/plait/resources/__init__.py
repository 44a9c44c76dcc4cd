"""The resources plait shows, one pydantic model each, built from store records in one place
and rendered by every interface (REST, CLI ``--json``, Python, console, MCP)."""
