"""`Telemetry`: the event hooks that turn each call and attempt into spans and metrics."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._engine.hooks import (
    EventHooks,
    PauseEvent,
    QueueWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
)
from .._engine.stats import BridgeStats
from .._version import __version__

__all__ = ["Telemetry", "sdk_configured"]

_SCOPE = "taskbridge"
# What metrics.get_meter_provider() returns before the application sets one.
_DEFAULT_METER_PROVIDERS = frozenset({"_ProxyMeterProvider", "NoOpMeterProvider"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Attempts of http.client.request.duration: OpenTelemetry's advised bucket boundaries.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


def error_type(error: BaseException | None, status: int | None) -> str | None:
    """``error.type`` as the HTTP semantic conventions want it: the status code of an
    error answer, else the error's class name."""
    if error is None:
        return None
    if status is not None and status >= 400:
        return str(status)
    return type(error).__name__


class _Gauges:
    """The in-flight and queued gauges of one meter, over every live bridge using it
    (an instrument is registered once per meter; a second one's callbacks are dropped)."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.sources: weakref.WeakSet[Telemetry] = weakref.WeakSet()
        meter.create_observable_gauge(
            "taskbridge.client.in_flight",
            callbacks=[self._in_flight],
            unit="{request}",
            description="Attempts sent and not answered yet, per provider.",
        )
        meter.create_observable_gauge(
            "taskbridge.client.queued",
            callbacks=[self._queued],
            unit="{request}",
            description="Requests waiting for a slot, a pause or the rate limiter.",
        )

    def _read(self, field: str) -> Iterator[Observation]:
        totals: dict[str, int] = {}
        for source in list(self.sources):
            snapshot = source.snapshot()
            if snapshot is None:
                continue
            for name, stats in snapshot.providers.items():
                totals[name] = totals.get(name, 0) + getattr(stats, field)
        for name, value in totals.items():
            yield Observation(value, {"taskbridge.provider": name})

    def _in_flight(self, options: CallbackOptions) -> Iterable[Observation]:
        return list(self._read("in_flight"))

    def _queued(self, options: CallbackOptions) -> Iterable[Observation]:
        return list(self._read("queued"))


# One _Gauges per meter (a cache, like OpenTelemetry's own meter registry).
_GAUGES: weakref.WeakKeyDictionary[Any, _Gauges] = weakref.WeakKeyDictionary()


class _CallSpan:
    """A logical call's span (a `CallScope`)."""

    __slots__ = ("context", "span")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.context = trace.set_span_in_context(span)

    @contextlib.contextmanager
    def activate(self) -> Iterator[object]:
        token = otel_context.attach(self.context)
        try:
            yield self.span
        finally:
            otel_context.detach(token)

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        self.span.add_event(name, attributes)

    def end(self, error: BaseException | None, attributes: dict[str, Any]) -> None:
        span = self.span
        if attributes:
            span.set_attributes(attributes)
        if error is not None:
            kind = type(error).__name__
            span.set_attribute("error.type", kind)
            # Not record_exception: no traceback text; the message holds no secret.
            span.add_event("exception", {"exception.type": kind, "exception.message": str(error)})
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class Telemetry(EventHooks):
    """Spans and metrics for one bridge (installed by `TaskBridge` itself).

    Args:
        tracer_provider: where spans go; ``None``: OpenTelemetry's global provider.
        meter_provider: where metrics go; ``None``: OpenTelemetry's global provider.
        stats: the bridge's ``stats`` (read by the in-flight and queued gauges).
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        stats: Callable[[], BridgeStats] | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (each attempt).",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        self._attempts = meter.create_counter(
            "taskbridge.client.attempts",
            unit="{attempt}",
            description="HTTP attempts, by provider and outcome.",
        )
        self._retries = meter.create_counter(
            "taskbridge.client.retries",
            unit="{retry}",
            description="Failed attempts scheduled again, by provider and error.type.",
        )
        self._pauses = meter.create_counter(
            "taskbridge.client.rate_limit.pauses",
            unit="{pause}",
            description="429 answers that paused a provider.",
        )
        self._queue_wait = meter.create_histogram(
            "taskbridge.client.queue.wait",
            unit="s",
            description="Time a request waited to be admitted (slot, pause, rate limiter).",
        )
        self._rate_wait = meter.create_histogram(
            "taskbridge.client.rate_limit.wait",
            unit="s",
            description="Of the queue wait, the time spent on pauses and the rate limiter.",
        )
        self._stats: Callable[[], BridgeStats | None] | None = None
        if stats is not None:
            self._stats = _weak(stats)
            gauges = _GAUGES.get(meter)
            if gauges is None:
                gauges = _GAUGES[meter] = _Gauges(meter)
            gauges.sources.add(self)
        # With the global providers, nothing is recorded until an SDK is set: until
        # then the bridge builds no event for this hook (`enabled`).
        self._on = tracer_provider is not None or meter_provider is not None
        self._spans: dict[RequestEvent, tuple[trace.Span, dict[str, Any]]] = {}
        self._servers: dict[str, tuple[str, int]] = {}

    def __repr__(self) -> str:
        return "<taskbridge Telemetry>"

    def enabled(self) -> bool:
        """False while OpenTelemetry's global providers are still the API's defaults."""
        if not self._on:
            self._on = sdk_configured()  # a global provider, once set, is never unset
        return self._on

    def snapshot(self) -> BridgeStats | None:
        """The bridge's statistics, or ``None`` once it is gone."""
        return self._stats() if self._stats is not None else None

    # Calls.

    def call(self, name: str, attributes: dict[str, Any]) -> _CallSpan:
        return _CallSpan(
            self._tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        )

    # Attempts.

    def _server(self, provider: str, url: str) -> tuple[str, int]:
        server = self._servers.get(provider)
        if server is None:
            parts = urlsplit(url)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
            server = self._servers[provider] = (parts.hostname or "", port)
        return server

    def request(self, event: RequestEvent) -> None:
        host, port = self._server(event.provider, event.url)
        base: dict[str, Any] = {
            "http.request.method": "GET",
            "server.address": host,
            "server.port": port,
            "taskbridge.provider": event.provider,
        }
        span = self._tracer.start_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={**base, "url.full": event.url, "taskbridge.attempt": event.attempt},
        )
        if span.get_span_context().is_valid:
            propagate.inject(event.headers, context=trace.set_span_in_context(span))
        self._spans[event] = (span, base)

    def response(self, event: ResponseEvent) -> None:
        span, base = self._spans.pop(event.request, (None, None))
        if span is None or base is None:
            return
        status = event.status
        kind = error_type(event.error, status)
        attributes = dict(base)
        if status is not None:
            attributes["http.response.status_code"] = status
            span.set_attribute("http.response.status_code", status)
        if kind is not None:
            attributes["error.type"] = kind
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        self._duration.record(event.elapsed, attributes)
        self._attempts.add(
            1,
            {
                "taskbridge.provider": base["taskbridge.provider"],
                "taskbridge.outcome": kind or "ok",
            },
        )

    def retry(self, event: RetryEvent) -> None:
        kind = error_type(event.error, getattr(event.error, "status", None)) or "unknown"
        self._retries.add(1, {"taskbridge.provider": event.provider, "error.type": kind})
        trace.get_current_span().add_event(
            "taskbridge.retry",
            {
                "taskbridge.provider": event.provider,
                "taskbridge.attempt": event.attempt,
                "taskbridge.delay": event.delay,
                "error.type": kind,
            },
        )

    def rate_limit_pause(self, event: PauseEvent) -> None:
        self._pauses.add(1, {"taskbridge.provider": event.provider})
        attributes: dict[str, Any] = {
            "taskbridge.provider": event.provider,
            "taskbridge.pause": event.seconds,
        }
        if event.retry_after is not None:
            attributes["taskbridge.retry_after"] = event.retry_after
        trace.get_current_span().add_event("taskbridge.rate_limit_pause", attributes)

    def queue_wait(self, event: QueueWaitEvent) -> None:
        provider: dict[str, Any] = {"taskbridge.provider": event.provider}
        self._queue_wait.record(event.waited, provider)
        self._rate_wait.record(event.rate_limit_wait, provider)
        attributes: dict[str, Any] = {
            **provider,
            "taskbridge.queue.wait": event.waited,
            "taskbridge.rate_limit.wait": event.rate_limit_wait,
        }
        if event.error is not None:
            attributes["error.type"] = type(event.error).__name__
        trace.get_current_span().add_event("taskbridge.queue_wait", attributes)


def sdk_configured() -> bool:
    """Whether the application has set a global tracer or meter provider."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider) or (
        type(metrics.get_meter_provider()).__name__ not in _DEFAULT_METER_PROVIDERS
    )


def _weak(method: Callable[[], BridgeStats]) -> Callable[[], BridgeStats | None]:
    """``method`` (a bound method) without keeping its object alive."""
    ref = weakref.WeakMethod(method)

    def call() -> BridgeStats | None:
        bound = ref()
        return bound() if bound is not None else None

    return call
