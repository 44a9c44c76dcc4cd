"""Test scenarios of declarative workflows (brief 004, 002): run a workflow's scenarios, each in
a throwaway engine on virtual time, with mocked actions, and check what they expect.

    from plait.scenarios import load_scenario_file, run_scenarios

    document, scenarios = load_scenario_file(Path("deal-won.scenarios.yaml"))
    report = await run_scenarios(document, scenarios)

``docs/testing.md`` describes the scenario format; ``plait test --scenarios`` is the CLI.
"""

from plait.resources.scenario_reports import ScenarioReport, ScenarioResult
from plait.resources.scenarios import InvalidScenarios, Scenarios, read_scenarios
from plait.scenarios.files import load_scenario_file
from plait.scenarios.runner import run_scenario, run_scenarios

__all__ = [
    "InvalidScenarios",
    "ScenarioReport",
    "ScenarioResult",
    "Scenarios",
    "load_scenario_file",
    "read_scenarios",
    "run_scenario",
    "run_scenarios",
]
