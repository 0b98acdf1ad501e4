"""What observability costs: client CPU per request, side by side in one run.

Contenders (same N Cakewalk ids from the sandbox subprocess, alternated over rounds):

- ``telemetry=False``: no hooks at all, the baseline;
- ``api, no SDK``: ``opentelemetry-api`` installed, telemetry left on, no SDK configured
  (the global providers are no-ops): what every user with the API installed pays;
- ``one no-op hook``: ``hooks=[EventHooks()]``, telemetry off: the hook machinery alone;
- ``SDK, batch spans``: the OpenTelemetry SDK with a ``BatchSpanProcessor`` (an exporter
  that drops the batches) and an in-memory metric reader: spans and metrics recorded.

Reported: client CPU µs per request (``time.process_time``, the export thread included),
median over rounds, for ``get_many`` (one call span per batch) and for sequential
``get`` (one call span per request), and the ratio to ``telemetry=False``.

    .venv/bin/python bench/bench_telemetry.py [--n 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Any

from _common import (
    API_KEY,
    API_SECRET,
    alternate,
    cakewalk_id,
    median,
    print_machine,
    print_table,
    ratio,
    sandbox,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from taskbridge import CakewalkConfig, EventHooks, RetryPolicy, TaskBridge


class DropExporter(SpanExporter):
    """Takes each batch and drops it (the cost up to the wire, not a collector's)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def sdk_options() -> tuple[dict[str, Any], list[Any]]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DropExporter()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"tracer_provider": tracer_provider, "meter_provider": meter_provider}, [
        tracer_provider,
        meter_provider,
    ]


CONTENDERS = ["telemetry=False", "api, no SDK", "one no-op hook", "SDK, batch spans"]


def options_for(name: str) -> tuple[dict[str, Any], list[Any]]:
    if name == "telemetry=False":
        return {"telemetry": False}, []
    if name == "api, no SDK":
        return {}, []
    if name == "one no-op hook":
        return {"telemetry": False, "hooks": [EventHooks()]}, []
    return sdk_options()


async def run(url: str, name: str, ids: list[str], mode: str, concurrency: int) -> float:
    """Client CPU µs per request for one contender's pass over ``ids``."""
    options, providers = options_for(name)
    config = CakewalkConfig(
        API_KEY,
        API_SECRET,
        base_url=url,
        requests_per_minute=None,
        max_concurrency=concurrency,
    )
    async with TaskBridge(cakewalk=config, retry=RetryPolicy(max_attempts=1), **options) as b:
        await b.get_many([("cakewalk", i) for i in ids[:50]])  # warm the connections
        gc.collect()
        started = time.process_time()
        if mode == "get_many":
            results = await b.get_many([("cakewalk", i) for i in ids])
            assert all(r.ok for r in results)
        else:
            for task_id in ids:
                await b.get("cakewalk", task_id)
        cpu = time.process_time() - started
    for provider in providers:
        provider.shutdown()  # flushes the batch processor (its CPU counted above only in part)
    return cpu / len(ids) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print_machine("bench_telemetry")
    ids = [cakewalk_id(i) for i in range(args.n)]
    with sandbox() as url:
        for mode in ("get_many", "get"):
            n = args.n if mode == "get_many" else max(200, args.n // 4)
            seen: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for _, order in alternate(CONTENDERS, args.rounds):
                for name in order:
                    seen[name].append(await run(url, name, ids[:n], mode, args.concurrency))
            base = median(seen["telemetry=False"])
            rows = [
                [name, f"{median(v):.1f}", f"{min(v):.1f}", f"{ratio(median(v), base):.3f}"]
                for name, v in seen.items()
            ]
            print(f"\n{mode}: N={n}, C={args.concurrency}, {args.rounds} rounds")
            print_table(["contender", "µs/req (median)", "best", "vs telemetry=False"], rows)


if __name__ == "__main__":
    asyncio.run(main())
