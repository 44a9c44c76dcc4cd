"""A declared output (brief 001's function-steps ``output`` schema) is either produced by an
``outputMapping`` or refused at save time, at its JSON path; what only a run can tell is a
warning, and then a run-level error that the CLI's report names as the run's (``error:``), never
as a step called ``None``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

STATUS = {"enum": ["completed", "in_progress", "needs_assistance"]}
ONBOARDING: dict[str, Any] = {
    "name": "onboarding",
    "input": {"type": "object"},
    "output": {
        "type": "object",
        "properties": {"onboardingStatus": STATUS, "nextSteps": {"type": "array"}},
        "required": ["onboardingStatus", "nextSteps"],
    },
    "steps": [
        {"id": "accountSetup", "function": "setupCustomerAccount",
         "input": {"customerId": "{{input.customerId}}"}},
        {"id": "createSuccessPlan", "function": "generateCustomerSuccessPlan",
         "input": {"account": "{{accountSetup.id}}"}},
    ],
}  # fmt: skip
MAPPING = {
    "onboardingStatus": "{{createSuccessPlan.status}}",
    "nextSteps": "{{createSuccessPlan.next}}",
}
MOCKS = {
    "setupCustomerAccount": {"id": "acct_1"},
    "generateCustomerSuccessPlan": {"status": "in_progress", "next": ["Kickoff call"]},
}


def _plait(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _file(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "onboarding.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _validate(tmp_path: Path, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    done = _plait(["validate", str(_file(tmp_path, document)), "--json"], tmp_path)
    result: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, result


def _test(
    tmp_path: Path, document: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    args = ["test", str(_file(tmp_path, document)), "--input", '{"customerId": "c1"}']
    for action, value in MOCKS.items():
        args += ["--mock", f"{action}={json.dumps(value)}"]
    return _plait([*args, *extra], tmp_path)


def _paths(problems: list[dict[str, str]]) -> dict[str, str]:
    return {p["path"]: p["message"] for p in problems}


def test_an_output_schema_nothing_produces_is_invalid_at_its_required_fields(
    tmp_path: Path,
) -> None:
    code, result = _validate(tmp_path, ONBOARDING)

    assert code == 1 and result["valid"] is False
    errors = _paths(result["errors"])
    assert set(errors) == {"$.output.required[0]", "$.output.required[1]"}
    message = errors["$.output.required[0]"]
    assert message.startswith("the run's output has no field 'onboardingStatus': without "
                              "'outputMapping', the output is each top-level step's output "
                              "under its id (accountSetup, createSuccessPlan)")  # fmt: skip


def test_an_output_mapping_produces_the_declared_output(tmp_path: Path) -> None:
    document = {**ONBOARDING, "outputMapping": MAPPING}
    code, result = _validate(tmp_path, document)
    assert (code, result) == (0, {"valid": True, "errors": [], "warnings": []})

    done = _test(tmp_path, document, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["outcome"]) == ("succeeded", "succeeded")
    assert report["output"] == {"onboardingStatus": "in_progress", "nextSteps": ["Kickoff call"]}


def test_what_a_mapping_cannot_give_is_an_error_where_it_is_written(tmp_path: Path) -> None:
    schema = {**ONBOARDING["output"], "additionalProperties": False}
    mapping = {"onboardingStatus": "done", "estimate": "{{createSuccessPlan.days}}"}
    code, result = _validate(tmp_path, {**ONBOARDING, "output": schema, "outputMapping": mapping})

    assert code == 1
    assert _paths(result["errors"]) == {
        "$.output.required[1]": "the run's output has no field 'nextSteps': $.outputMapping "
                                "does not give it",
        "$.outputMapping.estimate": "field 'estimate' is not among the properties $.output "
                                    "allows",
        "$.outputMapping.onboardingStatus": "this literal can never match the output schema: "
                                            "'done' is not one of ['completed', 'in_progress', "
                                            "'needs_assistance']",
    }  # fmt: skip


def test_a_non_object_output_type_can_never_match(tmp_path: Path) -> None:
    code, result = _validate(tmp_path, {**ONBOARDING, "output": {"type": "string"}})
    assert code == 1
    [error] = result["errors"]
    assert error["path"] == "$.output.type"
    assert error["message"].startswith("the run's output is an object, which this type can never")


def test_a_mapping_only_a_run_can_judge_is_a_warning_then_a_run_error(tmp_path: Path) -> None:
    document = {**ONBOARDING, "outputMapping": "{{createSuccessPlan}}"}
    code, result = _validate(tmp_path, document)
    assert code == 0 and result["valid"] is True
    [warning] = result["warnings"]
    assert warning["path"] == "$.outputMapping"
    assert "the fields 'onboardingStatus', 'nextSteps'" in warning["message"]
    assert "known only when a run ends" in warning["message"]

    done = _test(tmp_path, document, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["status"] == "failed"
    [error] = report["errors"]
    assert error["step"] is None
    assert error["type"] == "plait.errors.SchemaViolation"
    assert "'onboardingStatus' is a required property" in error["message"]


def test_the_text_report_names_a_run_error_as_the_runs_not_a_step_called_none(
    tmp_path: Path,
) -> None:
    done = _test(tmp_path, {**ONBOARDING, "outputMapping": "{{createSuccessPlan}}"})

    assert done.returncode == 1
    assert "error None" not in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("error")]
    assert lines == [
        "error: plait.errors.SchemaViolation: the output of workflow 'onboarding' does not "
        "match its schema: $: 'onboardingStatus' is a required property; $: 'nextSteps' is a "
        "required property"
    ]


def test_the_text_report_names_a_failed_steps_error_by_its_step(tmp_path: Path) -> None:
    document = {**ONBOARDING, "outputMapping": MAPPING}
    failing = {**MOCKS, "setupCustomerAccount": {"$error": "CRM down"}}
    args = ["test", str(_file(tmp_path, document)), "--input", '{"customerId": "c1"}']
    for action, value in failing.items():
        args += ["--mock", f"{action}={json.dumps(value)}"]
    done = _plait(args, tmp_path)

    assert done.returncode == 1
    lines = [line for line in done.stdout.splitlines() if line.startswith("error")]
    assert lines == [
        "error accountSetup: plait.actions.base.ActionError: setupCustomerAccount (mocked): "
        "CRM down"
    ]


def test_a_schema_behind_a_ref_or_all_of_is_checked_too(tmp_path: Path) -> None:
    """zod-to-json-schema writes the object under $defs and names it with a $ref; what it
    requires is still checked before a run, at its own path."""
    inner = {**ONBOARDING["output"]}
    referenced = {"$ref": "#/$defs/result", "$defs": {"result": inner}}
    code, result = _validate(tmp_path, {**ONBOARDING, "output": referenced,
                                        "outputMapping": {"nextSteps": []}})  # fmt: skip
    assert code == 1
    assert "$.output.$defs.result.required[0]" in _paths(result["errors"])

    combined = {"allOf": [inner], "anyOf": [{"required": ["nextSteps"]}]}
    code, result = _validate(tmp_path, {**ONBOARDING, "output": combined,
                                        "outputMapping": {"nextSteps": []}})  # fmt: skip
    assert code == 1
    assert "$.output.allOf[0].required[0]" in _paths(result["errors"])
    assert _paths(result["warnings"])["$.output.anyOf"] == (
        "the output schema's anyOf is checked when a run ends, not before"
    )
