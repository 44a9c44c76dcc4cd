"""Brief 003's invoice workflow as written (tests/integration/data/brief_invoice.yaml): its
``onError`` names (``retry``, ``human-review``, ``notify-manager``, ``rollback``,
``log-and-continue``) and its ``compensation: {steps: [...]}`` load, validate and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from plait.definitions.load import check_definition
from plait.definitions.model import ActionStep

ROOT = Path(__file__).resolve().parents[2]
BRIEF_INVOICE = Path(__file__).parent / "data" / "brief_invoice.yaml"
ACTIONS = (
    "extract", "validate", "approve", "process-payment", "update-accounting",
    "notify-completion", "human-review", "notify-manager", "reverse-approval", "notify-failure",
)  # fmt: skip

# Every action of the brief's invoice, each journalling its input to $JOURNAL.
APP = f"""
import json, os
ACTIONS = {ACTIONS!r}
from plait import Engine
engine = Engine()

def journalled(name):
    def call(value):
        with open(os.environ["JOURNAL"], "a") as journal:
            journal.write(json.dumps({{"action": name, "input": value}}) + "\\n")
        return {{"by": name}}
    return call

for name in ACTIONS:
    engine.action(name)(journalled(name))
"""


def _plait(tmp_path: Path, *args: str) -> tuple[int, Any, list[dict[str, Any]]]:
    """``python -m plait ARGS --app invoice_app:engine --json`` in ``tmp_path``: the exit
    code, the JSON printed and the journal of the actions that ran."""
    (tmp_path / "invoice_app.py").write_text(APP)
    journal = tmp_path / "journal.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    env["JOURNAL"] = str(journal)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(tmp_path)])
    done = subprocess.run(
        [sys.executable, "-m", "plait", *args, "--app", "invoice_app:engine", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout, done.stderr
    lines = journal.read_text().splitlines() if journal.exists() else []
    return done.returncode, json.loads(done.stdout), [json.loads(line) for line in lines]


def _statuses(report: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {key: (step["status"], step["attempts"]) for key, step in report["steps"].items()}


def test_the_brief_invoice_normalises_its_error_policies_and_compensation() -> None:
    result = check_definition(BRIEF_INVOICE, actions=set(ACTIONS).__contains__)
    assert (result.errors, result.warnings) == ([], [])
    definition = result.definition
    assert definition is not None
    steps = {step.id: step for step in definition.steps}
    assert steps["extract"].on_error == "stop"  # 'retry': its retry policy, then stop
    # human-review: a review task, unless an action of that name is registered (then it is
    # called as the fallback, with the failed step's input, as here)
    assert steps["validate"].on_error == "human-review"
    assert [(s.id, s.action) for s in steps["validate"].fallback if isinstance(s, ActionStep)] == [
        ("validate.fallback", "human-review")
    ]
    assert steps["approve"].fallback[0].kind == "action"
    assert steps["process-payment"].on_error == "rollback"
    undo = steps["process-payment"].compensation
    assert [(s.id, s.action, s.undoes, s.input) for s in undo] == [
        ("process-payment.compensate-1", "reverse-approval", "approve", None),
        ("process-payment.compensate-2", "notify-failure", None, {"reason": "payment-failed"}),
    ]
    assert steps["update-accounting"].on_error == "continue"  # 'log-and-continue'
    assert steps["notify-completion"].required is False
    assert definition.metadata["pricing"] == {
        "model": "per-execution", "rate": 2.0, "failureRefund": 1.0,
    }  # fmt: skip


def test_the_brief_invoice_validates_with_its_actions(tmp_path: Path) -> None:
    code, result, _ = _plait(tmp_path, "validate", str(BRIEF_INVOICE))
    assert (code, result) == (0, {"valid": True, "errors": [], "warnings": []})


def test_the_brief_invoice_names_the_actions_it_misses(tmp_path: Path) -> None:
    lacking = tmp_path / "lacking"
    lacking.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT / "src")
    (lacking / "app.py").write_text(
        "from plait import Engine\nengine = Engine()\n"
        "for name in ['extract', 'validate', 'approve', 'process-payment', "
        "'update-accounting', 'notify-completion']:\n"
        "    engine.action(name)(lambda value: value)\n"
    )
    env["PYTHONPATH"] += os.pathsep + str(lacking)
    done = subprocess.run(
        [sys.executable, "-m", "plait", "validate", str(BRIEF_INVOICE), "--app", "app:engine",
         "--json"], cwd=lacking, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["errors"] == [
        {"path": "$.steps[2].onError", "message": "unknown action 'notify-manager'"},
        {"path": "$.steps[3].compensation.steps[0].action",
         "message": "unknown action 'reverse-approval'"},
        {"path": "$.steps[3].compensation.steps[1].action",
         "message": "unknown action 'notify-failure'"},
    ]  # fmt: skip


def test_a_failed_payment_rolls_back_with_its_compensation_steps_in_order(
    tmp_path: Path,
) -> None:
    code, report, journal = _plait(
        tmp_path, "test", str(BRIEF_INVOICE),
        "--mock", 'process-payment={"$error": "card declined"}',
    )  # fmt: skip
    assert code == 1
    assert report["status"] == "failed"
    assert _statuses(report) == {
        "extract": ("succeeded", 1),
        "validate": ("succeeded", 1),
        "approve": ("succeeded", 1),
        "process-payment": ("failed", 3),  # its retry policy, then 'rollback'
        "process-payment.compensate-1": ("succeeded", 1),
        "process-payment.compensate-2": ("succeeded", 1),
    }  # update-accounting and notify-completion never started
    assert report["errors"] == [{
        "step": "process-payment", "type": "plait.actions.base.ActionError",
        "message": "process-payment (mocked): card declined",
    }]  # fmt: skip
    ran = [(entry["action"], entry["input"]) for entry in journal]
    assert sorted(ran[:3]) == [("approve", None), ("extract", None), ("validate", None)]
    assert ran[3:] == [("reverse-approval", None), ("notify-failure", {"reason": "payment-failed"})]
    # Exponential backoff from 5 s, on virtual time: the attempts at 0, 5 and 15 s.
    assert report["durationMs"] == 15000.0


def test_the_brief_invoice_escalates_and_logs_and_continues(tmp_path: Path) -> None:
    code, report, journal = _plait(
        tmp_path, "test", str(BRIEF_INVOICE),
        "--mock", 'validate={"$error": "totals do not add up"}',
        "--mock", 'approve={"$error": "approver away"}',
        "--mock", 'update-accounting={"$error": "ledger offline"}',
    )  # fmt: skip
    assert code == 1  # not a full success: update-accounting failed and was continued past
    assert (report["status"], report["outcome"]) == ("succeeded", "partial")
    assert _statuses(report) == {
        "extract": ("succeeded", 1),
        "validate": ("failed", 2),
        "validate.fallback": ("succeeded", 1),  # human-review
        "approve": ("failed", 2),  # the default retry policy
        "approve.fallback": ("succeeded", 1),  # notify-manager
        "process-payment": ("succeeded", 1),
        "update-accounting": ("failed", 2),  # log-and-continue
        "notify-completion": ("succeeded", 1),
    }
    assert report["output"]["validate"] == {"by": "human-review"}
    assert report["output"]["approve"] == {"by": "notify-manager"}
    assert report["output"]["update-accounting"] is None
    assert [e["step"] for e in report["errors"]] == ["validate", "approve", "update-accounting"]
    assert "reverse-approval" not in [entry["action"] for entry in journal]
