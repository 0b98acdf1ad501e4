"""Every span, event, attribute and metric name taskbridge's telemetry uses."""

from __future__ import annotations

__all__ = ["ATTRIBUTES", "EVENTS", "METRICS", "SPANS"]

#: Span names: the logical calls (INTERNAL) and each HTTP attempt (CLIENT, ``GET``).
SPANS = (
    "taskbridge.get",
    "taskbridge.get_many",
    "taskbridge.stream",
    "taskbridge.wait",
    "taskbridge.watch",
    "GET",
)

#: Span events (on the call's span).
EVENTS = (
    "taskbridge.queue_wait",  # waited for a slot / a pause / the rate limiter
    "taskbridge.retry",  # an attempt failed and will be tried again
    "taskbridge.rate_limit_pause",  # a 429 paused the provider (with its Retry-After)
    "taskbridge.status_change",  # wait/watch: a task's status changed
    "taskbridge.watch_error",  # watch: a ref left on a fatal error
    "exception",  # the call failed: exception.type and exception.message
)

#: Attribute names, semantic conventions first.
ATTRIBUTES = (
    "http.request.method",
    "server.address",
    "server.port",
    "url.full",
    "http.response.status_code",
    "error.type",
    "exception.type",
    "exception.message",
    "taskbridge.provider",
    "taskbridge.task_id",
    "taskbridge.attempt",
    "taskbridge.attempts",
    "taskbridge.status",
    "taskbridge.provider_status",
    "taskbridge.previous_provider_status",
    "taskbridge.refs",
    "taskbridge.succeeded",
    "taskbridge.failed",
    "taskbridge.updates",
    "taskbridge.delay",
    "taskbridge.pause",
    "taskbridge.retry_after",
    "taskbridge.queue.wait",
    "taskbridge.rate_limit.wait",
    "taskbridge.outcome",
)

#: Metric names: (name, kind, unit).
METRICS = (
    ("http.client.request.duration", "histogram", "s"),
    ("taskbridge.client.attempts", "counter", "{attempt}"),
    ("taskbridge.client.retries", "counter", "{retry}"),
    ("taskbridge.client.rate_limit.pauses", "counter", "{pause}"),
    ("taskbridge.client.queue.wait", "histogram", "s"),
    ("taskbridge.client.rate_limit.wait", "histogram", "s"),
    ("taskbridge.client.in_flight", "observable gauge", "{request}"),
    ("taskbridge.client.queued", "observable gauge", "{request}"),
)
