"""Building a bridge's hooks (its own, OpenTelemetry's), and `get_with_response`'s."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .._base.errors import ConfigurationError
from .._base.models import UnifiedTask
from .._engine.hooks import (
    CallScope,
    EventHooks,
    HookSet,
    PauseEvent,
    QueueWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    hook_set,
)
from .._engine.stats import BridgeStats

__all__ = ["GlobalTelemetry", "ResponseRecorder", "TaskResponse", "build_hooks"]

_CHECK_EVERY = 1.0  # seconds between looks for an SDK set on OpenTelemetry's globals


def _otel_installed() -> bool:
    """Whether ``opentelemetry-api`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("opentelemetry") is not None
    except (ImportError, ValueError):
        return False


def build_hooks(
    hooks: object,
    telemetry: object,
    tracer_provider: object,
    meter_provider: object,
    stats: Callable[[], BridgeStats],
) -> HookSet | None:
    """The bridge's `HookSet`: the user's hooks, then OpenTelemetry's when enabled.

    Telemetry is on by default when ``opentelemetry-api`` is installed (OpenTelemetry's
    global providers, no-op until the application configures an SDK); without it, and
    with no provider given, nothing happens and nothing is imported.
    """
    if not isinstance(telemetry, bool):
        raise ConfigurationError("telemetry must be True or False")
    found = list(hook_set(hooks))
    if telemetry and (tracer_provider is not None or meter_provider is not None):
        try:
            from ..otel import Telemetry
        except ImportError as exc:
            raise ConfigurationError(
                'tracer_provider and meter_provider need pip install "aiotaskbridge[otel]"'
            ) from exc
        found.append(
            Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider, stats=stats)
        )
    elif telemetry and _otel_installed():
        found.append(GlobalTelemetry(stats))
    return HookSet(tuple(found)) if found else None


class GlobalTelemetry(EventHooks):
    """OpenTelemetry through the global providers, set up once the application sets one.

    Until the application has imported OpenTelemetry and set a provider, it imports
    nothing and is not enabled (so the engine builds no event for it).
    """

    def __init__(self, stats: Callable[[], BridgeStats]) -> None:
        self._stats = stats
        self._real: EventHooks | None = None
        self._next_check = 0.0

    def __repr__(self) -> str:
        return "<taskbridge GlobalTelemetry>"

    def enabled(self) -> bool:
        if self._real is not None:
            return True
        # Asking OpenTelemetry costs ~10 us: at most once a second (an SDK set after the
        # bridge's first request is seen within a second).
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + _CHECK_EVERY
        if "opentelemetry.trace" not in sys.modules and "opentelemetry.metrics" not in sys.modules:
            return False  # nobody can have set a provider
        from ..otel.telemetry import Telemetry, sdk_configured

        if not sdk_configured():
            return False
        self._real = Telemetry(stats=self._stats)
        return True

    def _hook(self) -> EventHooks:
        return self._real if self._real is not None else EventHooks()

    def request(self, event: RequestEvent) -> None:
        self._hook().request(event)

    def response(self, event: ResponseEvent) -> None:
        self._hook().response(event)

    def retry(self, event: RetryEvent) -> None:
        self._hook().retry(event)

    def rate_limit_pause(self, event: PauseEvent) -> None:
        self._hook().rate_limit_pause(event)

    def queue_wait(self, event: QueueWaitEvent) -> None:
        self._hook().queue_wait(event)

    def call(self, name: str, attributes: dict[str, Any]) -> CallScope | None:
        return self._hook().call(name, attributes)


@attrs.frozen
class TaskResponse:
    """A task together with the final answer it came from (`TaskBridge.get_with_response`).

    Attributes:
        task: the task.
        status: the HTTP status of the answer it was decoded from.
        headers: that answer's headers (read-only, case-insensitive; known secrets
            masked): a request id, the rate-limit headers, ...
        attempts: attempts made, retries included.
        elapsed: seconds from the first attempt's send to the end of the last one.
    """

    task: UnifiedTask[Any]
    status: int | None
    headers: CIMultiDictProxy[str] = attrs.field(repr=False)
    attempts: int
    elapsed: float


class ResponseRecorder(EventHooks):
    """Records one call's attempts, for `TaskResponse`."""

    def __init__(self) -> None:
        self.last: ResponseEvent | None = None
        self.attempts = 0
        self.elapsed = 0.0

    def response(self, event: ResponseEvent) -> None:
        self.last = event
        self.attempts += 1
        self.elapsed += event.elapsed

    def joined(self, hooks: HookSet | None) -> HookSet:
        """``hooks`` (a bridge's, or none) with this recorder last."""
        return HookSet((*(hooks.hooks if hooks else ()), self))

    def result(self, task: UnifiedTask[Any]) -> TaskResponse:
        last = self.last
        if last is None:  # joined an identical request in flight: no answer of its own
            return TaskResponse(task, None, CIMultiDictProxy(CIMultiDict()), 0, 0.0)
        return TaskResponse(task, last.status, last.headers, self.attempts, self.elapsed)
