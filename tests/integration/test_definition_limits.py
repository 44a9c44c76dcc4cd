"""Definitions that would hang the CLI or the server are refused fast, with a LimitExceeded that
names the limit, the value, the setting and the JSON path (issue 10, break 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plait import Engine
from plait.definitions import dialects
from plait.definitions.load import check_definition, load_definition
from plait.errors import LimitExceeded
from plait.settings import Settings
from tests.cpu import cpu_seconds

# 623 bytes: nine levels of nine aliases each, 9**8 "lol"s once expanded.
LAUGHS = (
    "name: lol\n"
    "description: a few hundred bytes of text that expand to 43 million strings once its aliases"
    " are\ntriggerEvent: Deal.won\nsteps:\n  - action: log\n    mapping: {message: deal}\n"
    'metadata:\n  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(
        f"  {level}: &{level} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
        for prev, level in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def plait(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 20) -> subprocess.CompletedProcess[str]:  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def steps(count: int) -> dict[str, Any]:
    """An entity-dialect workflow of ``count`` steps."""
    return {"name": "many", "triggerEvent": "Deal.won",
            "steps": [{"id": f"s{i}", "action": "log", "mapping": {"message": "deal.name"}}
                      for i in range(count)]}  # fmt: skip


def test_a_billion_laughs_fails_validate_fast_with_an_alias_limit(tmp_path: Path) -> None:
    assert len(LAUGHS.encode()) == 623
    (tmp_path / "lol.yaml").write_text(LAUGHS)
    started = cpu_seconds()
    done = plait("validate", "lol.yaml", "--json", cwd=tmp_path)
    elapsed = cpu_seconds() - started
    assert done.returncode == 1, done.stderr
    [error] = json.loads(done.stdout)["errors"]
    assert error["path"].startswith("$")
    assert "alias" in error["message"] and "max_yaml_aliases" in error["message"]
    assert "PLAIT_MAX_YAML_ALIASES" in error["message"]
    assert elapsed < 5  # the interpreter's start included; the check itself takes milliseconds


def test_the_loader_refuses_alias_expansion_before_constructing() -> None:
    started = cpu_seconds()
    with pytest.raises(LimitExceeded) as caught:
        load_definition(LAUGHS)
    assert cpu_seconds() - started < 1
    assert caught.value.setting == "max_yaml_aliases"
    assert caught.value.limit == 100
    assert caught.value.value > 100


def test_a_few_aliases_are_fine_and_the_bound_is_a_setting() -> None:
    text = "name: anchors\nretryPolicy: &retry {maxAttempts: 2}\nsteps:\n" + "".join(
        f"  - {{id: s{i}, type: function, retryPolicy: *retry}}\n" for i in range(5)
    )
    assert check_definition(text).valid
    result = check_definition(text, settings=Settings(max_yaml_aliases=4))
    assert [e.path for e in result.errors] == ["$"]
    assert "max_yaml_aliases" in result.errors[0].message


def test_a_self_referencing_alias_is_refused() -> None:
    result = check_definition("name: loop\nsteps: &s [*s]\n")
    assert not result.valid
    assert "alias" in result.errors[0].message


def test_fifty_thousand_steps_are_refused_fast_without_reading_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = steps(50_000)
    (tmp_path / "big.json").write_text(json.dumps(document))
    started = cpu_seconds()
    done = plait("validate", "big.json", "--json", cwd=tmp_path)
    assert cpu_seconds() - started < 10, "50,000 steps took too long to refuse"
    assert done.returncode == 1, done.stderr
    [error] = json.loads(done.stdout)["errors"]
    assert error["path"] == "$.steps"
    assert "50000" in error["message"] and "max_steps" in error["message"]

    reads: list[str] = []
    original = dialects.read
    monkeypatch.setattr(dialects, "read", lambda *a, **k: reads.append("x") or original(*a, **k))
    started = cpu_seconds()
    with pytest.raises(LimitExceeded) as caught:
        Engine(database_url="sqlite:///:memory:").define(document)
    assert cpu_seconds() - started < 1
    assert (caught.value.setting, caught.value.value, caught.value.limit) == (
        "max_steps",
        50_000,
        2_000,
    )
    assert caught.value.path == "$.steps"
    assert reads == []


def test_max_steps_counts_nested_steps_and_comes_from_the_settings(tmp_path: Path) -> None:
    nested = {"name": "nested", "steps": [
        {"id": "p", "type": "parallel", "steps": [{"id": f"c{i}"} for i in range(4)]}]}  # fmt: skip
    assert check_definition(nested).valid
    result = check_definition(nested, settings=Settings(max_steps=4))
    assert "max_steps" in result.errors[0].message
    (tmp_path / "nested.json").write_text(json.dumps(nested))
    done = plait("validate", "nested.json", cwd=tmp_path, env={"PLAIT_MAX_STEPS": "4"})
    assert done.returncode == 1
    assert "max_steps" in done.stdout
    with pytest.raises(LimitExceeded):
        Engine(database_url="sqlite:///:memory:", max_steps=4).define(nested)


def test_two_thousand_chained_steps_validate_in_linear_time() -> None:
    document = steps(2_000)
    for step in document["steps"]:
        step["mapping"] = {"message": "round-robin"}  # a warning for each step
    started = cpu_seconds()
    result = check_definition(document)
    elapsed = cpu_seconds() - started
    assert result.valid, result.errors[:3]
    assert len(result.warnings) == 2_000
    assert elapsed < 5


def test_many_unknown_references_do_not_make_validation_quadratic() -> None:
    document = {"name": "refs", "steps": [
        {"id": f"step-{i}", "type": "function", "dependsOn": [f"missing-{i}"]}
        for i in range(2_000)]}  # fmt: skip
    started = cpu_seconds()
    result = check_definition(document)
    assert cpu_seconds() - started < 5
    assert len(result.errors) == 2_000


def test_a_long_workflow_name_is_refused_with_its_path(tmp_path: Path) -> None:
    document = {**steps(1), "name": "n" * 200_000}
    (tmp_path / "long.json").write_text(json.dumps(document))
    done = plait("test", "long.json", cwd=tmp_path)
    assert done.returncode != 0
    assert "$.name: the length of the name is 200000" in done.stdout + done.stderr
    result = check_definition(document)
    [error] = result.errors
    assert error.path == "$.name"
    assert "200000" in error.message and "max_name_length" in error.message
    with pytest.raises(LimitExceeded) as caught:
        Engine(database_url="sqlite:///:memory:").define(document)
    assert caught.value.path == "$.name"
    assert check_definition({**steps(1), "name": "n" * 200}).valid


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"name": "w", "steps": [{"id": "i" * 201, "type": "function"}]}, "$.steps[0].id"),
        ({"name": "w", "steps": [{"id": "a", "function": "f" * 201}]}, "$.steps[0].function"),
        ({"name": "w", "triggerEvent": ["Deal.won", "E" * 201],
          "steps": [{"action": "log"}]}, "$.triggerEvent[1]"),
        ({"name": "w", "steps": [{"id": "p", "type": "parallel", "steps": [
            {"id": "ok"}, {"id": "a", "action": "x" * 201}]}]}, "$.steps[0].steps[1].action"),
        ({"nodes": [{"id": "n", "type": "action", "config": {"action": "y" * 201}}],
          "metadata": {"name": "g"}}, "$.nodes[0].config.action"),
    ],
)  # fmt: skip
def test_long_names_are_refused_at_their_path(document: dict[str, Any], path: str) -> None:
    result = check_definition(document)
    assert [e.path for e in result.errors] == [path]
    assert "max_name_length" in result.errors[0].message


def test_an_oversized_document_is_refused_before_parsing(tmp_path: Path) -> None:
    text = json.dumps({**steps(1), "description": "d" * 5_000})
    result = check_definition(text, settings=Settings(max_document_bytes=1_000))
    [error] = result.errors
    assert error.path == "$"
    assert "max_document_bytes" in error.message and str(len(text)) in error.message
    (tmp_path / "big.json").write_text(text)
    done = plait("validate", "big.json", cwd=tmp_path, env={"PLAIT_MAX_DOCUMENT_BYTES": "1000"})
    assert done.returncode == 1
    assert "max_document_bytes" in done.stdout
    with pytest.raises(LimitExceeded) as caught:
        Engine(database_url="sqlite:///:memory:", max_document_bytes=1_000).define(
            {**steps(1), "description": "d" * 5_000}
        )
    assert caught.value.setting == "max_document_bytes"


def test_a_one_megabyte_document_is_accepted() -> None:
    document = {**steps(1), "description": "d" * 1_000_000}
    assert check_definition(document).valid


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deeply_nested_documents_are_refused_before_recursion_breaks(
    tmp_path: Path, suffix: str
) -> None:
    depth = 50_000
    nested = "[" * depth + "]" * depth
    text = f'{{"name": "deep", "steps": [{{"action": "log"}}], "metadata": {{"x": {nested}}}}}'
    (tmp_path / f"deep{suffix}").write_text(text)
    result = check_definition(tmp_path / f"deep{suffix}")
    [error] = result.errors
    assert "max_document_depth" in error.message
    done = plait("validate", f"deep{suffix}", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


def test_a_deep_python_document_is_refused() -> None:
    value: Any = "leaf"
    for _ in range(5_000):
        value = {"x": value}
    with pytest.raises(LimitExceeded) as caught:
        load_definition({**steps(1), "metadata": value})
    assert caught.value.setting == "max_document_depth"


def test_compiled_versions_are_kept_in_a_bounded_cache() -> None:
    from plait.interpreter.cache import PlanCache

    cache = PlanCache(size=2)
    workflows = [Engine(database_url="sqlite:///:memory:").define(steps(1)) for _ in range(3)]
    cache["acme", "w1", 1] = workflows[0]
    cache["acme", "w2", 1] = workflows[1]
    assert cache["acme", "w1", 1] is workflows[0]  # used: w2 is now the oldest
    cache["acme", "w3", 1] = workflows[2]
    assert list(cache) == [("acme", "w1", 1), ("acme", "w3", 1)]


def test_workflows_create_refuses_a_billion_laughs_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "lol.yaml").write_text(LAUGHS)
    done = plait("workflows", "create", "lol.yaml", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 4
    assert "max_yaml_aliases" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_fifty_thousand_yaml_steps_are_refused_before_the_document_is_composed() -> None:
    text = "name: many\nsteps:\n" + "".join(
        f"  - {{id: s{i}, action: log, mapping: {{message: deal.name}}}}\n" for i in range(50_000)
    )
    started = cpu_seconds()
    result = check_definition(text)
    assert cpu_seconds() - started < 5  # composing it in Python alone took 18 s
    assert [e.path for e in result.errors] == ["$.steps"]
    # Refused at the 2,001st step, without reading the other 48,000.
    assert "the number of steps is more than 2000; the limit is 2000" in result.errors[0].message
    assert "max_steps" in result.errors[0].message


def test_a_yaml_document_with_too_many_nodes_is_refused_before_it_is_composed() -> None:
    text = "name: big\nsteps:\n  - id: a\n    action: log\n    input: {items: [" + ",".join(
        "1" for _ in range(400_000)
    ) + "]}\n"  # fmt: skip
    started = cpu_seconds()
    result = check_definition(text)
    assert cpu_seconds() - started < 10  # composing it took 20 s and more
    assert [e.path for e in result.errors] == ["$"]
    assert "the number of YAML nodes" in result.errors[0].message
    assert "max_yaml_nodes" in result.errors[0].message
