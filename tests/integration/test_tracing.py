"""Traces of runs started from Python (on each backend): a run started inside the application's
span belongs to its trace, and so do the child runs it starts; what turns tracing on in a
process (the standard ``OTEL_*`` variables, ``otel_endpoint``) and what keeps it off; and plait
without OpenTelemetry: it never imports it while tracing is off, and works without it installed.
The API's spans are in tests/api/test_tracing_api.py; a real OTLP endpoint across a crash in
tests/acceptance/test_tracing_crash.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler

from plait import Context, Engine, logfields, tracing
from plait.errors import ConfigurationError
from plait.settings import Settings
from plait.testing import assert_eventually

MakeEngine = Callable[..., Engine]


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    try:
        yield provider, exporter
    finally:
        tracing.disable()
        provider.shutdown()


@pytest.fixture
def untraced(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No OpenTelemetry variable from the caller's environment; tracing off again after."""
    tracing.disable()
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
                 "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "PLAIT_OTEL_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    try:
        yield monkeypatch
    finally:
        tracing.disable()


def of(span: ReadableSpan, key: str) -> object:
    return (span.attributes or {}).get(key)


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def register(engine: Engine, logged: list[dict[str, Any]] | None = None) -> None:
    def shout(word: str) -> str:  # synchronous: it runs in a thread
        if logged is not None:  # what a log line, and a span made here, would belong to
            span = trace.get_current_span().get_span_context().span_id
            logged.append({**logfields.current(), "span": span})
        return word.upper()

    @engine.workflow("echo")
    async def echo(ctx: Context, word: str) -> str:
        result: str = await ctx.step("shout", shout, word)
        return result

    @engine.workflow("family")
    async def family(ctx: Context, words: list[str]) -> list[str]:
        return [await ctx.child(echo, word) for word in words]


async def test_a_run_started_in_the_applications_span_and_its_children_are_one_trace(
    make_engine: MakeEngine, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exporter = spans
    engine = make_engine()
    logged: list[dict[str, Any]] = []
    register(engine, logged)
    async with engine:
        with provider.get_tracer("app").start_as_current_span("checkout") as app:
            handle = await engine.start("family", ["a", "b"])
        assert await handle.result(timeout=10) == ["A", "B"]
        children = (await handle.info()).children
        runs = {handle.id, *children}

        async def ended() -> bool:
            found = exporter.get_finished_spans()
            return {of(s, "plait.run_id") for s in found if s.name == "plait.run.replay"} == runs

        await assert_eventually(ended)
    found = exporter.get_finished_spans()
    trace_id = app.get_span_context().trace_id
    [start] = [s for s in found if s.name == "plait.run.start"]
    assert parent_id(start) == app.get_span_context().span_id
    assert of(start, "plait.run_id") == handle.id
    replays = [s for s in found if s.name == "plait.run.replay"]
    assert {s.context.trace_id for s in found} == {trace_id}
    assert {fields["trace_id"] for fields in logged} == {format(trace_id, "032x")}
    by_run: dict[object, list[ReadableSpan]] = {}
    for replay in replays:
        by_run.setdefault(of(replay, "plait.run_id"), []).append(replay)
    # The parent waits suspended for each child: a replay per child, then the last.
    parents = sorted(by_run.pop(handle.id), key=lambda s: str(of(s, "plait.replay")))
    assert [of(s, "plait.outcome") for s in parents] == ["waiting", "waiting", "succeeded"]
    assert {parent_id(s) for s in parents} == {start.context.span_id}
    # Each child runs under the replay of its parent that started it: the first under the
    # first, the second (started once the first had ended) under the second.
    assert set(by_run) == set(children)
    assert {parent_id(by_run[child][0]) for child in children} == {
        s.context.span_id for s in parents[:2]
    }
    for child_id, [replay] in by_run.items():
        assert of(replay, "plait.workflow") == "echo"
        [attempt] = [s for s in found if s.name == "plait.step.attempt"
                     and of(s, "plait.run_id") == child_id]  # fmt: skip
        assert parent_id(attempt) == replay.context.span_id
        assert {"run_id": child_id, "span": attempt.context.span_id}.items() <= next(
            fields for fields in logged if fields["run_id"] == child_id
        ).items()


async def test_a_run_started_outside_any_span_still_keeps_one_trace(
    make_engine: MakeEngine, spans: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    """A run stored no context (started outside a span: a schedule, a script): all its
    replays share a trace derived from its id."""
    _, exporter = spans
    engine = make_engine()
    register(engine)
    async with engine:
        assert not trace.get_current_span().get_span_context().is_valid
        handle = await engine.start("family", ["a"])
        assert await handle.result(timeout=10) == ["A"]

        async def ended() -> bool:
            return len([s for s in exporter.get_finished_spans()
                        if s.name == "plait.run.replay"]) == 3  # fmt: skip

        await assert_eventually(ended)
    found = exporter.get_finished_spans()
    parents = [s for s in found
               if s.name == "plait.run.replay" and of(s, "plait.run_id") == handle.id]  # fmt: skip
    assert len({s.context.trace_id for s in parents}) == 1
    assert {s.context.trace_id for s in found if s.name != "plait.run.start"} == {
        parents[0].context.trace_id
    }


@pytest.mark.parametrize("sampler", [ParentBased(ALWAYS_OFF), ALWAYS_OFF], ids=["parent", "off"])
async def test_an_unsampled_trace_records_nothing_and_keeps_its_id(
    make_engine: MakeEngine, sampler: Sampler
) -> None:
    """A run started in a trace that is not sampled makes no span (plait skips asking a
    parent-based sampler), yet its logs carry the trace's id."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = tracing.configure(provider)
    assert traced.follows_parent is isinstance(sampler, ParentBased)
    engine = make_engine()
    logged: list[dict[str, Any]] = []
    register(engine, logged)
    try:
        async with engine:
            with provider.get_tracer("app").start_as_current_span("checkout") as app:
                handle = await engine.start("family", ["a", "b"])
            assert await handle.result(timeout=10) == ["A", "B"]
    finally:
        tracing.disable()
        provider.shutdown()
    assert not app.get_span_context().trace_flags.sampled
    assert exporter.get_finished_spans() == ()
    assert [f["trace_id"] for f in logged] == [format(app.get_span_context().trace_id, "032x")] * 2


def test_the_standard_variables_turn_tracing_on_and_off(untraced: pytest.MonkeyPatch) -> None:
    settings = Settings.load()
    assert tracing.setup(settings) is None  # nothing configured: off
    untraced.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    untraced.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.setup(settings) is None  # the SDK disabled
    untraced.delenv("OTEL_SDK_DISABLED")
    untraced.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing.setup(settings) is None  # the exporter off
    untraced.setenv("OTEL_TRACES_EXPORTER", "otlp")
    active = tracing.setup(settings)
    assert active is not None and active.owned and tracing.ACTIVE is active
    assert tracing.setup(settings) is active  # once per process
    tracing.disable()
    untraced.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    untraced.setenv("OTEL_TRACES_EXPORTER", "console")
    assert tracing.setup(settings) is not None


def test_an_unsupported_otlp_protocol_is_refused(untraced: pytest.MonkeyPatch) -> None:
    untraced.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigurationError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        tracing.setup(Settings.load(otel_endpoint="http://127.0.0.1:4318"))
    assert tracing.ACTIVE is None
    untraced.setenv("OTEL_TRACES_EXPORTER", "otlp")  # asked of plait by the standard variable
    with pytest.raises(ConfigurationError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        tracing.setup(Settings.load())
    untraced.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")  # the specific wins
    assert tracing.setup(Settings.load(otel_endpoint="http://127.0.0.1:4318")) is not None


def test_a_grpc_collector_meant_for_other_programs_leaves_plait_untraced(
    untraced: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    untraced.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    untraced.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert tracing.setup(Settings.load()) is None  # an engine still starts
    assert tracing.ACTIVE is None
    assert "plait does not trace" in caplog.text and "grpc" in caplog.text


# -- without OpenTelemetry ----------------------------------------------------------------------

SCRIPT = dedent(
    """
    import asyncio, logging, os, sys

    class Missing:  # as if plait[otel] were not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "opentelemetry":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    url, blocked = sys.argv[1], sys.argv[2] == "blocked"
    if blocked:
        sys.meta_path.insert(0, Missing())
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"  # meant for another
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from plait import Context, Engine, logfields, tracing
    from plait.errors import ConfigurationError

    engine = Engine(url)

    async def greet(who):
        return f"hello {who}"

    @engine.workflow
    async def hello(ctx: Context, who: str) -> str:
        return await ctx.step("greet", greet, who)

    async def main():
        async with engine:
            handle = await engine.start(hello, "Ada")
            print("result:", await handle.result(timeout=30))

    asyncio.run(main())
    print("active:", tracing.ACTIVE)
    if blocked:
        for attempt in (lambda: Engine(url, otel_endpoint="http://127.0.0.1:9"),
                        tracing.configure):
            try:
                attempt()
            except ConfigurationError as exc:
                print("refused:", exc)
    print("modules:", sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))
    """
)


@pytest.mark.parametrize("blocked", [False, True], ids=["installed", "missing"])
def test_plait_runs_without_opentelemetry_and_never_imports_it_while_off(
    db_url: str, blocked: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PLAIT_OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, db_url, "blocked" if blocked else "installed"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "result: hello Ada" in lines
    assert "active: None" in lines
    assert "modules: []" in lines
    if blocked:
        hint = "pip install 'plait[otel]'"
        refusals = [line for line in lines if line.startswith("refused:")]
        assert len(refusals) == 2 and all(hint in line for line in refusals), lines
        assert "OpenTelemetry variables are set but plait cannot trace" in done.stderr


def test_plait_serve_asked_to_trace_without_opentelemetry_exits_with_the_hint(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing" / "opentelemetry"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text("raise ImportError('plait[otel] is not installed')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PLAIT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(missing.parent), *sys.path])
    done = subprocess.run(
        [sys.executable, "-m", "plait", "serve", "--port", "0", "--db",
         f"sqlite:///{tmp_path / 'serve.db'}", "--otel-endpoint", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, env=env, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "pip install 'plait[otel]'" in done.stderr
    assert "Traceback" not in done.stderr
