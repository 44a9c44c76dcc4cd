"""Event throughput through the REST API, and emit-to-resume latency of a waiting run.

    python bench/events.py [--events 1000] [--concurrency 32] [--waits 200] [--repeat 3]

(a) ``plait serve`` runs in a subprocess on a fresh SQLite file, with one Activated workflow of
one trivial step triggered by ``Ping.sent``. The benchmark POSTs ``--events`` events over real
HTTP, ``--concurrency`` at a time, and reports events accepted per second and the rate at which
their runs completed (all runs succeeded). (b) In process, a run waits for ``Pong.sent`` (a
``wait-for-event`` step); the benchmark emits the matching event and measures the time until
the run's result is available, ``--waits`` times; p50 and p99. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from plait import Engine
from plait.testing import assert_eventually

PING = {"name": "ping", "triggerEvent": "Ping.sent",
        "steps": [{"action": "log", "mapping": {"message": "event.data.n"}}]}  # fmt: skip
PONG = {"name": "pong", "triggerEvent": "Pong.requested", "steps": [
    {"id": "reply", "type": "wait-for-event", "event": "Pong.sent",
     "match": "event.data.n == inputs.n", "timeout": 600000}]}  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _plait(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    return subprocess.run([sys.executable, "-m", "plait", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip


async def through_http(events: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
        db = f"sqlite:///{directory}/bench.db"
        key = json.loads(_plait("keys", "create", "--org", "bench", "--role", "admin", "--json",
                                "--db", db, cwd=directory).stdout)["key"]  # fmt: skip
        port = _port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
        server = subprocess.Popen(  # noqa: ASYNC220 - a long-lived server, started once
            [sys.executable, "-m", "plait", "serve", "--port", str(port), "--db", db],
            cwd=directory,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return await _drive(f"http://127.0.0.1:{port}", key, events, concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)


async def _drive(base: str, key: str, events: int, concurrency: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as api:
        for _ in range(200):
            try:
                if (await api.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        workflow = (await api.post("/~bench/workflows", json=PING)).json()
        await api.post(f"/~bench/workflows/{workflow['$id']}/activate")
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with gate:
                answer = await api.post(
                    "/~bench/events", json={"type": "Ping.sent", "data": {"n": n}}
                )
                assert answer.status_code == 202, answer.text

        started = time.perf_counter()
        await asyncio.gather(*[one(n) for n in range(events)])
        accepted = time.perf_counter() - started
        while True:
            shown = (await api.get(f"/~bench/workflows/{workflow['$id']}")).json()
            if shown["successCount"] >= events:
                break
            await asyncio.sleep(0.02)
        completed = time.perf_counter() - started
    return {"events_per_s": events / accepted, "runs_completed_per_s": events / completed}


async def emit_to_resume(waits: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=os.environ.get("PLAIT_BENCH_DIR")) as directory:
        engine = Engine(f"sqlite:///{directory}/latency.db")
        async with engine:
            workflow = await engine.workflows.create("bench", PONG)
            await engine.workflows.activate("bench", workflow.id)
            samples = []
            for n in range(waits + 10):
                [run_id] = (await engine.events.emit("bench", "Pong.requested", {"n": n})).runs

                async def waiting(run: str = run_id) -> bool:
                    return (await engine.handle(run, org="bench").info()).status == "waiting"

                await assert_eventually(waiting, interval=0.001)
                started = time.perf_counter()
                await engine.events.emit("bench", "Pong.sent", {"n": n})
                await engine.handle(run_id, org="bench").result(timeout=10)
                if n >= 10:
                    samples.append(time.perf_counter() - started)
    samples.sort()
    return {"resume_p50_ms": samples[len(samples) // 2] * 1000,
            "resume_p99_ms": samples[int(len(samples) * 0.99)] * 1000}  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--waits", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    samples: list[dict[str, float]] = []
    for _ in range(args.repeat):
        result = await through_http(args.events, args.concurrency)
        result.update(await emit_to_resume(args.waits))
        samples.append(result)
    report: dict[str, Any] = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    report.update({"events": args.events, "concurrency": args.concurrency, "repeat": args.repeat})
    print(f"median of {args.repeat} runs")
    print(f"{'POST /events accepted (events/s)':<40}{report['events_per_s']:>10,.0f}")
    print(f"{'triggered runs completed (runs/s)':<40}{report['runs_completed_per_s']:>10,.0f}")
    print(f"{'emit -> waiting run resumed, p50 (ms)':<40}{report['resume_p50_ms']:>10.2f}")
    print(f"{'emit -> waiting run resumed, p99 (ms)':<40}{report['resume_p99_ms']:>10.2f}")
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
