"""A scenario report as JUnit XML, which CI systems show as test results: one ``testsuite``
per workflow, one ``testcase`` per scenario (its time: wall seconds), a ``failure`` listing the
failed expectations of a scenario that did not pass. Characters XML 1.0 forbids (control
characters such as an escape, ``\x1b``) are written as ``\x1b``, so the file always parses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from plait.resources.scenario_reports import ScenarioReport

_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 does not allow in a document (its ``Char`` production's complement)."""


def _xml(text: str) -> str:
    """``text`` with each character XML 1.0 forbids written as its escape (``\x1b``)."""
    return _FORBIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def junit_xml(reports: Sequence[ScenarioReport]) -> str:
    """The reports as one JUnit XML document (``testsuites``)."""
    root = ET.Element("testsuites", _counts(reports))
    for report in reports:
        name = _xml(report.workflow)
        suite = ET.SubElement(root, "testsuite", {"name": name, **_counts([report])})
        for result in report.results:
            case = ET.SubElement(suite, "testcase", {
                "name": _xml(result.name), "classname": name,
                "time": f"{result.wall_ms / 1000:.3f}",
            })  # fmt: skip
            if not result.passed:
                listing = "\n".join(f"{f.path}: {f.message}" for f in result.failures)
                first = result.failures[0].message if result.failures else "failed"
                attributes = {"message": _xml(first), "type": "expectation"}
                failure = ET.SubElement(case, "failure", attributes)
                failure.text = _xml(listing)
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
