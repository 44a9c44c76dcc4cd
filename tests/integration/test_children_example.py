"""examples/orchestration.py runs as documented: children in parallel, a signal, state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orchestration.py"


def test_orchestration_example_ships_one_order_and_compensates_the_other(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLAIT_DATABASE_URL"}
    done = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "'status': 'shipped'" in lines[0] and "'paid': 42.5" in lines[0]
    assert lines[1] == "order A-1: 3 child runs, phase shipped"
    assert "  unpacked MUG" in lines and "order B-2 phase: unfulfilled" in lines
    assert any(line.startswith("order B-2: unfulfilled (child run_") for line in lines)
    assert (tmp_path / "plait.db").exists()
