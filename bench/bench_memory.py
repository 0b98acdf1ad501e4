"""Memory: peak RSS of ``bridge.stream`` over a generator of N refs, each N in a fresh process.

The parent starts the sandbox (separate process, ``--any-id``) and, for each N, a child
interpreter that streams N distinct refs (Cakewalk and Alumio alternating, default
limits, ``requests_per_minute=None``) from a generator, counting results without
keeping them. The child reports ``ru_maxrss`` (peak RSS of its whole life, imports
included), the RSS before streaming, and psutil samples every 50 ms (peak, and RSS at
each tenth of the run, to show it stays flat).

Targets: peak RSS at 1,000,000 refs < 150 MB, and within 15 MB of the peak at 10,000.

Run from the repo root::

    .venv/bin/python bench/bench_memory.py                       # N = 10,000 and 1,000,000
    .venv/bin/python bench/bench_memory.py --sizes 10000,100000  # quicker (1M: ~4 min here)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import _common

MB = 1024 * 1024
TARGET_PEAK_MB = 150.0
TARGET_DELTA_MB = 15.0


def refs(n: int, providers: list[str]) -> Iterator[tuple[str, str]]:
    """N distinct refs, generated lazily: nothing of the input is held."""
    for i in range(n):
        provider = providers[i % len(providers)]
        yield provider, (_common.cakewalk_id(i) if provider == "cakewalk" else f"mem-{i}")


class Sampler(threading.Thread):
    """Samples this process's RSS every ``interval`` seconds; keeps the peak."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._done = threading.Event()
        self.peak = 0

    def rss(self) -> int:
        value: int = self._proc.memory_info().rss
        self.peak = max(self.peak, value)
        return value

    def run(self) -> None:
        while not self._done.wait(self._interval):
            self.rss()

    def stop(self) -> None:
        self._done.set()
        self.join()


async def child(url: str, n: int, providers: list[str]) -> dict[str, object]:
    from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge

    sampler = Sampler()
    cakewalk = CakewalkConfig(
        _common.API_KEY, _common.API_SECRET, base_url=url, requests_per_minute=None
    )
    bridge = TaskBridge(cakewalk=cakewalk, alumio=AlumioConfig(url, _common.TOKEN))
    ok = failed = 0
    checkpoints: list[float] = []
    step = max(1, n // 10)
    async with bridge:
        before = sampler.rss()
        sampler.start()
        started = time.perf_counter()
        async with contextlib.aclosing(
            _common.as_generator(bridge.stream(refs(n, providers)))
        ) as results:
            async for result in results:
                if result.ok:
                    ok += 1
                else:
                    failed += 1
                if (ok + failed) % step == 0:
                    checkpoints.append(round(sampler.rss() / MB, 1))
        elapsed = time.perf_counter() - started
    sampler.stop()
    return {
        "n": n,
        "ok": ok,
        "failed": failed,
        "seconds": round(elapsed, 1),
        "req_per_s": round(n / elapsed),
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_sampled_mb": round(sampler.peak / MB, 1),
        # Linux reports ru_maxrss in kilobytes.
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_at_each_tenth_mb": checkpoints,
    }


def run_child(url: str, n: int, providers: str) -> dict[str, object]:
    cmd = [sys.executable, str(Path(__file__)), "--child", url, "--sizes", str(n)]
    cmd += ["--providers", providers]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"child for N={n} failed:\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma list of N")
    parser.add_argument("--providers", default="cakewalk,alumio", help="refs alternate these")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    providers = [p.strip() for p in args.providers.split(",")]
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, sizes[0], providers))))
        return
    _common.print_machine("memory")
    results = []
    with _common.sandbox() as url:
        print(f"sandbox (separate process): {url}; providers {providers}\n")
        for n in sizes:
            result = run_child(url, n, args.providers)
            print(json.dumps(result), flush=True)
            results.append(result)
    print()
    rows = [
        [
            f"{r['n']:,}",
            f"{r['ok']:,}",
            r["seconds"],
            r["req_per_s"],
            r["rss_before_mb"],
            r["rss_peak_sampled_mb"],
            r["ru_maxrss_mb"],
        ]
        for r in results
    ]
    headers = ["N", "ok", "s", "req/s", "RSS before MB", "peak sampled MB", "ru_maxrss MB"]
    _common.print_table(headers, rows)
    small, large = results[0], results[-1]
    peak = float(large["ru_maxrss_mb"])  # type: ignore[arg-type]
    delta = peak - float(small["ru_maxrss_mb"])  # type: ignore[arg-type]
    verdict = "PASS" if peak < TARGET_PEAK_MB and delta <= TARGET_DELTA_MB else "MISS"
    print(
        f"\n  N={large['n']:,}: peak {peak:.1f} MB (target < {TARGET_PEAK_MB:.0f}); "
        f"{delta:+.1f} MB vs N={small['n']:,} (target <= {TARGET_DELTA_MB:.0f}) -> {verdict}"
    )


if __name__ == "__main__":
    main()
