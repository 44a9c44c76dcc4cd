"""The observability A/B benchmark runs and measures what it says: the "on" arm exports a span
for every run start, execution and step attempt to its local OTLP receiver, the "sampled" arm a
tenth of the traces, the "off" arm none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="no OTLP/HTTP exporter")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "observability.py"


def test_the_observability_benchmark_reports_each_arm(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--repeat", "1", "--sequential", "5", "--concurrent", "40"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table, line = done.stdout.strip().splitlines()[:-1], done.stdout.strip().splitlines()[-1]
    report = json.loads(line)
    assert [row.split()[0] for row in table[2:]] == ["off", "on", "sampled"]
    runs = 20 + 5 + 40  # warm-up, sequential, concurrent
    assert report["off"]["spans_exported"] == 0
    assert report["on"]["spans_exported"] == report["on"]["spans_all_runs"] == runs * 5
    assert 0 <= report["sampled"]["spans_exported"] < runs * 5
    assert report["sampled"]["spans_exported"] % 5 == 0  # whole traces: a run is sampled or not
    assert report["on"]["scrapes"] >= 1
    assert set(report["overhead"]) == {"on", "sampled"}
