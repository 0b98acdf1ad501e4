"""Where a latency-bound request's time goes: client and sandbox timestamps, side by side.

    python bench/profile_inflight.py --latency 0.05 --concurrency 64 --n 2560

Runs a sandbox in a child process whose handler records, per request, when it began
(``begin``), when its latency sleep ended (``woke``) and when it returned (``end``);
the client records, per attempt, when it started (``start``, just before the gate
admits nothing more: the request is about to be built), when aiohttp had sent the
request (``sent``, a trace hook), when the answer's headers arrived (``headers``) and
when the attempt ended (``done``, decoded). Both sides read CLOCK_MONOTONIC
(``time.perf_counter`` on Linux), so the two processes' stamps compare directly.

It prints the mean (and 50th/90th/99th percentile) of each segment, in ms:

- start -> sent: building and writing the request (client);
- sent -> begin: the request crossing loopback and the server parsing it, and the
  server's event loop getting to it;
- begin -> woke - latency: how late the latency sleep wakes (timer slack, a busy loop);
- woke -> end: the sandbox building and returning the answer;
- end -> headers: writing it, crossing loopback, the client's loop getting to it;
- headers -> done: reading the body and decoding (client);
- done -> next start, per slot: the hand-off to the next request (the gap a slot idles).

Profiling only (it monkeypatches the sandbox's handler in its own child process and the
engine's attempt in this one); `bench_inflight.py` is the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common
import aiohttp
from bench_throughput import ids_for

from taskbridge import AlumioConfig, CakewalkConfig, TaskBridge
from taskbridge._engine import engine as engine_module

PROVIDERS = ("cakewalk", "alumio")

_SERVER = """
import asyncio, gc, os, signal, sys, time
gc_time = [0.0, 0, 0.0]
def _gc(phase, info, _t=[0.0]):
    if phase == "start":
        _t[0] = time.perf_counter()
    else:
        d = time.perf_counter() - _t[0]
        gc_time[0] += d
        gc_time[1] += 1
        gc_time[2] = max(gc_time[2], d)
gc.callbacks.append(_gc)
from taskbridge.sandbox import Faults, Sandbox
from taskbridge.sandbox import _app

from taskbridge.sandbox import _state

stamps = []
woke = {}
original = _app._Handlers._answer
original_sleep = _state.SandboxState.sleep

async def timed_sleep(self, seconds):
    await original_sleep(self, seconds)
    woke[asyncio.current_task()] = time.perf_counter()

async def answer(self, request, provider, path, prefix, counters):
    begin = time.perf_counter()
    try:
        return await original(self, request, provider, path, prefix, counters)
    finally:
        at = woke.pop(asyncio.current_task(), 0.0)
        stamps.append((provider, path.rpartition("/")[2], begin, at, time.perf_counter()))

_state.SandboxState.sleep = timed_sleep
_app._Handlers._answer = answer

async def main():
    latency = float(sys.argv[1])
    out = sys.argv[2]
    sb = Sandbox(any_id=True, faults=Faults(latency=latency))
    async with sb:
        if sys.argv[3] == "freeze":
            gc.freeze()
        print(sb.url, flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    with open(out, "w") as f:
        cpu = time.process_time()
        f.write(f"cpu {cpu} {len(stamps)} {gc_time[0]} {gc_time[1]} {gc_time[2]}\\n")
        for row in stamps:
            f.write(" ".join(map(str, row)) + "\\n")

asyncio.run(main())
"""


gc_stats: list[Any] = [0.0, 0, 0.0]
_gc_started = [0.0]


def gc_callback(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        spent = time.perf_counter() - _gc_started[0]
        gc_stats[0] += spent
        gc_stats[1] += 1
        gc_stats[2] = max(gc_stats[2], spent)


class Recorder:
    def __init__(self) -> None:
        self.attempts: dict[str, list[list[float]]] = {p: [] for p in PROVIDERS}
        self.by_id: dict[str, list[float]] = {}
        self.connections = {"created": 0, "reused": 0}

    def wrap(self, attempt: Any) -> Any:
        async def recorded(session: Any, adapter: Any, task_id: str, **kwargs: Any) -> Any:
            row = [time.perf_counter(), 0.0, 0.0, 0.0]
            self.by_id[task_id] = row
            try:
                return await attempt(session, adapter, task_id, **kwargs)
            finally:
                row[3] = time.perf_counter()
                self.attempts[adapter.name].append(row)

        return recorded

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def sent(_s: Any, _c: Any, params: Any) -> None:
            row = self.by_id.get(params.url.path.rpartition("/")[2])
            if row is not None and not row[1]:
                row[1] = time.perf_counter()

        async def headers(_s: Any, _c: Any, params: Any) -> None:
            row = self.by_id.get(params.url.path.rpartition("/")[2])
            if row is not None:
                row[2] = time.perf_counter()

        async def created(_s: Any, _c: Any, _p: Any) -> None:
            self.connections["created"] += 1

        async def reused(_s: Any, _c: Any, _p: Any) -> None:
            self.connections["reused"] += 1

        config.on_connection_create_end.append(created)
        config.on_connection_reuseconn.append(reused)
        config.on_request_headers_sent.append(sent)
        config.on_request_end.append(headers)
        return config


async def run(base: str, mode: str, c: int, n: int, rec: Recorder) -> float:
    saved = engine_module.attempt
    engine_module.attempt = rec.wrap(saved)  # type: ignore[assignment]
    total = c * len(PROVIDERS)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=total, ttl_dns_cache=300),
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[rec.trace()],
    )
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
        async with (
            session,
            TaskBridge(cakewalk=cakewalk, alumio=alumio, timeout=60, session=session) as bridge,
        ):
            started = time.perf_counter()
            if mode == "get_many":
                results = await bridge.get_many(refs)
            else:
                results = []
                stream = _common.as_generator(bridge.stream(refs))
                async with contextlib.aclosing(stream) as items:
                    async for item in items:
                        results.append(item)
            elapsed = time.perf_counter() - started
            assert all(r.ok for r in results), "failures"
    finally:
        engine_module.attempt = saved  # type: ignore[assignment]
    return elapsed


def pct(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
    return (
        f"mean {statistics.fmean(values) * 1e3:6.2f}  p50 {q[49] * 1e3:6.2f}  "
        f"p90 {q[89] * 1e3:6.2f}  p99 {q[98] * 1e3:6.2f}"
    )


def report(rec: Recorder, server: dict[str, tuple[float, float, float]], latency: float) -> None:
    segments: dict[str, list[float]] = {
        k: []
        for k in (
            "start->sent",
            "sent->begin",
            "sleep overshoot",
            "woke->end",
            "end->headers",
            "headers->done",
            "whole attempt",
            "attempt - latency",
            "slot hand-off",
        )
    }
    for provider in PROVIDERS:
        rows = sorted(rec.attempts[provider])
        ends = sorted(r[3] for r in rows)
        # Each start after the first C takes the slot freed by the latest end before it.
        starts = sorted(r[0] for r in rows)
        j = 0
        free: list[float] = []
        for s in starts:
            while j < len(ends) and ends[j] <= s:
                free.append(ends[j])
                j += 1
            if free:
                segments["slot hand-off"].append(s - free.pop(0))
    for provider in PROVIDERS:
        for start, sent, headers, done in rec.attempts[provider]:
            segments["whole attempt"].append(done - start)
            segments["attempt - latency"].append(done - start - latency)
            if sent:
                segments["start->sent"].append(sent - start)
            if headers:
                segments["headers->done"].append(done - headers)
    for task_id, (_start, sent, headers, _done) in rec.by_id.items():
        stamps = server.get(task_id)
        if stamps is None or not sent or not headers:
            continue
        begin, woke, end = stamps
        segments["sent->begin"].append(begin - sent)
        segments["sleep overshoot"].append(woke - begin - latency)
        segments["woke->end"].append(end - woke)
        segments["end->headers"].append(headers - end)
    for name, values in segments.items():
        print(f"  {name:<18} {pct(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--n", type=int, default=2560, help="refs per provider")
    parser.add_argument("--modes", default="get_many,stream")
    parser.add_argument(
        "--server-gc",
        choices=("default", "freeze"),
        default="default",
        help="freeze: the sandbox calls gc.freeze() once started",
    )
    args = parser.parse_args()
    _common.print_machine("where a latency-bound request's time goes")
    for mode in args.modes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "stamps.txt"
            proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER, str(args.latency), str(out), args.server_gc],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            base = proc.stdout.readline().strip()
            rec = Recorder()
            try:
                cpu = time.process_time()
                gc_stats[:] = [0.0, 0, 0.0]
                gc.callbacks.append(gc_callback)
                try:
                    elapsed = asyncio.run(run(base, mode, args.concurrency, args.n, rec))
                finally:
                    gc.callbacks.remove(gc_callback)
                cpu = time.process_time() - cpu
            finally:
                proc.terminate()
                proc.wait(30)
                proc.stdout.close()
            server = {}
            lines = out.read_text().splitlines()
            _, server_cpu, served, sgc, sgcn, sgcmax = lines.pop(0).split()
            for line in lines:
                _provider, task_id, begin, woke, end = line.split()
                server[task_id] = (float(begin), float(woke), float(end))
        ideal = args.concurrency / args.latency
        rate = args.n / elapsed
        print(
            f"\n{mode}: C={args.concurrency}, latency {args.latency * 1e3:.0f} ms, "
            f"{args.n} refs per provider: {rate:,.0f} req/s per provider, "
            f"{rate / ideal:.1%} of C/latency"
        )
        print(
            f"  CPU per request: client {cpu / (2 * args.n) * 1e6:.0f} us (with the trace "
            f"hooks), sandbox {float(server_cpu) / int(served) * 1e6:.0f} us (its whole life)"
        )
        print(f"  connections: {rec.connections}")
        print(
            f"  GC: client {gc_stats[1]} collections, {gc_stats[0] * 1e3:.1f} ms in all, "
            f"longest {gc_stats[2] * 1e3:.2f} ms; sandbox {sgcn} collections, "
            f"{float(sgc) * 1e3:.1f} ms in all, longest {float(sgcmax) * 1e3:.2f} ms"
        )
        report(rec, server, args.latency)


if __name__ == "__main__":
    main()
