"""Latency-bound throughput: does a batch keep ``max_concurrency`` requests in flight?

The sandbox answers every request after ``--latency`` seconds (default 50 ms), so a
client bound only by latency completes ``max_concurrency / latency`` requests per second
per provider. This runs ``get_many`` and ``stream`` over N refs per provider (both
providers at once, interleaved) and records, per provider, how many requests are in
flight at every start and end of one (each HTTP attempt is counted from just before the
request is sent to just after its answer is decoded). Reported per provider: the
time-weighted mean in flight over the batch, the maximum, the share of the batch's time
spent at the bound, the achieved requests per second against the ideal, and the mean
time one request is in flight (Little's law: mean in flight / rate), which is the
latency plus what the client and the server add.

Run from the repo root::

    .venv/bin/python bench/bench_inflight.py                      # C=16,64, N=1000
    .venv/bin/python bench/bench_inflight.py --latency 0.05 --concurrency 64 --n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import _common
from bench_throughput import ids_for

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge
from taskbridge._engine import engine as bridge_module

PROVIDERS = ("cakewalk", "alumio")


class InFlight:
    """Counts the requests in flight per provider, with the time of every change."""

    def __init__(self) -> None:
        self.now: dict[str, int] = dict.fromkeys(PROVIDERS, 0)
        self.events: dict[str, list[tuple[float, int]]] = {p: [] for p in PROVIDERS}

    def change(self, provider: str, delta: int) -> None:
        self.now[provider] += delta
        self.events[provider].append((time.perf_counter(), self.now[provider]))

    def wrap(self, attempt: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(session: Any, adapter: Any, *args: Any, **kwargs: Any) -> Any:
            self.change(adapter.name, +1)
            try:
                return await attempt(session, adapter, *args, **kwargs)
            finally:
                self.change(adapter.name, -1)

        return counted

    def summary(self, provider: str, bound: int) -> tuple[float, int, float, float]:
        """(time-weighted mean, max, share of time at the bound, span in seconds)."""
        events = self.events[provider]
        start, end = events[0][0], events[-1][0]
        area = at_bound = 0.0
        for (t0, n), (t1, _) in itertools.pairwise(events):
            area += n * (t1 - t0)
            if n >= bound:
                at_bound += t1 - t0
        span = end - start
        return area / span, max(n for _, n in events), at_bound / span, span


async def run(base: str, mode: str, c: int, n: int) -> InFlight:
    counter = InFlight()
    saved = bridge_module.attempt
    bridge_module.attempt = counter.wrap(saved)  # type: ignore[assignment]
    cakewalk = CakewalkConfig(
        _common.API_KEY,
        _common.API_SECRET,
        base_url=base,
        requests_per_minute=None,
        max_concurrency=c,
    )
    alumio = AlumioConfig(base, _common.TOKEN, max_concurrency=c)
    refs = [
        (p, i)
        for pair in zip(ids_for("cakewalk", 0, n), ids_for("alumio", 0, n), strict=True)
        for p, i in zip(PROVIDERS, pair, strict=True)
    ]
    try:
        async with TaskBridge(cakewalk=cakewalk, alumio=alumio, timeout=60) as bridge:
            if mode == "get_many":
                results = await bridge.get_many(refs)
            else:
                results = []
                stream = _common.as_generator(bridge.stream(refs))
                async with contextlib.aclosing(stream) as items:
                    async for item in items:
                        results.append(item)
            bad = [r for r in results if not r.ok]
            assert not bad, f"{len(bad)} failures"
            assert len(results) == len(refs)
    finally:
        bridge_module.attempt = saved  # type: ignore[assignment]
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds (default 0.05)")
    parser.add_argument("--concurrency", default="16,64", help="max_concurrency, comma list")
    parser.add_argument("--n", type=int, default=1000, help="refs per provider (default 1000)")
    args = parser.parse_args()
    _common.print_machine("in flight under latency")
    rows = []
    with _common.sandbox("--latency", str(args.latency)) as base:
        for c in (int(x) for x in args.concurrency.split(",")):
            for mode in ("get_many", "stream"):
                counter = asyncio.run(run(base, mode, c, args.n))
                for provider in PROVIDERS:
                    mean, peak, share, span = counter.summary(provider, c)
                    ideal = c / args.latency
                    rows.append(
                        [
                            mode,
                            provider,
                            c,
                            f"{mean:.1f}",
                            f"{mean / c:.1%}",
                            peak,
                            f"{share:.1%}",
                            args.n / span,
                            f"{args.n / span / ideal:.1%}",
                            f"{mean / (args.n / span) * 1000:.1f}",
                        ]
                    )
    print(f"latency {args.latency * 1000:.0f} ms, {args.n} refs per provider, both at once\n")
    headers = ["mode", "provider", "bound", "mean in flight", "of bound", "max"]
    headers += ["time at bound", "req/s", "of bound/latency", "ms per request (Little)"]
    _common.print_table(headers, rows)


if __name__ == "__main__":
    main()
