"""The parent side of code actions: a pool of pre-started sandbox processes.

Each worker is ``python -I sandbox.py`` started with ``asyncio.create_subprocess_exec`` (no fork
of the engine's threaded process) and spoken to over its stdin and stdout in length-prefixed
JSON frames, so nothing here blocks the event loop. The parent owns the wall clock: a call that
outlives its timeout gets its worker SIGKILLed. A worker that dies or is killed is replaced in
the background, and the failed call raises :class:`CodeActionError` with the cause. Waiting calls
get workers by organization, fairly (:mod:`plait.actions.code.share`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from plait import values
from plait.actions.base import ActionError
from plait.actions.code import sandbox
from plait.actions.code.share import FairShare

logger = logging.getLogger(__name__)

_SANDBOX = Path(sandbox.__file__).resolve()
# The child gets no secrets from our environment: only what the interpreter needs to start.
_ENV_KEYS = ("PATH", "LD_LIBRARY_PATH")
_START_TIMEOUT = 30.0
_REAP_TIMEOUT = 2.0


class CodeActionError(ActionError):
    """A code action was refused or stopped; ``reason`` is a short plain-English cause."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"code action failed: {reason}")


class CodeRefused(CodeActionError):
    """The sandbox refused the code (an import, a private attribute, ``str.format``, a syntax
    error): it can never succeed, so retry policies do not retry it."""


class _WorkerDied(Exception):
    """The worker process ended (or broke the protocol) during a call."""


class _Worker:
    """One sandbox process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process, cpu_seconds: int, max_frame: int) -> None:
        self.proc = proc
        self.cpu_seconds = cpu_seconds
        self.max_frame = max_frame

    @classmethod
    async def spawn(cls, config: dict[str, int]) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(_SANDBOX),
            orjson.dumps(config).decode(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={key: os.environ[key] for key in _ENV_KEYS if key in os.environ},
            cwd="/",
            start_new_session=True,  # a Ctrl-C at the terminal is the engine's to handle
        )
        # Frames carry the result plus a little envelope; anything bigger is a broken worker.
        worker = cls(proc, config["cpu_seconds"], config["max_output_bytes"] + 64 * 1024)
        try:
            hello = await asyncio.wait_for(worker.receive(), _START_TIMEOUT)
        except BaseException:
            await worker.stop()
            raise
        if hello.get("notes"):
            logger.warning(
                "code worker limits not fully enforced: %s",
                "; ".join(hello["notes"]),
                extra={"pid": worker.pid},
            )
        return worker

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def request(self, payload: bytes) -> dict[str, Any]:
        stdin = self.proc.stdin
        if stdin is None:  # pragma: no cover - always piped
            raise _WorkerDied("worker has no stdin")
        try:
            stdin.write(sandbox.FRAME.pack(len(payload)) + payload)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise _WorkerDied(await self.death_reason()) from None
        return await self.receive()

    async def receive(self) -> dict[str, Any]:
        stdout = self.proc.stdout
        if stdout is None:  # pragma: no cover - always piped
            raise _WorkerDied("worker has no stdout")
        try:
            (size,) = sandbox.FRAME.unpack(await stdout.readexactly(sandbox.FRAME.size))
            if size > self.max_frame:
                self.proc.kill()
                raise _WorkerDied(f"worker sent {size} bytes, more than the output limit")
            reply: dict[str, Any] = orjson.loads(await stdout.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionResetError):
            raise _WorkerDied(await self.death_reason()) from None
        return reply

    async def death_reason(self) -> str:
        """Why the process ended, from its exit status (and last stderr line)."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), _REAP_TIMEOUT)
        except TimeoutError:
            self.proc.kill()
            return "worker stopped answering"
        if code == -signal.SIGXCPU:
            return (
                f"CPU time limit exceeded: {self.cpu_seconds}s{sandbox.setting('code_cpu_seconds')}"
            )
        if code < 0:
            return f"worker died: killed by {signal.Signals(-code).name}"
        return f"worker died: exit code {code}{await self._stderr_tail()}"

    async def _stderr_tail(self) -> str:
        if self.proc.stderr is None:  # pragma: no cover - always piped
            return ""
        try:
            text = (await asyncio.wait_for(self.proc.stderr.read(), _REAP_TIMEOUT)).decode(
                errors="replace"
            )
        except TimeoutError:
            return ""
        lines = text.strip().splitlines()
        return f": {lines[-1][:300]}" if lines else ""

    async def stop(self) -> None:
        """SIGKILL the process and reap it (closing its pipes)."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), _REAP_TIMEOUT)
        except TimeoutError:
            logger.warning("code worker did not exit after SIGKILL", extra={"pid": self.pid})


class _Slot:
    """One unit of concurrency: a live worker, or the spawn replacing the last one."""

    def __init__(self, worker: _Worker) -> None:
        self.worker: _Worker | None = worker
        self.replacing: asyncio.Task[_Worker | None] | None = None

    async def ready(self, config: dict[str, int]) -> _Worker:
        if self.replacing is not None:
            spawn, self.replacing = self.replacing, None
            self.worker = await spawn
        if self.worker is not None and not self.worker.alive:  # died while idle
            await self.worker.stop()
            self.worker = None
        if self.worker is None:
            self.worker = await _Worker.spawn(config)
        return self.worker

    def replace(self, config: dict[str, int] | None) -> None:
        """Kill the worker and, unless ``config`` is ``None``, start a fresh one in the
        background so that the failed call can report at once."""
        old, self.worker = self.worker, None
        if old is not None and old.alive:
            old.proc.kill()
        self.replacing = asyncio.create_task(self._replace(old, config))

    @staticmethod
    async def _replace(old: _Worker | None, config: dict[str, int] | None) -> _Worker | None:
        if old is not None:
            await old.stop()
        return None if config is None else await _Worker.spawn(config)

    async def stop(self) -> None:
        """Kill and reap whatever the slot holds (idempotent)."""
        if self.replacing is not None:
            spawn, self.replacing = self.replacing, None
            try:
                self.worker = await spawn
            except Exception:
                self.worker = None
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None


class CodePool:
    """Runs code actions in ``size`` pre-started sandbox processes.

    A call over a limit fails naming the engine setting of that limit (``code_timeout_seconds``,
    ``code_cpu_seconds``, ``code_memory_mb``, ``code_max_output_bytes``), which the engine
    passes here as ``timeout``, ``cpu_seconds``, ``memory_mb`` and ``max_output_bytes``.

    Args:
        size: Worker processes, and so the most calls that run at once; more calls wait.
        timeout: Default wall-clock limit of one call, in seconds; the worker is killed after.
        cpu_seconds: CPU time one call may use (RLIMIT_CPU) before the kernel stops it.
        memory_mb: Address-space limit of each worker (RLIMIT_AS), in MiB.
        max_output_bytes: Largest encoded result a call may return.
        org_workers: Most workers one organization's calls hold at once (``None``: no cap).
            Below ``size`` it keeps workers free for other organizations even while one
            organization has calls waiting; either way a freed worker goes to the organization
            with the fewest calls running, so one organization's calls queue behind each other.
    """

    def __init__(
        self,
        size: int = 2,
        *,
        timeout: float = 5.0,
        cpu_seconds: int = 5,
        memory_mb: int = 256,
        max_output_bytes: int = 1_000_000,
        org_workers: int | None = None,
    ) -> None:
        if size < 1 or timeout <= 0 or cpu_seconds < 1 or memory_mb < 32 or max_output_bytes < 1:
            raise ValueError(
                "CodePool needs size >= 1, timeout > 0, cpu_seconds >= 1, memory_mb >= 32 and "
                "max_output_bytes >= 1"
            )
        if org_workers is not None and org_workers < 1:
            raise ValueError(f"CodePool needs org_workers >= 1 (or None), not {org_workers}")
        self.size = size
        self.timeout = timeout
        self._config = {
            "cpu_seconds": cpu_seconds,
            "memory_mb": memory_mb,
            "max_output_bytes": max_output_bytes,
        }
        self._slots: list[_Slot] = []
        self._share: FairShare[_Slot] = FairShare(org_workers)
        self._start_lock = asyncio.Lock()
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring; they change as workers are replaced)."""
        return [s.worker.pid for s in self._slots if s.worker is not None and s.worker.alive]

    @property
    def running(self) -> dict[str | None, int]:
        """Calls running now, by organization (for monitoring)."""
        return self._share.running

    @property
    def waiting(self) -> dict[str | None, int]:
        """Calls waiting for a worker, by organization (for monitoring)."""
        return self._share.waiting

    async def __aenter__(self) -> CodePool:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the worker processes (once; later calls return at once)."""
        async with self._start_lock:
            if self._closed:
                raise CodeActionError("the code pool is closed")
            if self._slots:
                return
            spawns = [asyncio.create_task(_Worker.spawn(self._config)) for _ in range(self.size)]
            try:
                await asyncio.wait(spawns)
                failed = next((s.exception() for s in spawns if s.exception() is not None), None)
                if failed is not None:
                    raise CodeActionError(f"code workers failed to start: {_describe(failed)}")
            except BaseException:  # failed or cancelled: leave no started worker behind
                for spawn in spawns:
                    spawn.cancel()
                started = await asyncio.gather(*spawns, return_exceptions=True)
                await asyncio.gather(*(w.stop() for w in started if isinstance(w, _Worker)))
                raise
            self._slots = [_Slot(spawn.result()) for spawn in spawns]
            for slot in self._slots:
                self._share.add(slot)

    async def close(self) -> None:
        """Kill every worker. Calls in flight fail; the pool cannot be used again."""
        self._closed = True
        self._share.fail_waiting(lambda: CodeActionError("the code pool is closed"))
        async with self._start_lock:
            await asyncio.gather(*(slot.stop() for slot in self._slots))

    async def run(
        self,
        code: str,
        *,
        input: Any = None,
        context: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        timeout: float | None = None,
        org: str | None = None,
    ) -> Any:
        """Run ``code`` in a worker and return its value (``return x`` or ``result = x``).

        ``input``, ``context`` and ``outputs`` must be JSON values; the result comes back
        through JSON too. ``timeout`` (default: the pool's) counts from when a worker takes the
        call, not while the call waits for a free worker. ``org`` is the organization the call
        is for: calls wait for a worker in a queue per organization, served in turn.

        Raises:
            CodeActionError: the code was refused, raised, timed out, exceeded a limit or
                returned something that is not JSON; ``reason`` says which.
        """
        limit = self.timeout if timeout is None else timeout
        if limit <= 0:
            raise ValueError(f"timeout must be positive, not {limit}")
        payload = self._encode(code, input, context, outputs)
        await self.start()
        slot = await self._share.acquire(org)
        try:
            if self._closed:
                raise CodeActionError("the code pool is closed")
            try:
                worker = await slot.ready(self._config)
            except Exception as exc:
                raise CodeActionError(f"code worker failed to start: {_describe(exc)}") from exc
            return await self._call(slot, worker, payload, limit)
        finally:
            if self._closed:  # close() may have raced with this call: leave nothing running
                await slot.stop()
            self._share.release(org, slot)

    async def _call(self, slot: _Slot, worker: _Worker, payload: bytes, limit: float) -> Any:
        try:
            reply = await asyncio.wait_for(worker.request(payload), limit)
        except TimeoutError:
            self._replace(slot, "timed out", worker)
            raise CodeActionError(
                f"timed out after {limit:g}s{self._timeout_setting(limit)}"
            ) from None
        except _WorkerDied as exc:
            if self._closed:
                raise CodeActionError("the code pool was closed during the call") from None
            self._replace(slot, str(exc), worker)
            raise CodeActionError(str(exc)) from None
        except BaseException:  # cancelled mid-call: the worker's next reply would be this call's
            self._replace(slot, "call cancelled", worker)
            raise
        if not reply.get("ok"):
            refusal = CodeRefused if reply.get("refused") else CodeActionError
            raise refusal(str(reply.get("reason", "unknown failure")))
        if reply.get("printed"):
            logger.debug("code action printed: %s", reply["printed"], extra={"pid": worker.pid})
        return reply.get("value")

    def _timeout_setting(self, limit: float) -> str:
        """The setting to name when ``limit`` is the pool's own timeout (a call's is its own)."""
        return sandbox.setting("code_timeout_seconds") if limit == self.timeout else ""

    def _replace(self, slot: _Slot, why: str, worker: _Worker) -> None:
        logger.info("replacing code worker (%s)", why, extra={"pid": worker.pid})
        slot.replace(None if self._closed else self._config)

    def _encode(self, code: str, input: Any, context: Any, outputs: Any) -> bytes:
        if not isinstance(code, str):
            raise CodeActionError(f"code must be a string, not {type(code).__name__}")
        request = {"code": code, "input": input, "context": context, "outputs": outputs}
        try:
            return values.encode(request)
        except TypeError:
            for name in ("input", "context", "outputs"):
                try:
                    values.encode(request[name])
                except TypeError:
                    kind = values.offending_type(request[name])
                    raise CodeActionError(f"{name} is not JSON: {kind}") from None
            raise


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, _WorkerDied) else repr(exc)
