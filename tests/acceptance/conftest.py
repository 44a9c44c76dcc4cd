"""The acceptance tier: the real ``plait`` CLI and workers in subprocesses, on a SQLite file per
test. Every child process is killed and reaped at teardown, whatever the test's outcome.

Child processes run with ``tests/acceptance`` on ``PYTHONPATH`` (so ``apps.crashy:engine``
imports), ``PLAIT_TEST_DIR`` pointing at the test's probe directory, no ``PLAIT_*`` setting (or
forced terminal output) inherited from the caller's environment, and the test's tmp_path as
working directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest

from plait import Engine, Run, Workflow
from plait.sync import SyncEngine

T = TypeVar("T")

ACCEPTANCE_DIR = Path(__file__).resolve().parent

# The CLI as ``python -m plait``: bound to the interpreter running the tests (no PATH lookup, no
# pyenv shim) and the same ``main`` as the console script, which one test runs directly.
PLAIT = (sys.executable, "-m", "plait")

# Generous bounds for a loaded 2-core machine; the tests take a few seconds when all is well.
DEADLINE = 30.0
POLL = 0.02

# Variables that would make rich render piped output as if for a terminal.
_TERMINAL_OVERRIDES = frozenset({"FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"})


class Child:
    """A ``plait worker`` subprocess, its output in a log file."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.popen = popen
        self.log = log
        self.expected_alive = True

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return (
            f"{self.name} (pid {self.pid}, exit code {self.popen.poll()}), output:\n{self.output()}"
        )

    def kill(self) -> int:
        """SIGKILL and reap; the exit code."""
        self.expected_alive = False
        self.popen.kill()
        return self.popen.wait(timeout=DEADLINE)

    def terminate(self) -> None:
        """Send SIGTERM (once: a second one would not be graceful)."""
        self.expected_alive = False
        self.popen.send_signal(signal.SIGTERM)

    def wait(self, within: float) -> int:
        """The exit code, which must come ``within`` seconds."""
        try:
            return self.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit within {within}s: {self.describe()}") from None

    def reap(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=DEADLINE)


class Sandbox:
    """One test's database, probe directory, CLI runner and worker processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.probe_dir = root / "probe"
        self.probe_dir.mkdir()
        # Not ./plait.db, the CLI's default in its working directory (the root), which stays empty.
        self.db_url = f"sqlite:///{root / 'test.db'}"
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PLAIT_") and k not in _TERMINAL_OVERRIDES
        }
        python_path = [str(ACCEPTANCE_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.env = {
            **inherited,
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",
            "PLAIT_TEST_DIR": str(self.probe_dir),
        }
        self.children: list[Child] = []
        self._stack = ExitStack()
        self._portal: SyncEngine | None = None

    def close(self) -> None:
        try:
            for child in self.children:
                child.reap()
        finally:
            self._stack.close()

    # -- the CLI ----------------------------------------------------------------------------

    def cli(
        self, *args: str, db: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``plait ARGS`` (with ``--db`` unless ``db=False``) to completion."""
        argv = [*PLAIT, *args, *(("--db", self.db_url) if db else ())]
        return subprocess.run(
            argv, cwd=self.root, env={**self.env, **(env or {})}, capture_output=True,
            text=True, timeout=DEADLINE, check=False,
        )  # fmt: skip

    def cli_json(self, *args: str) -> Any:
        """Run ``plait ARGS --json``, require success, and parse its output."""
        done = self.cli(*args, "--json")
        assert done.returncode == 0, f"plait {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return json.loads(done.stdout)

    def worker(
        self,
        target: str,
        *options: str,
        db: bool = True,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start ``plait worker TARGET [OPTIONS]``; it is killed at teardown if still running."""
        argv = [*PLAIT, "worker", target, *options, *(("--db", self.db_url) if db else ())]
        return self._spawn("worker", argv, env)

    def serve(self, target: str, port: int, *args: str) -> Child:
        """Start ``plait serve --app TARGET ARGS`` on ``port``; killed at teardown if still
        running."""
        argv = [*PLAIT, "serve", "--app", target, "--port", str(port), "--db", self.db_url, *args]
        return self._spawn("serve", argv, None)

    def _spawn(self, kind: str, argv: list[str], env: dict[str, str] | None) -> Child:
        name = f"{kind}-{len(self.children) + 1}"
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, cwd=self.root, env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    # -- the engine, in this process --------------------------------------------------------

    @property
    def client(self) -> SyncEngine:
        """An engine on the test's database, without a worker: it stores runs, workers run them."""
        if self._portal is None:
            self._portal = self._stack.enter_context(Engine(self.db_url).sync(worker=False))
        return self._portal

    def start(self, workflow: Workflow, *args: Any, run_id: str | None = None) -> str:
        """Store a pending run of ``workflow`` (registered under its name); return the run id."""
        _register(self.client.engine, workflow)
        return str(self.client.start(workflow.name, *args, run_id=run_id).id)

    def run(self, run_id: str) -> Run:
        info: Run = self.client.handle(run_id).info()
        return info

    def execute(self, workflow: Workflow, *args: Any, until: str) -> str:
        """Run ``workflow`` on a worker in this process until the run is in status ``until``."""
        engine = Engine(self.db_url)
        _register(engine, workflow)
        with engine.sync() as plait:
            run_id: str = plait.start(workflow.name, *args).id
            self.wait_until(lambda: plait.handle(run_id).info().status == until, f"run {until}")
        return run_id

    # -- observing --------------------------------------------------------------------------

    def probe(self, name: str) -> Path:
        return self.probe_dir / name

    def step_log(self) -> list[str]:
        """Every step execution the apps recorded, in order."""
        log = self.probe("steps.log")
        return log.read_text(encoding="utf-8").split() if log.exists() else []

    def wait_until(
        self,
        check: Callable[[], T | None],
        what: str,
        *,
        timeout: float = DEADLINE,
        watch: Sequence[Child] | None = None,
    ) -> T:
        """Poll ``check`` until it returns something true and return that.

        Fails after ``timeout`` seconds, or at once if a watched worker (by default every worker
        that the test has not stopped itself) exits meanwhile.
        """
        watched = [c for c in self.children if c.expected_alive] if watch is None else watch
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            for child in watched:
                if child.exited():
                    raise AssertionError(f"waiting for {what}, {child.describe()}")
            if time.monotonic() > deadline:
                logs = "\n".join(c.describe() for c in self.children)
                raise AssertionError(f"no {what} within {timeout}s\n{logs}")
            time.sleep(POLL)

    def wait_for_end(self, run_id: str, *, timeout: float = DEADLINE) -> Run:
        """Wait until the run has ended (succeeded, failed or cancelled) and return it."""

        def ended() -> Run | None:
            info = self.run(run_id)
            return info if info.done else None

        return self.wait_until(ended, f"end of run {run_id}", timeout=timeout)


def _register(engine: Engine, workflow: Workflow) -> None:
    if workflow.name not in engine.catalog.workflows:
        engine.workflow(workflow.name, timeout=workflow.timeout)(workflow.fn)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path)
    try:
        yield box
    finally:
        box.close()
