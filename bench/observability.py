"""What observability costs: the throughput workload with metrics and tracing on vs off.

    python bench/observability.py                       # SQLite, 1,000 concurrent runs, 3 rounds
    python bench/observability.py --db postgresql://postgres@127.0.0.1:5432/test

(also ``python bench/throughput.py --observability [--db URL]``). The workload is
``bench/throughput.py``'s: 3-step runs of no-op async steps, sequential start-to-result latency
and the throughput of 1,000 runs started at once, each arm on a fresh database.

- **off**: tracing off (OpenTelemetry not configured) and Prometheus counting replaced by a
  recorder that does nothing, so the arm pays for neither;
- **on**: plait's Prometheus metrics counted as they always are, scraped (rendered) once a
  second as a Prometheus server would, and tracing on through ``otel_endpoint``, the way an
  operator turns it on: plait's spans, batched to its exporter process (``plait.tracing.
  exporter``, the SDK's OTLP/HTTP exporter), sending to a receiver on 127.0.0.1 that the bench
  starts in a process of its own, which decodes each request and counts its spans;
  every run traced (the SDK's default sampler);
- **sampled**: the same with ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` and
  ``OTEL_TRACES_SAMPLER_ARG=0.1``: one trace in ten recorded and exported, as busy systems run.

The throughput window ends when every run has its result and every span is exported. Arms
rotate (off, on, sampled, then on, sampled, off, ...) so drift of the shared machine falls on
each; every figure is the median of ``--repeat`` rounds. The overhead of an arm is
``1 - arm/off`` of throughput (and ``arm/off - 1`` of latency). "CPU" is the CPU time of the
bench's own process (the event loop and its threads; not the exporter process nor the
receiver) per run of the concurrent window: on a shared machine, steadier than the wall
clock. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import _engine, _percentile, fresh_database, is_postgres

from plait import Engine, tracing
from plait.metrics import Metrics

SPANS_PER_RUN = 5
"""plait.run.start, plait.run.replay and one plait.step.attempt per step of the workload."""


class NoMetrics(Metrics):
    """The "off" arm's recorder: counts nothing."""

    def inc(self, name: str, *labels: str, by: float = 1.0, org: str | None = None) -> None:
        return None

    def observe(self, name: str, value: float, *labels: str) -> None:
        return None

    def claimed(self, workflow: str, waited: float, *, reclaimed: bool = False) -> None:
        return None

    def emitted(self, source: str, started: int = 0, resumed: int = 0) -> None:
        return None

    def summarize(self, name: str, value: float, *labels: str) -> None:
        return None

    def commit(self, seconds: float, writes: int) -> None:
        return None

    def slots(self, used: int, free: int) -> None:
        return None


class Receiver:
    """An OTLP/HTTP traces endpoint on 127.0.0.1, in a process of its own (its work is not
    plait's), that decodes every request and counts the spans in it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._spans = context.Value("q", 0)
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_receive, args=(self._spans, theirs), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{ours.recv()}"

    @property
    def spans(self) -> int:
        """Spans received so far."""
        return int(self._spans.value)

    def close(self) -> None:
        self._process.terminate()
        self._process.join()


def _receive(spans: Any, conn: Any) -> None:
    """The receiver's process: serve until terminated, adding each request's spans up."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            count = sum(len(scope.spans) for resource in request.resource_spans
                        for scope in resource.scope_spans)  # fmt: skip
            with spans.get_lock():
                spans.value += count
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever()


ARMS = ("off", "on", "sampled")
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


@contextmanager
def observed(url: str, arm: str, receiver: Receiver) -> Iterator[Engine]:
    """An engine on ``url`` with observability ``arm`` (one of :data:`ARMS`)."""
    tracing.disable()
    if arm == "off":
        engine = _engine(url, "NORMAL")
        engine.deps.metrics = engine.deps.local.metrics = NoMetrics()
    else:
        sampler = SAMPLED if arm == "sampled" else {}
        os.environ.update(sampler)
        try:
            engine = _engine(url, "NORMAL", otel_endpoint=receiver.url)
        finally:
            for name in sampler:
                os.environ.pop(name)
    try:
        yield engine
    finally:
        tracing.flush()
        tracing.disable()


async def scrape(engine: Engine, stop: asyncio.Event) -> int:
    """Render the Prometheus exposition once a second until ``stop``; how many scrapes."""
    scrapes = 0
    while not stop.is_set():
        await engine.health.metrics({})
        scrapes += 1
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    return scrapes


async def arm_once(arm: str, sequential: int, concurrent: int, db: str | None,
                   receiver: Receiver) -> dict[str, float]:  # fmt: skip
    spans_before = receiver.spans
    with fresh_database(db) as url, observed(url, arm, receiver) as engine:
        async with engine:
            stop = asyncio.Event()
            scraper = asyncio.create_task(scrape(engine, stop)) if arm != "off" else None
            for i in range(20):  # warm-up
                await (await engine.start("three-steps", i)).result()
            latencies = []
            for i in range(sequential):
                started = time.perf_counter()
                await (await engine.start("three-steps", i)).result()
                latencies.append(time.perf_counter() - started)
            started, cpu = time.perf_counter(), time.process_time()
            handles = await asyncio.gather(*[engine.start("three-steps", i)
                                             for i in range(concurrent)])  # fmt: skip
            results = await asyncio.gather(*[h.result() for h in handles])
            await asyncio.to_thread(tracing.flush)  # spans still queued are part of the cost
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            stop.set()
            scrapes = await scraper if scraper else 0
            if results != list(range(concurrent)):
                raise AssertionError("plait returned wrong results")
    return {
        "seq_p50_ms": _percentile(latencies, 0.5) * 1000,
        "concurrent_wf_per_s": concurrent / elapsed,
        "cpu_us_per_run": cpu / concurrent * 1e6,
        "spans_exported": receiver.spans - spans_before,
        "spans_all_runs": (20 + sequential + concurrent) * SPANS_PER_RUN if arm != "off" else 0,
        "scrapes": scrapes,
    }


async def compare(repeat: int, sequential: int, concurrent: int, db: str | None) -> dict[str, Any]:
    """Alternate the arms ``repeat`` times; the medians of each and the overhead."""
    receiver = Receiver()
    rounds: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
    try:
        for r in range(repeat):
            for arm in ARMS[r % len(ARMS) :] + ARMS[: r % len(ARMS)]:
                rounds[arm].append(await arm_once(arm, sequential, concurrent, db, receiver))
    finally:
        receiver.close()
    medians = {arm: {k: statistics.median(x[k] for x in runs) for k in runs[0]}
               for arm, runs in rounds.items()}  # fmt: skip
    off = medians["off"]
    overhead = {arm: {
        "throughput_pct": (1 - m["concurrent_wf_per_s"] / off["concurrent_wf_per_s"]) * 100,
        "seq_p50_pct": (m["seq_p50_ms"] / off["seq_p50_ms"] - 1) * 100,
        "cpu_pct": (m["cpu_us_per_run"] / off["cpu_us_per_run"] - 1) * 100,
    } for arm, m in medians.items() if arm != "off"}  # fmt: skip
    return {
        "backend": "postgresql" if is_postgres(db) else "sqlite",
        "repeat": repeat,
        "concurrent": concurrent,
        **medians,
        "overhead": overhead,
        "rounds": rounds,
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"observability A/B on {report['backend']}, {report['concurrent']:,} concurrent runs, "
          f"arms rotated, median of {report['repeat']} rounds")  # fmt: skip
    print(f"{'arm':<10}{'wf/s':>10}{'overhead':>10}{'seq p50 ms':>12}{'overhead':>10}"
          f"{'CPU us/run':>12}{'overhead':>10}"
          f"{'spans exported':>16}{'of all runs':>13}{'scrapes':>9}")  # fmt: skip
    for arm in ARMS:
        m = report[arm]
        none = {"throughput_pct": 0.0, "seq_p50_pct": 0.0, "cpu_pct": 0.0}
        cost = report["overhead"].get(arm, none)
        print(f"{arm:<10}{m['concurrent_wf_per_s']:>10,.0f}{cost['throughput_pct']:>9.1f}%"
              f"{m['seq_p50_ms']:>12.3f}{cost['seq_p50_pct']:>9.1f}%"
              f"{m['cpu_us_per_run']:>12,.0f}{cost['cpu_pct']:>9.1f}%"
              f"{m['spans_exported']:>16,.0f}{m['spans_all_runs']:>13,.0f}"
              f"{m['scrapes']:>9,.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", metavar="URL", help="a postgresql:// URL (SQLite is the default)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each arm (median)")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    args = parser.parse_args()
    if args.db and not is_postgres(args.db):
        parser.error("--db takes a postgresql:// URL (SQLite is the default)")
    report = asyncio.run(compare(args.repeat, args.sequential, args.concurrent, args.db))
    print_table(report)
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
