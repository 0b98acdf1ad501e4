"""OpenTelemetry end to end: the real SDK (in-memory span exporter and metric reader)
watching the real client fetch from the sandbox (or a scripted loopback server)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from taskbridge import (
    ConfigurationError,
    RetryPolicy,
    TaskBridge,
    TaskNotFoundError,
)
from taskbridge.sandbox import Lifecycle, Sandbox
from taskbridge.testing import VirtualClock

from .conftest import CAKEWALK_ID, ScriptedServer, make_bridge

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, max_retry_after=30.0)
PROVIDERS = [pytest.param("cakewalk", id="cakewalk"), pytest.param("alumio", id="alumio")]


@attrs.define
class Otel:
    """An SDK tracer and meter provider, each reading into memory."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out

    def options(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def bridge_for(sb: Sandbox, otel: Otel, **options: Any) -> TaskBridge:
    options.setdefault("retry", FAST)
    return TaskBridge(
        cakewalk=sb.cakewalk_config(requests_per_minute=None, **options.pop("cakewalk", {})),
        alumio=sb.alumio_config(**options.pop("alumio", {})),
        **otel.options(),
        **options,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_get_is_one_call_span_with_one_client_span_per_attempt(
    otel: Otel, provider: str
) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        task_id = sb.ids(provider)[0]
        await bridge.get(provider, task_id)
    (call,) = otel.spans("taskbridge.get")
    (attempt,) = otel.spans("GET")
    assert call.kind is SpanKind.INTERNAL
    assert call.attributes == {
        "taskbridge.provider": provider,
        "taskbridge.task_id": task_id,
        "taskbridge.status": call.attributes["taskbridge.status"],  # type: ignore[index]
    }
    assert attempt.kind is SpanKind.CLIENT
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    attributes = dict(attempt.attributes or {})
    assert attributes.pop("url.full").startswith(f"{sb.url}/")  # type: ignore[union-attr]
    assert attributes == {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": sb.port,
        "taskbridge.provider": provider,
        "taskbridge.attempt": 1,
        "http.response.status_code": 200,
    }
    assert attempt.status.status_code is StatusCode.UNSET


async def test_a_retried_request_is_several_attempt_spans_under_one_call(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        task_id = sb.ids("alumio")[1]
        sb.answer("alumio", task_id, 503, times=2)
        await bridge.get("alumio", task_id)
    (call,) = otel.spans("taskbridge.get")
    attempts = sorted(otel.spans("GET"), key=lambda s: s.attributes["taskbridge.attempt"])  # type: ignore[index]
    assert [s.attributes["taskbridge.attempt"] for s in attempts] == [1, 2, 3]  # type: ignore[index]
    assert all(s.parent is not None and s.parent.span_id == call.context.span_id for s in attempts)
    assert [s.attributes.get("error.type") for s in attempts] == ["503", "503", None]  # type: ignore[union-attr]
    assert [s.status.status_code for s in attempts[:2]] == [StatusCode.ERROR] * 2
    retries = [e for e in call.events if e.name == "taskbridge.retry"]
    assert [e.attributes["taskbridge.attempt"] for e in retries] == [1, 2]  # type: ignore[index]
    metrics = otel.metrics()
    outcomes = {
        p.attributes["taskbridge.outcome"]: p.value for p in metrics["taskbridge.client.attempts"]
    }
    assert outcomes == {"503": 2, "ok": 1}
    (retried,) = metrics["taskbridge.client.retries"]
    assert retried.value == 2
    assert retried.attributes == {"taskbridge.provider": "alumio", "error.type": "503"}


async def test_a_429_pause_is_an_event_with_its_retry_after(otel: Otel) -> None:
    async with (
        VirtualClock() as clock,
        Sandbox(seed=3, clock=clock.time) as sb,
        bridge_for(sb, otel) as bridge,
    ):
        task_id = sb.ids("cakewalk")[0]
        sb.answer("cakewalk", task_id, 429, times=1, retry_after=7)
        await bridge.get("cakewalk", task_id)
    (call,) = otel.spans("taskbridge.get")
    (pause,) = [e for e in call.events if e.name == "taskbridge.rate_limit_pause"]
    assert pause.attributes == {
        "taskbridge.provider": "cakewalk",
        "taskbridge.pause": 7.0,
        "taskbridge.retry_after": 7.0,
    }
    (pauses,) = otel.metrics()["taskbridge.client.rate_limit.pauses"]
    assert pauses.value == 1


async def test_a_failed_call_marks_its_span_and_its_attempt(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        task_id = sb.ids("alumio")[0]
        sb.answer("alumio", task_id, 404)
        with pytest.raises(TaskNotFoundError):
            await bridge.get("alumio", task_id)
    (call,) = otel.spans("taskbridge.get")
    (attempt,) = otel.spans("GET")
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes["error.type"] == "TaskNotFoundError"  # type: ignore[index]
    (exception,) = [e for e in call.events if e.name == "exception"]
    assert exception.attributes["exception.type"] == "TaskNotFoundError"  # type: ignore[index]
    assert attempt.attributes["error.type"] == "404"  # type: ignore[index]
    assert attempt.attributes["http.response.status_code"] == 404  # type: ignore[index]


async def test_the_request_carries_the_attempt_spans_traceparent(
    server: ScriptedServer, otel: Otel
) -> None:
    async with make_bridge(server, **otel.options()) as bridge:
        await bridge.get("cakewalk", CAKEWALK_ID)
    (attempt,) = otel.spans("GET")
    (seen,) = server.requests
    context = attempt.context
    version, trace_id, span_id, flags = seen.headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert int(flags, 16) & 1  # sampled


async def test_request_duration_is_a_histogram_with_the_semconv_attributes(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        await bridge.get_many([("cakewalk", i) for i in sb.ids("cakewalk")[:3]])
        sb.answer("alumio", sb.ids("alumio")[0], 404)
        await bridge.get_many([("alumio", sb.ids("alumio")[0])])
    points = {
        tuple(sorted(p.attributes.items())): p.count
        for p in otel.metrics()["http.client.request.duration"]
    }
    base = {"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": sb.port}
    ok = {**base, "taskbridge.provider": "cakewalk", "http.response.status_code": 200}
    missing = {
        **base,
        "taskbridge.provider": "alumio",
        "http.response.status_code": 404,
        "error.type": "404",
    }
    assert points == {tuple(sorted(ok.items())): 3, tuple(sorted(missing.items())): 1}


async def test_get_many_and_stream_are_one_span_each_over_their_attempts(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        refs = [("cakewalk", i) for i in sb.ids("cakewalk")[:3]] + [("alumio", "")]
        await bridge.get_many(refs)
        async for _ in bridge.stream(refs[:2]):
            pass
    (many,) = otel.spans("taskbridge.get_many")
    (stream,) = otel.spans("taskbridge.stream")
    assert many.attributes == {
        "taskbridge.refs": 4,
        "taskbridge.succeeded": 3,
        "taskbridge.failed": 1,
    }
    assert stream.attributes == {"taskbridge.succeeded": 2, "taskbridge.failed": 0}
    parents = sorted(s.parent.span_id for s in otel.spans("GET") if s.parent is not None)
    expected = [many.context.span_id] * 3 + [stream.context.span_id] * 2
    assert parents == sorted(expected)


async def test_a_get_beside_a_busy_slot_records_its_queue_wait(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel, alumio={"max_concurrency": 1}) as b:
        ids = sb.ids("alumio")[:3]
        await asyncio.gather(*(b.get("alumio", i) for i in ids))
    waits = [
        e
        for s in otel.spans("taskbridge.get")
        for e in s.events
        if e.name == "taskbridge.queue_wait"
    ]
    assert len(waits) == 2
    assert all(e.attributes["taskbridge.provider"] == "alumio" for e in waits)  # type: ignore[index]
    (queue,) = otel.metrics()["taskbridge.client.queue.wait"]
    assert queue.count == 2


async def test_in_flight_and_queued_are_observable_gauges(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel) as bridge:
        await bridge.get("cakewalk", sb.ids("cakewalk")[0])
        metrics = otel.metrics()
    for name in ("taskbridge.client.in_flight", "taskbridge.client.queued"):
        providers = {p.attributes["taskbridge.provider"]: p.value for p in metrics[name]}
        assert providers == {"cakewalk": 0, "alumio": 0}


async def test_wait_status_changes_are_span_events(otel: Otel) -> None:
    poll = {"poll_interval": 5.0, "max_poll_interval": 20.0}
    lifecycle = Lifecycle(step=60.0, jitter=0.5)
    async with (
        VirtualClock() as clock,
        Sandbox(seed=5, lifecycle=lifecycle, clock=clock.time) as sb,
        bridge_for(sb, otel, alumio=poll, cakewalk=poll) as bridge,
    ):
        task_id = sb.ids("alumio")[0]
        stages = [status for _, status in sb.schedule("alumio", task_id)]
        await bridge.wait("alumio", task_id)
        updates = [u async for u in bridge.watch([("alumio", sb.ids("alumio")[2])])]
    (wait,) = otel.spans("taskbridge.wait")
    seen = [
        e.attributes["taskbridge.provider_status"]
        for e in wait.events
        if e.name == "taskbridge.status_change"
    ]  # type: ignore[index]
    assert seen == stages[-len(seen) :] and seen[-1] == stages[-1]
    # The polls are shared by every wait and watch of the bridge: no one call owns them.
    assert all(s.parent is None for s in otel.spans("GET"))
    (watch,) = otel.spans("taskbridge.watch")
    changes = [e for e in watch.events if e.name == "taskbridge.status_change"]
    assert len(changes) == len(updates)
    assert watch.attributes == {"taskbridge.updates": len(updates)}


POLL = {"poll_interval": 5.0, "max_poll_interval": 20.0}


@contextlib.asynccontextmanager
async def polled(otel: Otel, **options: Any) -> AsyncIterator[tuple[Sandbox, TaskBridge]]:
    """A sandbox whose tasks move on a virtual clock, and a bridge polling it."""
    lifecycle = Lifecycle(step=60.0, jitter=0.5)
    async with (
        VirtualClock() as clock,
        Sandbox(seed=5, lifecycle=lifecycle, clock=clock.time) as sb,
        bridge_for(sb, otel, alumio=POLL, cakewalk=POLL, **options) as bridge,
    ):
        yield sb, bridge


async def test_a_followed_wait_returns_at_until_and_names_its_task(otel: Otel) -> None:
    async with polled(otel) as (sb, bridge):
        task_id = sb.ids("alumio")[0]
        task = await bridge.wait("alumio", task_id, until=lambda task: True)
        now = await bridge.get("alumio", task_id)
    assert not task.is_terminal and task.provider_status == now.provider_status
    (wait,) = otel.spans("taskbridge.wait")
    assert wait.attributes == {
        "taskbridge.provider": "alumio",
        "taskbridge.task_id": task_id,
        "taskbridge.status": task.status.value,
    }
    (change,) = [e for e in wait.events if e.name == "taskbridge.status_change"]
    assert change.attributes["taskbridge.provider_status"] == task.provider_status  # type: ignore[index]


async def test_a_followed_wait_that_fails_ends_its_span_with_the_error(otel: Otel) -> None:
    async with polled(otel) as (sb, bridge):
        task_id = sb.ids("alumio")[0]
        sb.answer("alumio", task_id, 404)
        with pytest.raises(TaskNotFoundError):
            await bridge.wait("alumio", task_id)
    (wait,) = otel.spans("taskbridge.wait")
    assert wait.status.status_code is StatusCode.ERROR
    assert wait.attributes["error.type"] == "TaskNotFoundError"  # type: ignore[index]


async def test_a_followed_watch_reports_errors_and_ends_when_closed(otel: Otel) -> None:
    async with polled(otel) as (sb, bridge):
        gone, kept = sb.ids("alumio")[:2]
        sb.answer("alumio", gone, 404)
        bridge.watch([("alumio", kept)]).close()  # closed before its first step: no call
        watch = bridge.watch([("alumio", gone), ("alumio", kept)])
        updates = [await watch.__anext__(), await watch.__anext__()]
        assert bridge._polling.scheduler.following == 1  # `kept`, still followed
        watch.close()  # leaving early: polls stop, the call ends
        assert bridge._polling.scheduler.following == 0
        assert len(otel.spans("taskbridge.watch")) == 1  # ended by the close itself
        with pytest.raises(StopAsyncIteration):
            await watch.__anext__()
    assert {u.ref.task_id: u.error is None for u in updates} == {gone: False, kept: True}
    (span,) = otel.spans("taskbridge.watch")
    assert span.attributes == {"taskbridge.updates": 2}
    (error,) = [e for e in span.events if e.name == "taskbridge.watch_error"]
    assert error.attributes == {
        "taskbridge.provider": "alumio",
        "taskbridge.task_id": gone,
        "error.type": "TaskNotFoundError",
    }


async def test_a_followed_watch_whose_until_raises_ends_its_span_with_the_error(
    otel: Otel,
) -> None:
    def until(task: object) -> bool:
        raise ZeroDivisionError

    async with polled(otel) as (sb, bridge):
        with pytest.raises(ZeroDivisionError):
            async for _ in bridge.watch([("alumio", sb.ids("alumio")[0])], until=until):
                pass
    (span,) = otel.spans("taskbridge.watch")
    assert span.status.status_code is StatusCode.ERROR


async def test_a_followed_watch_closed_from_another_task_ends_its_span(otel: Otel) -> None:
    async with polled(otel) as (sb, bridge):
        watch = bridge.watch([("alumio", sb.ids("alumio")[0])])
        await watch.__anext__()
        consumer = asyncio.ensure_future(watch.__anext__())
        await asyncio.sleep(0)  # the consumer waits for the next update
        assert not consumer.done() and otel.spans("taskbridge.watch") == []
        watch.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(consumer, 10)
    (span,) = otel.spans("taskbridge.watch")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes == {"taskbridge.updates": 1}


async def test_without_hooks_or_telemetry_wait_and_watch_follow_nothing(otel: Otel) -> None:
    async with polled(otel, telemetry=False) as (sb, bridge):
        task_id = sb.ids("alumio")[0]
        task = await bridge.wait("alumio", task_id)
        updates = [u async for u in bridge.watch([("alumio", task_id)])]
    assert task.is_terminal and [u.task for u in updates] == [task]
    assert otel.spans() == []


async def test_telemetry_false_records_nothing(otel: Otel) -> None:
    async with Sandbox(seed=3) as sb, bridge_for(sb, otel, telemetry=False) as bridge:
        await bridge.get("cakewalk", sb.ids("cakewalk")[0])
    assert otel.spans() == []
    assert otel.metrics() == {}


def test_telemetry_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError):
        TaskBridge(telemetry="no")  # type: ignore[arg-type]


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


BLOCK_OTEL = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block())
"""


def test_without_opentelemetry_nothing_is_imported_and_the_bridge_works() -> None:
    out = run_python(
        BLOCK_OTEL
        + """
import asyncio
from taskbridge import TaskBridge, ConfigurationError
from taskbridge.sandbox import Sandbox
async def main():
    async with Sandbox(seed=1) as sb, TaskBridge(alumio=sb.alumio_config()) as bridge:
        await bridge.get("alumio", sb.ids("alumio")[0])
    try:
        TaskBridge(alumio=sb.alumio_config(), tracer_provider=object())
    except ConfigurationError:
        print("refused", end=" ")
asyncio.run(main())
print(sorted(m for m in sys.modules if "opentelemetry" in m or m == "taskbridge.otel"))
"""
    )
    assert out == "refused []"


@pytest.mark.parametrize("telemetry", [True, False])
def test_a_bridge_imports_nothing_of_opentelemetry_the_application_does_not_use(
    telemetry: bool,
) -> None:
    out = run_python(
        f"""
import asyncio, sys
from taskbridge import TaskBridge
from taskbridge.sandbox import Sandbox
async def main():
    async with Sandbox(seed=1) as sb:
        async with TaskBridge(alumio=sb.alumio_config(), telemetry={telemetry}) as bridge:
            await bridge.get("alumio", sb.ids("alumio")[0])
asyncio.run(main())
print([m for m in sys.modules if "opentelemetry" in m or m == "taskbridge.otel"])
"""
    )
    assert out == "[]"


def test_the_global_providers_are_used_once_the_application_sets_an_sdk() -> None:
    out = run_python(
        """
import asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from taskbridge import TaskBridge
from taskbridge.sandbox import Sandbox
async def main():
    async with Sandbox(seed=1) as sb:
        async with TaskBridge(alumio=sb.alumio_config()) as bridge:
            await bridge.get("alumio", sb.ids("alumio")[0])  # no SDK yet: nothing recorded
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        async with TaskBridge(alumio=sb.alumio_config()) as bridge:
            await bridge.get("alumio", sb.ids("alumio")[0])
    print(sorted(s.name for s in exporter.get_finished_spans()))
asyncio.run(main())
"""
    )
    assert out == "['GET', 'taskbridge.get']"


async def test_a_broken_exporter_never_fails_a_fetch(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(InMemorySpanExporter):
        def export(self, spans: Any) -> Any:
            raise RuntimeError("collector down")

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Broken()))
    try:
        async with Sandbox(seed=3) as sb:
            bridge = TaskBridge(alumio=sb.alumio_config(), tracer_provider=tracer_provider)
            async with bridge:
                results = await bridge.get_many([("alumio", i) for i in sb.ids("alumio")[:3]])
    finally:
        tracer_provider.shutdown()
    assert all(r.ok for r in results)
    assert any("collector down" in r.getMessage() or r.exc_info for r in caplog.records)
