"""Reading a scenario file and the definition it tests.

A scenario file is JSON or YAML with a top-level ``scenarios`` list. The definition it tests is
the file given beside it (``plait test FILE --scenarios S``), else the one its ``workflow``
names (relative to the scenario file), else the scenario file itself when it is a definition
holding its own ``tests``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plait.definitions.load import parse_document
from plait.definitions.validate import InvalidDefinition, Problem
from plait.resources.scenarios import InvalidScenarios, Scenarios, read_scenarios


def load_scenario_file(
    path: Path, definition: Path | None = None
) -> tuple[dict[str, Any], Scenarios, Path]:
    """The definition document, the scenarios, and the definition's path.

    Raises ``InvalidScenarios`` (every problem of the scenario file, at its path) or
    ``InvalidDefinition`` (a file that cannot be read or parsed)."""
    content = _parse(path)
    scenarios = read_scenarios(content)
    if definition is None and scenarios.workflow is not None:
        definition = (path.parent / scenarios.workflow).resolve()
        if not definition.is_file():
            raise InvalidScenarios([Problem("$.workflow", f"no definition file {definition}")])
    if definition is None:
        if "tests" not in content:
            raise InvalidScenarios([Problem("$.workflow", "name the definition file the "
                                            "scenarios test (workflow: FILE), or give it as "
                                            "plait test FILE --scenarios ...")])  # fmt: skip
        return content, scenarios, path
    return _parse(definition), scenarios, definition


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition([Problem("$", f"cannot read {path}: {exc}")]) from exc
    return parse_document(text, str(path))
