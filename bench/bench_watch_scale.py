"""Watching at scale: memory per followed ref and scheduler CPU per poll.

Two measurements, each in a fresh interpreter (``--baseline PYTHON`` runs the same
child code under another checkout's venv too, side by side):

- ``memory``: ``bridge.watch`` of N distinct Cakewalk refs, twice: from a generator
  (each ref's id string is made as it is read, so the strings the watch keeps are in
  the delta) and from a list made before the first reading (the issue's measure: the
  caller holds the ids, so only what following adds is counted), against the sandbox
  in a separate process, ``requests_per_minute = 60`` (a handful of polls: the cost
  measured is following, not answers kept). RSS (``/proc/self/statm``) after
  ``gc.collect()`` before the watch starts, and once every ref is subscribed (the first
  update); the delta divided by N is the cost per ref.
  With ``--trace`` a second child repeats it under ``tracemalloc`` and prints the
  allocations per ref by source line (slower, and tracemalloc's own memory is not in
  the RSS figures: those come from the untraced child).
- ``cpu``: the scheduler alone at saturation. The bridge's caller is wrapped so that a
  poll's fetch answers at once with one prebuilt task (no HTTP), and N refs are watched
  with ``poll_interval = max_poll_interval = 1 s``: they want N polls/s, far more than
  one core can start, so every ref is always overdue and the driver runs flat out. After
  a warm-up, process CPU time over the polls done in a fixed wall window is the CPU per
  poll: driver, heap, poll task, the subscriber's look at the answer, rescheduling.

Run from the repo root::

    .venv/bin/python bench/bench_watch_scale.py                          # memory 1M, cpu 300k
    .venv/bin/python bench/bench_watch_scale.py --baseline /work/main/.venv/bin/python
    .venv/bin/python bench/bench_watch_scale.py --only memory --refs 1000000 --trace
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common

TARGET_BYTES_PER_REF = 300.0
TARGET_CPU_US = 10.0


def rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ids(n: int) -> Iterator[tuple[str, str]]:
    for i in range(n):
        yield "cakewalk", _common.cakewalk_id(i)


async def memory_child(url: str, n: int, trace: bool, held: bool) -> dict[str, Any]:
    import taskbridge
    from taskbridge import CakewalkConfig, TaskBridge

    config = CakewalkConfig(
        _common.API_KEY, _common.API_SECRET, base_url=url, requests_per_minute=60
    )
    async with TaskBridge(cakewalk=config) as bridge:
        # Warm up: one watched ref seen once (session, gate, lane, code paths).
        async with bridge.watch([("cakewalk", _common.cakewalk_id(n + 1))]) as watch:
            async for _ in watch:
                break
        # ``held``: the caller holds the refs (a list made before the first reading), so
        # their id strings are not in the delta; otherwise they are made one by one.
        refs = list(ids(n)) if held else None
        gc.collect()
        before = rss()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        async with bridge.watch(ids(n) if refs is None else refs) as watch:
            async for _ in watch:  # every ref is subscribed by the first update
                break
            subscribed = time.perf_counter() - started
            gc.collect()
            after = rss()
            following = bridge._polling.following
            lines: list[tuple[str, float, float]] = []
            if trace:
                snapshot = tracemalloc.take_snapshot()
                tracemalloc.stop()
                root = str(Path(taskbridge.__file__).parent.parent)
                for stat in snapshot.statistics("lineno")[:14]:
                    frame = stat.traceback[0]
                    where = f"{frame.filename.replace(root + '/', '')}:{frame.lineno}"
                    lines.append((where, stat.size / n, stat.count / n))
    return {
        "n": n,
        "following": following,
        "subscribe_s": round(subscribed, 2),
        "rss_before_mb": round(before / 1e6, 1),
        "rss_after_mb": round(after / 1e6, 1),
        "bytes_per_ref": round((after - before) / n, 1),
        "lines": lines,
    }


class FastCaller:
    """The bridge's caller, except that a poll's fetch answers at once with ``task``."""

    def __init__(self, real: Any, task: Any) -> None:
        self._real = real
        self._task = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def fetch(self, gate: Any, task_id: str, tally: Any = None) -> Any:
        return self._task


async def cpu_child(n: int, seconds: float) -> dict[str, Any]:
    from taskbridge import CakewalkConfig, TaskBridge, TaskStatus, UnifiedTask
    from taskbridge._facade.watch import Scheduler

    task: UnifiedTask[None] = UnifiedTask(
        "cakewalk", _common.cakewalk_id(0), TaskStatus.PENDING, "Pending", None, None, None, None
    )
    config = CakewalkConfig(
        _common.API_KEY,
        _common.API_SECRET,
        base_url="http://127.0.0.1:9",  # never asked: fetch is FastCaller's
        requests_per_minute=None,
        poll_interval=1.0,
        max_poll_interval=1.0,
    )
    async with TaskBridge(cakewalk=config) as bridge:
        scheduler = Scheduler(
            FastCaller(bridge._call, task), clock=time.monotonic, sleep=asyncio.sleep
        )
        lane = scheduler.lane(bridge._call.gate("cakewalk"))
        polls = 0
        fetch = FastCaller.fetch

        async def counting(self: FastCaller, gate: Any, task_id: str, tally: Any = None) -> Any:
            nonlocal polls
            polls += 1
            return self._task

        FastCaller.fetch = counting  # type: ignore[method-assign]
        async with scheduler.watch(ids(n), until=None) as watch:
            updates = 0

            async def consume() -> None:
                nonlocal updates
                async for _ in watch:  # the first look at each ref; then nothing changes
                    updates += 1

            consumer = asyncio.ensure_future(consume())
            # Warm-up: one full round (every ref seen once, its update taken), then the
            # steady state in which every poll is of an unchanged, overdue ref.
            async with asyncio.timeout(300):
                while updates < n or polls < n + n // 10:  # noqa: ASYNC110 - a bench
                    await asyncio.sleep(0.1)
            gc.collect()
            p0, c0, w0 = polls, time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            p1, c1, w1 = polls, time.process_time(), time.perf_counter()
            consumer.cancel()
            following = len(lane.entries)
        FastCaller.fetch = fetch  # type: ignore[method-assign]
    done = p1 - p0
    return {
        "n": n,
        "following": following,
        "polls": done,
        "wall_s": round(w1 - w0, 2),
        "cpu_s": round(c1 - c0, 2),
        "polls_per_s": round(done / (w1 - w0)),
        "cpu_us_per_poll": round((c1 - c0) / done * 1e6, 2) if done else None,
    }


def child_main(args: argparse.Namespace) -> None:
    if args.child == "memory":
        out = asyncio.run(memory_child(args.url, args.refs, args.trace, args.held))
    else:
        out = asyncio.run(cpu_child(args.cpu_refs, args.seconds))
    print(json.dumps(out))


def run_child(python: str, kind: str, *extra: str) -> dict[str, Any]:
    cmd = [python, str(Path(__file__)), "--child", kind, *extra]
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{kind} child ({python}) failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="memory,cpu")
    parser.add_argument("--refs", type=int, default=1_000_000, help="refs for memory")
    parser.add_argument("--cpu-refs", type=int, default=300_000, help="refs for cpu")
    parser.add_argument("--seconds", type=float, default=5.0, help="cpu: measured window")
    parser.add_argument("--trace", action="store_true", help="memory: tracemalloc by line")
    parser.add_argument("--baseline", metavar="PYTHON", help="also run under this interpreter")
    parser.add_argument("--held", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    only = set(args.only.split(","))
    _common.print_machine("bench_watch_scale")
    pythons = [("this tree", sys.executable)]
    if args.baseline:
        pythons.insert(0, ("baseline", args.baseline))
    if "memory" in only:
        with _common.sandbox() as url:
            rows = []
            for name, python in pythons:
                for held in (False, True):
                    flags = ["--refs", str(args.refs)] + (["--held"] if held else [])
                    r = run_child(python, "memory", "--url", url, *flags)
                    print(name, json.dumps(r), flush=True)
                    rows.append((f"{name}, ids {'held' if held else 'made one by one'}", r))
                if args.trace:
                    t = run_child(
                        python, "memory", "--url", url, "--refs", str(args.refs), "--trace"
                    )
                    print(f"\n{name}: tracemalloc, top lines (bytes / allocations per ref)")
                    _common.print_table(
                        ["where", "B/ref", "allocs/ref"],
                        [(w, f"{b:.1f}", f"{c:.2f}") for w, b, c in t["lines"]],
                    )
        print(f"\nmemory: {args.refs:,} refs followed")
        _common.print_table(
            [
                "interpreter, input",
                "followed",
                "subscribe s",
                "RSS before MB",
                "RSS after MB",
                "B/ref",
            ],
            [
                (
                    name,
                    f"{r['following']:,}",
                    r["subscribe_s"],
                    r["rss_before_mb"],
                    r["rss_after_mb"],
                    r["bytes_per_ref"],
                )
                for name, r in rows
            ],
        )
        print(f"  target: <= {TARGET_BYTES_PER_REF:.0f} B/ref (300 MB per million)")
    if "cpu" in only:
        rows = []
        for name, python in pythons:
            r = run_child(
                python, "cpu", "--cpu-refs", str(args.cpu_refs), "--seconds", str(args.seconds)
            )
            print(name, json.dumps(r), flush=True)
            rows.append((name, r))
        print(
            f"\ncpu at saturation: {args.cpu_refs:,} refs wanting 1 poll/s each, "
            "fetch answers at once"
        )
        _common.print_table(
            ["interpreter", "followed", "polls", "wall s", "CPU s", "polls/s", "CPU us/poll"],
            [
                (
                    name,
                    f"{r['following']:,}",
                    f"{r['polls']:,}",
                    r["wall_s"],
                    r["cpu_s"],
                    f"{r['polls_per_s']:,}",
                    r["cpu_us_per_poll"],
                )
                for name, r in rows
            ],
        )
        print(f"  target: <= {TARGET_CPU_US:.0f} us/poll")


if __name__ == "__main__":
    main()
