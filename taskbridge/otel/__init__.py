"""OpenTelemetry for taskbridge: spans and metrics built on its event hooks.

``pip install "aiotaskbridge[otel]"`` (``opentelemetry-api``; the SDK is the
application's choice). A `TaskBridge` uses it by itself: OpenTelemetry's global
providers by default (no-op until the application configures an SDK), or the ones
passed as ``TaskBridge(tracer_provider=..., meter_provider=...)``;
``TaskBridge(telemetry=False)`` turns it off. The core of taskbridge never imports
this package unless OpenTelemetry is installed and telemetry is on.

Spans: one per logical call (``taskbridge.get``, ``taskbridge.get_many``,
``taskbridge.stream``, ``taskbridge.wait``, ``taskbridge.watch``), and under it one
CLIENT span named ``GET`` per HTTP attempt. Metrics: ``http.client.request.duration``
and taskbridge's own (see `taskbridge.otel.names`). Every name is listed in the
Observability guide.
"""

from __future__ import annotations

from .names import ATTRIBUTES, EVENTS, METRICS, SPANS
from .telemetry import Telemetry

__all__ = ["ATTRIBUTES", "EVENTS", "METRICS", "SPANS", "Telemetry"]
