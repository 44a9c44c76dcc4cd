"""A scenario report as JUnit XML, which CI systems show as test results: one ``testsuite``
per workflow, one ``testcase`` per scenario (its time: wall seconds), a ``failure`` listing the
failed expectations of a scenario that did not pass."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from plait.resources.scenario_reports import ScenarioReport


def junit_xml(reports: Sequence[ScenarioReport]) -> str:
    """The reports as one JUnit XML document (``testsuites``)."""
    root = ET.Element("testsuites", _counts(reports))
    for report in reports:
        suite = ET.SubElement(root, "testsuite", {"name": report.workflow, **_counts([report])})
        for result in report.results:
            case = ET.SubElement(suite, "testcase", {
                "name": result.name, "classname": report.workflow,
                "time": f"{result.wall_ms / 1000:.3f}",
            })  # fmt: skip
            if not result.passed:
                listing = "\n".join(f"{f.path}: {f.message}" for f in result.failures)
                first = result.failures[0].message if result.failures else "failed"
                failure = ET.SubElement(case, "failure", {"message": first, "type": "expectation"})
                failure.text = listing
            out = ET.SubElement(case, "system-out")
            out.text = (f"status={result.status} outcome={result.outcome} "
                        f"virtualSeconds={result.virtual_seconds:g}")  # fmt: skip
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _counts(reports: Sequence[ScenarioReport]) -> dict[str, str]:
    results = [r for report in reports for r in report.results]
    failed = sum(1 for r in results if not r.passed)
    seconds = sum(r.wall_ms for r in results) / 1000
    return {"tests": str(len(results)), "failures": str(failed), "errors": "0",
            "time": f"{seconds:.3f}"}  # fmt: skip
