"""Watching many tasks inside one rate budget: `bridge.watch` against a rate-limited sandbox.

The sandbox runs in-process (its handlers cost little at these rates) with a lifecycle:
each task goes Pending -> InProgress -> Approved/Declined, each stage lasting ``step``
seconds give or take half. It also enforces ``R`` requests/min itself (a sliding 60-s
window answering 429), and the bridge is configured with the same
``requests_per_minute``. Every request the sandbox admits is recorded (time, id).

Scenarios (R = 600/min = 10/s unless ``--rpm``):

- ``below``: N refs whose wanted poll rate ``N / poll_interval`` is under R. Detection
  delay should be about the poll interval (uniform in [0, interval], plus latency).
- ``saturated``: N refs wanting far more than R (fixed 1-s interval). The budget must be
  fully used (achieved >= 95% of R while refs remain) and shared earliest-due first, so
  each ref is polled every N/R s and the detection delay is uniform in [0, N/R]: mean
  N/(2R), max N/R.
- ``memory``: 100,000 refs watched at R for a few seconds; peak RSS (``ru_maxrss``) and
  RSS after subscribing, against the same run with 10,000 refs.

Reported per scenario: polls, achieved/allowed poll rate while the wanted rate stayed
above R, 429 answers, polls after a ref's terminal update (must be 0), and the detection
delay (status change in the sandbox -> update yielded) as mean / p50 / p95 / max.

Run from the repo root::

    .venv/bin/python bench/bench_watch.py                       # all three, about 1 minute
    .venv/bin/python bench/bench_watch.py --only saturated --n 200 --step 20
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import _common

from taskbridge import CakewalkConfig, TaskBridge
from taskbridge.sandbox import Faults, Lifecycle, Sandbox


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run_watch(
    n: int, rpm: int, *, poll: float, max_poll: float, step: float, cap: float
) -> dict[str, Any]:
    sb = Sandbox(
        seed=1,
        tasks_per_provider=0,
        any_id=True,
        track_requests=False,
        lifecycle=Lifecycle(step=step),
        faults=Faults(rate_limit_per_minute=rpm),
    )
    polls: list[tuple[float, str]] = []
    limited = 0
    draw = sb.state.draw

    def recording(provider: str, task_id: str) -> Any:
        nonlocal limited
        decision, wait = draw(provider, task_id)
        if wait is None:
            polls.append((time.monotonic(), task_id))
        else:
            limited += 1
        return decision, wait

    sb.state.draw = recording  # type: ignore[method-assign]
    ids = [_common.cakewalk_id(i) for i in range(n)]
    updates: list[tuple[float, Any]] = []
    left_at: dict[str, float] = {}
    remaining = n
    saturated_until: float | None = None
    wanted_rate = rpm / 60
    async with sb:
        config = CakewalkConfig(
            _common.API_KEY,
            _common.API_SECRET,
            base_url=sb.url,
            requests_per_minute=rpm,
            poll_interval=poll,
            max_poll_interval=max_poll,
        )
        async with TaskBridge(cakewalk=config) as bridge:
            start = time.monotonic()
            async with bridge.watch(("cakewalk", i) for i in ids) as watch:
                async for update in watch:
                    now = time.monotonic()
                    updates.append((now, update))
                    if update.task is not None and update.task.is_terminal:
                        left_at[update.ref.task_id] = now
                        remaining -= 1
                        if saturated_until is None and remaining / poll < wanted_rate:
                            saturated_until = now
                    if now - start > cap:
                        break
            end = time.monotonic()
        clock = sb.state.lifecycle_clock
        assert clock is not None
        delays = []
        for seen_at, update in updates:
            if update.previous is None or update.task is None:
                continue
            stages = sb.schedule("cakewalk", update.ref.task_id)
            at = next(t for t, s in stages if s == update.task.provider_status)
            changed = clock.clock_time(at)
            assert changed is not None
            delays.append(seen_at - changed)
    saturated_until = saturated_until or end
    first = polls[0][0] if polls else start
    in_window = [t for t, _ in polls if t <= saturated_until]
    window = saturated_until - first
    after_terminal = sum(1 for t, i in polls if i in left_at and t > left_at[i])
    return {
        "n": n,
        "seconds": end - start,
        "polls": len(polls),
        "limited": limited,
        "window": window,
        "achieved": len(in_window) / window / wanted_rate if window > 0 else float("nan"),
        "achieved_after_1s": (
            sum(1 for t in in_window if t > first + 1) / (window - 1) / wanted_rate
            if window > 1
            else float("nan")
        ),
        "after_terminal": after_terminal,
        "finished": len(left_at),
        "changes": len(delays),
        "mean": statistics.fmean(delays) if delays else float("nan"),
        "p50": pct(delays, 0.5),
        "p95": pct(delays, 0.95),
        "max": max(delays) if delays else float("nan"),
    }


async def run_memory(n: int, rpm: int | None, seconds: float) -> dict[str, Any]:
    """Watch ``n`` refs for ``seconds`` (rpm set) or until each was seen once (rpm None)."""
    gc.collect()
    before = rss_mb()
    sb = Sandbox(
        seed=1,
        tasks_per_provider=0,
        any_id=True,
        track_requests=False,
        lifecycle=Lifecycle(step=3600.0),
    )
    ids = (_common.cakewalk_id(i) for i in range(n))
    async with sb:
        config = CakewalkConfig(
            _common.API_KEY,
            _common.API_SECRET,
            base_url=sb.url,
            requests_per_minute=rpm,
            # Without a rate limit, each ref is polled once in the run: every one keeps
            # its last task (the `previous` of a later update), the most memory it takes.
            poll_interval=1.0 if rpm else 3600.0,
            max_poll_interval=60.0 if rpm else 3600.0,
            max_concurrency=16 if rpm else 32,
        )
        async with TaskBridge(cakewalk=config) as bridge:
            started = time.monotonic()
            seen = 0
            after_subscribe = 0.0
            async with bridge.watch(("cakewalk", i) for i in ids) as watch:
                async for _ in watch:
                    if not seen:
                        after_subscribe = rss_mb()
                    seen += 1
                    if seen >= n or time.monotonic() - started > seconds:
                        break
                following = bridge._polling.following
            subscribe_and_run = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux
    return {
        "n": n,
        "rpm": rpm,
        "following": following,
        "updates": seen,
        "seconds": subscribe_and_run,
        "before": before,
        "subscribed": after_subscribe,
        "peak": peak,
    }


def memory_in_subprocess(n: int, rpm: int | None, seconds: float) -> dict[str, Any]:
    code = (
        "import asyncio, json, sys; sys.path.insert(0, 'bench'); import bench_watch as b; "
        f"print(json.dumps(asyncio.run(b.run_memory({n}, {rpm}, {seconds}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--only", default="below,saturated,memory")
    parser.add_argument("--n", type=int, default=0, help="refs for below/saturated")
    parser.add_argument("--step", type=float, default=0.0, help="lifecycle seconds per stage")
    parser.add_argument("--memory-n", type=int, default=100_000)
    parser.add_argument(
        "--memory-all",
        action="store_true",
        help="also watch --memory-n refs with no rate limit until each was seen once",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    _common.print_machine("bench_watch")
    rate = args.rpm / 60
    rows = []
    if "below" in only:
        n = args.n or max(1, int(rate * 0.8))
        r = asyncio.run(
            run_watch(n, args.rpm, poll=1.0, max_poll=1.0, step=args.step or 6.0, cap=40)
        )
        rows.append(("below (interval 1 s)", r, 1.0))
    if "saturated" in only:
        n = args.n or int(rate * 10)
        r = asyncio.run(
            run_watch(n, args.rpm, poll=1.0, max_poll=1.0, step=args.step or 10.0, cap=45)
        )
        rows.append(("saturated (interval 1 s)", r, n / rate))
    if rows:
        print(f"R = {args.rpm}/min ({rate:g}/s)")
        _common.print_table(
            [
                "scenario",
                "N",
                "s",
                "polls",
                "429",
                "achieved/R (window s)",
                "after 1st s",
                "polls after terminal",
                "changes",
                "delay mean / p50 / p95 / max (s)",
                "bound",
            ],
            [
                (
                    name,
                    r["n"],
                    f"{r['seconds']:.1f}",
                    r["polls"],
                    r["limited"],
                    f"{r['achieved']:.3f} ({r['window']:.1f})" if "sat" in name else "n/a",
                    f"{r['achieved_after_1s']:.3f}" if "sat" in name else "n/a",
                    r["after_terminal"],
                    r["changes"],
                    f"{r['mean']:.2f} / {r['p50']:.2f} / {r['p95']:.2f} / {r['max']:.2f}",
                    f"interval {bound:.1f}" if "below" in name else f"N/R {bound:.1f}",
                )
                for name, r, bound in rows
            ],
        )
    if "memory" in only:
        results = [
            memory_in_subprocess(size, args.rpm, 8.0)
            for size in sorted({args.memory_n // 10, args.memory_n})
        ]
        if args.memory_all:
            results.append(memory_in_subprocess(args.memory_n, None, 110.0))
        print()
        _common.print_table(
            [
                "refs",
                "rpm",
                "followed at end",
                "updates",
                "s",
                "RSS before",
                "RSS after subscribing",
                "peak RSS",
            ],
            [
                (
                    m["n"],
                    m["rpm"] or "none",
                    m["following"],
                    m["updates"],
                    f"{m['seconds']:.1f}",
                    f"{m['before']:.1f} MB",
                    f"{m['subscribed']:.1f} MB",
                    f"{m['peak']:.1f} MB",
                )
                for m in results
            ],
        )


if __name__ == "__main__":
    main()
