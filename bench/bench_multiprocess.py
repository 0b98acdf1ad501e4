"""Many processes, one Cakewalk key: N processes x M refs against a sandbox limited to R/min.

The sandbox runs in this process (``any_id``, ``rate_limit_per_minute=R``, like Cakewalk:
at most R answers in any sliding 60 s, the rest 429 with ``Retry-After``); a wrapper
around its rate-limit check counts the 429s and every request's arrival time is kept.
A ``redis-server`` is started on a free loopback port. For each N, N worker processes
(each its own interpreter, all configured at ``requests_per_minute=R``, as every replica
of a service would be) start together at an agreed instant and fetch their share of
``R/60 * duration`` distinct refs, either each pacing itself (``local``) or sharing the
budget through ``RedisLimiter`` (``redis``) or ``RedisLimiter(lease=S)`` (``lease``,
``--lease S``, 0.2 by default).

Reported per run: 429 answers, failed results, achieved rate as a share of R (after the
first second, arrivals seen by the server), the busiest 1-s and 60-s windows of arrivals
(bounds: ``R/60 + burst`` and ``R``), the workers' CPU per request and their Redis
script calls per request (counted on each worker's client). A separate
micro-benchmark measures one admission alone: client CPU and wall time per admission,
local ``RateLimiter`` vs ``RedisLimiter`` (one script call on loopback), at a rate high
enough that nothing waits.

Goal (issue 14): with Redis, 0 answers 429 and >= 95% of R at every N.

Run from the repo root (needs ``redis-server`` and ``pip install -e ".[redis]"``)::

    .venv/bin/python bench/bench_multiprocess.py --modes redis          # 1, 3, 8 x 30 s
    .venv/bin/python bench/bench_multiprocess.py --modes redis,lease    # side by side
    .venv/bin/python bench/bench_multiprocess.py --modes local
    .venv/bin/python bench/bench_multiprocess.py --admissions-only
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence

import _common
import orjson

TARGET_SHARE = 0.95


def max_in_window(times: Sequence[float], width: float) -> int:
    times = sorted(times)
    return max(
        (bisect.bisect_left(times, t + width, lo=i) - i for i, t in enumerate(times)), default=0
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The worker: one replica of a service.


async def worker(argv: list[str]) -> None:
    """``URL REDIS_URL|- PREFIX RPM GO ID...``: fetch the ids, print a JSON summary."""
    from taskbridge import CakewalkConfig, TaskBridge

    url, redis_url, prefix, rpm_text, go_text, lease_text, *ids = argv
    rpm, go = float(rpm_text), float(go_text)

    limiter = None
    conn = None
    if redis_url != "-":
        from redis.asyncio import Redis

        from taskbridge.redis import RedisLimiter

        class CountingRedis(Redis):  # type: ignore[misc]
            calls = 0

            async def evalsha(self, *args: object, **kwargs: object) -> object:
                self.calls += 1
                return await super().evalsha(*args, **kwargs)

        conn = CountingRedis.from_url(redis_url)
        lease = float(lease_text) if lease_text != "-" else None
        limiter = RedisLimiter(conn, prefix=prefix, lease=lease)
    config = CakewalkConfig(
        _common.API_KEY, _common.API_SECRET, base_url=url, requests_per_minute=rpm
    )
    await asyncio.sleep(max(0.0, go - time.time()))  # every replica starts together
    cpu = time.process_time()
    async with TaskBridge(cakewalk=config, limiter=limiter) as bridge:
        results = await bridge.get_many([("cakewalk", i) for i in ids])
    summary = {
        "ok": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "cpu": time.process_time() - cpu,
        "calls": conn.calls if conn is not None else 0,
    }
    if conn is not None:
        await conn.aclose()
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


# The coordinator.


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found (Debian: apt-get install -y redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory()
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)
        self._dir.cleanup()


async def run_one(
    n: int, mode: str, rpm: float, duration: float, redis_url: str, *, lease: float
) -> dict[str, float]:
    from taskbridge.sandbox import Faults, Sandbox

    total = math.ceil(rpm / 60 * duration)
    per = math.ceil(total / n)
    ids = [_common.cakewalk_id(i) for i in range(per * n)]
    rejected = 0
    async with Sandbox(any_id=True, faults=Faults(rate_limit_per_minute=int(rpm))) as sandbox:
        state = sandbox.state
        draw = state.draw

        def counting_draw(provider: str, task_id: str) -> tuple[object, int | None]:
            nonlocal rejected
            decision, wait = draw(provider, task_id)
            rejected += wait is not None
            return decision, wait

        state.draw = counting_draw  # type: ignore[method-assign,assignment]
        go = time.time() + 1.0 + 0.4 * n  # time for every interpreter to start
        prefix = f"bench-{os.getpid()}-{n}-{time.monotonic_ns()}"
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                sandbox.url,
                redis_url if mode != "local" else "-",
                prefix,
                str(rpm),
                str(go),
                str(lease) if mode == "lease" else "-",
                *ids[k * per : (k + 1) * per],
                stdout=subprocess.PIPE,
            )
            for k in range(n)
        ]
        outs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), duration * 3 + 60
        )
        arrivals = list(sandbox.stats.cakewalk.started_at)
    summaries = [orjson.loads(out) for out, _ in outs]
    rate = rpm / 60
    t0 = arrivals[0]
    span = arrivals[-1] - t0
    after = [t for t in arrivals if t >= t0 + 1.0]
    ok = sum(s["ok"] for s in summaries)
    return {
        "requests": len(arrivals),
        "ok": ok,
        "failed": sum(s["failed"] for s in summaries),
        "429": rejected,
        "span": span,
        "share": len(after) / (span - 1.0) / rate if span > 1 else float("nan"),
        "max_1s": max_in_window(arrivals, 1.0),
        "max_60s": max_in_window(arrivals, 60.0),
        "cpu_ms": 1000 * sum(s["cpu"] for s in summaries) / max(1, len(arrivals)),
        "trips": sum(s["calls"] for s in summaries) / max(1, len(arrivals)),
    }


async def admissions(redis_url: str, count: int) -> list[list[object]]:
    """CPU and wall time of one admission, nothing waiting (a rate of 10^8/min)."""
    from taskbridge import CakewalkConfig
    from taskbridge._engine.ratelimit import RateLimiter
    from taskbridge.redis import RedisLimiter

    config = CakewalkConfig(_common.API_KEY, _common.API_SECRET)
    rows: list[list[object]] = []
    local = RateLimiter(1e8)
    async with RedisLimiter(redis_url, prefix=f"bench-adm-{os.getpid()}") as limiter:
        shared = limiter.limiter("cakewalk", per_minute=1e8, config=config)
        async with RedisLimiter(
            redis_url, prefix=f"bench-adm-lease-{os.getpid()}", lease=0.2
        ) as leasing:
            leased = leasing.limiter("cakewalk", per_minute=1e8, config=config)
            contenders = (
                ("local RateLimiter", local.acquire),
                ("RedisLimiter", shared.acquire),
                ("RedisLimiter(lease=0.2)", leased.acquire),
            )
            rows = await _time_each(contenders, count)
    return rows


async def _time_each(
    contenders: Sequence[tuple[str, Callable[[], Awaitable[None]]]], count: int
) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, acquire in contenders:
        for _ in range(min(count, 500)):  # warm up (script load, connection)
            await acquire()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await acquire()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rows.append([name, count, 1e6 * cpu / count, 1e6 * wall / count])
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        asyncio.run(worker(sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", type=float, default=600, help="R, for sandbox and processes")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of budget per run")
    parser.add_argument("--processes", default="1,3,8", help="comma list of N")
    parser.add_argument("--modes", default="redis,local", help="comma list: redis, lease, local")
    parser.add_argument("--lease", type=float, default=0.2, help="lease seconds (mode lease)")
    parser.add_argument("--admissions", type=int, default=5000, help="micro-benchmark count")
    parser.add_argument("--admissions-only", action="store_true")
    args = parser.parse_args()
    _common.print_machine("many processes, one key")
    redis_server = RedisServer()
    try:
        if not args.admissions_only:
            print(
                f"R = {args.rpm:g}/min, {args.duration:g} s of budget per run "
                f"({math.ceil(args.rpm / 60 * args.duration)} refs)\n"
            )
            rows: list[list[object]] = []
            rate = args.rpm / 60
            for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                for n in [int(x) for x in args.processes.split(",")]:
                    r = asyncio.run(
                        run_one(
                            n, mode, args.rpm, args.duration, redis_server.url, lease=args.lease
                        )
                    )
                    ok = r["429"] == 0 and r["share"] >= TARGET_SHARE and r["max_60s"] <= args.rpm
                    rows.append(
                        [
                            mode,
                            n,
                            r["requests"],
                            r["ok"],
                            r["failed"],
                            r["429"],
                            f"{r['share']:.3f}",
                            r["max_1s"],
                            r["max_60s"],
                            f"{r['span']:.1f}",
                            f"{r['cpu_ms']:.2f}",
                            f"{r['trips']:.3f}",
                            ("PASS" if ok else "MISS") if mode != "local" else "-",
                        ]
                    )
                    print(f"  {mode} N={n}: done", flush=True)
            print()
            _common.print_table(
                [
                    "limiter",
                    "N",
                    "requests",
                    "ok",
                    "failed",
                    "429s",
                    "share of R after 1st s",
                    f"max 1-s (<= {rate + max(1.0, rate):.0f})",
                    f"max 60-s (<= {args.rpm:.0f})",
                    "span s",
                    "worker CPU ms/request",
                    "Redis round trips/request",
                    "goal",
                ],
                rows,
            )
            print()
        table = asyncio.run(admissions(redis_server.url, args.admissions))
        _common.print_table(["admission", "count", "CPU us each", "wall us each"], table)
    finally:
        redis_server.close()


if __name__ == "__main__":
    main()
