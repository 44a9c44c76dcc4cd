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
        _fit(content, scenarios, "$" if "scenarios" in content else "$.tests")
        return content, scenarios, path
    document = _parse(definition)
    _fit(document, scenarios, "$" if "scenarios" in content else "$.tests")
    return document, scenarios, definition


def _fit(document: dict[str, Any], scenarios: Scenarios, path: str) -> None:
    """``InvalidScenarios`` if the scenarios name steps or actions the workflow does not have
    (a definition with errors is left to the run, which reports them)."""
    from plait.definitions.load import check_definition
    from plait.resources.scenario_fit import workflow_problems

    body = {k: v for k, v in document.items() if k not in ("tests", "schedule")}
    definition = check_definition(body).definition
    problems = workflow_problems(scenarios, definition, path) if definition is not None else []
    if problems:
        raise InvalidScenarios(problems)


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDefinition([Problem("$", f"cannot read {path}: {exc}")]) from exc
    return parse_document(text, str(path))
