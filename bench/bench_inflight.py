"""Latency-bound throughput: does a batch keep ``max_concurrency`` requests in flight?

The sandbox answers every request after ``--latency`` seconds, so a client bound only
by latency completes ``max_concurrency / latency`` requests per second per provider
(no rate limit is set, so that is the ideal). Each run fetches N = rounds x C refs per
provider, both providers at once (interleaved), with:

- ``aiohttp``: the floor, hand-written: one ``ClientSession`` (one connector of 2C
  connections), a semaphore of C per provider, ``orjson.loads`` of each body;
- ``get_many`` and ``stream``: taskbridge, a new bridge per run (so each batch opens its
  connections, as a real one does).

The contenders alternate run by run, ``--repeat`` times, against one sandbox per
latency (a subprocess), warmed first (its on-demand bodies are built on first use: a
cold sandbox spends ~100 us more per request on the first 2,048 ids). Every HTTP attempt
is counted in flight from just before it is sent to just after it is decoded. Reported
per latency, C and contender (both providers together): requests per second per
provider against the ideal C / latency (median of the runs, and the range), the
time-weighted mean in flight against C, and the mean time one request is in flight
(Little's law: mean in flight / rate), which is the latency plus what the client and
the server add. ``bench/profile_inflight.py`` splits that added time into its parts.

Run from the repo root::

    .venv/bin/python bench/bench_inflight.py                       # 50 and 200 ms, C=16,64
    .venv/bin/python bench/bench_inflight.py --latency 0.05 --concurrency 64 --repeat 5
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
import aiohttp
import orjson
from bench_throughput import headers_for, ids_for, url_for

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge
from taskbridge._engine import engine as bridge_module

PROVIDERS = ("cakewalk", "alumio")
CONTENDERS = ("aiohttp", "get_many", "stream")


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

    def summary(self, provider: str) -> tuple[float, float]:
        """(time-weighted mean in flight, span in seconds from first start to last end)."""
        events = self.events[provider]
        start, end = events[0][0], events[-1][0]
        area = sum(n * (t1 - t0) for (t0, n), (t1, _) in itertools.pairwise(events))
        return area / (end - start), end - start


def refs_for(n: int) -> list[tuple[str, str]]:
    return [
        (p, i)
        for pair in zip(ids_for("cakewalk", 0, n), ids_for("alumio", 0, n), strict=True)
        for p, i in zip(PROVIDERS, pair, strict=True)
    ]


async def run_aiohttp(base: dict[str, str], c: int, n: int, counter: InFlight) -> None:
    """The floor: what a hand-written aiohttp client keeps in flight."""
    limits = {p: asyncio.Semaphore(c) for p in PROVIDERS}
    headers = {p: headers_for(p) for p in PROVIDERS}
    connector = aiohttp.TCPConnector(limit=2 * c, ttl_dns_cache=300)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def one(provider: str, task_id: str) -> object:
            async with limits[provider]:
                counter.change(provider, +1)
                try:
                    async with session.get(
                        url_for(base[provider], provider, task_id), headers=headers[provider]
                    ) as r:
                        assert r.status == 200, r.status
                        return orjson.loads(await r.read())
                finally:
                    counter.change(provider, -1)

        results = await asyncio.gather(*(one(p, i) for p, i in refs_for(n)))
        assert len(results) == 2 * n


async def run_taskbridge(
    base: dict[str, str], mode: str, c: int, n: int, counter: InFlight, *, rpm: float | None
) -> None:
    saved = bridge_module.attempt
    bridge_module.attempt = counter.wrap(saved)  # type: ignore[assignment]
    cakewalk = CakewalkConfig(
        _common.API_KEY,
        _common.API_SECRET,
        base_url=base["cakewalk"],
        requests_per_minute=rpm,
        max_concurrency=c,
    )
    alumio = AlumioConfig(base["alumio"], _common.TOKEN, max_concurrency=c, requests_per_minute=rpm)
    refs = refs_for(n)
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


def ideal_rate(n: int, c: int, latency: float, rpm: float | None) -> float:
    """Requests per second per provider of a perfect client: C / latency, or, when the
    rate limit binds, what the limiter admits (``rpm / 60`` a second after a burst of one
    second's worth, as `RateLimiter` documents; runs stay under its 60-second window)."""
    if rpm is None:
        return c / latency
    rate = rpm / 60
    seconds = max(n / (c / latency), max(n - rate, 0.0) / rate + latency)
    return n / seconds


def run(base: dict[str, str], mode: str, c: int, n: int, rpm: float | None = None) -> InFlight:
    counter = InFlight()
    if mode == "aiohttp":
        asyncio.run(run_aiohttp(base, c, n, counter))
    else:
        asyncio.run(run_taskbridge(base, mode, c, n, counter, rpm=rpm))
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", default="0.05,0.2", help="seconds, comma list")
    parser.add_argument("--concurrency", default="16,64", help="max_concurrency, comma list")
    parser.add_argument("--rounds", type=int, default=30, help="N = rounds x C per provider")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each contender")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument(
        "--rpm",
        type=float,
        default=None,
        help="requests_per_minute of each provider (taskbridge only; the ideal becomes what "
        "the limiter admits when lower, see ideal_rate); the aiohttp floor is left out",
    )
    parser.add_argument(
        "--sandboxes",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: one sandbox process per provider (as two real services would be)",
    )
    args = parser.parse_args()
    _common.print_machine("in flight under latency")
    latencies = [float(x) for x in args.latency.split(",")]
    bounds = [int(x) for x in args.concurrency.split(",")]
    contenders = args.contenders.split(",")
    if args.rpm is not None:
        contenders = [m for m in contenders if m != "aiohttp"]
    print(
        f"N = {args.rounds} x C refs per provider, both providers at once; "
        f"{args.repeat} runs of each contender, alternating; "
        f"{args.sandboxes} sandbox process(es); requests_per_minute {args.rpm}\n",
        flush=True,
    )
    rows = []
    for latency in latencies:
        with contextlib.ExitStack() as stack:
            urls = [
                stack.enter_context(_common.sandbox("--latency", str(latency)))
                for _ in range(args.sandboxes)
            ]
            base = {p: urls[i % len(urls)] for i, p in enumerate(PROVIDERS)}
            # Warm the sandbox: its on-demand bodies are built on first use.
            run(base, "aiohttp", max(bounds), max(args.rounds * max(bounds), 2048))
            for c in bounds:
                n = args.rounds * c
                ideal = ideal_rate(n, c, latency, args.rpm)
                rates: dict[str, list[float]] = {m: [] for m in contenders}
                means: dict[str, list[float]] = {m: [] for m in contenders}
                for _, order in _common.alternate(contenders, args.repeat):
                    for mode in order:
                        counter = run(base, mode, c, n, args.rpm)
                        for provider in PROVIDERS:
                            mean, span = counter.summary(provider)
                            rates[mode].append(n / span)
                            means[mode].append(mean)
                for mode in contenders:
                    rate = _common.median(rates[mode])
                    mean = _common.median(means[mode])
                    rows.append(
                        [
                            f"{latency * 1000:.0f}",
                            c,
                            mode,
                            f"{ideal:,.0f}",
                            f"{rate:,.0f}",
                            f"{rate / ideal:.1%}",
                            f"{min(rates[mode]) / ideal:.1%}-{max(rates[mode]) / ideal:.1%}",
                            f"{mean / c:.1%}",
                            f"{mean / rate * 1000:.1f}",
                        ]
                    )
                print(f"latency {latency * 1000:.0f} ms, C={c}: done", flush=True)
    print()
    headers = ["latency ms", "C", "contender", "ideal req/s", "req/s", "of ideal"]
    headers += ["range", "mean in flight / C", "ms per request (Little)"]
    _common.print_table(headers, rows)


if __name__ == "__main__":
    main()
