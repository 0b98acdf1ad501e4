"""Shared budget at saturation: client CPU and Redis round trips per admission, with and
without a lease (issue 25).

One process, one ``redis-server`` on a free loopback port. For each rate, ``--callers``
tasks call ``acquire()`` of the same budget in a loop for ``--duration`` s, so demand
always exceeds the rate (saturation: every admission waits for its start). Contenders,
side by side in one run, each on a fresh key:

- ``local RateLimiter``: the per-process floor (no Redis at all);
- ``RedisLimiter``: one admission script call per start (the un-leased path);
- ``RedisLimiter(lease=S)``: one call reserves S seconds of the smooth schedule (at
  least 5 starts), handed out locally.

Reported per contender: admissions, achieved / allowed rate, client CPU per admission
(``time.process_time`` of this process over the run, so the sleeping, the timers and the
Redis client are all in it), that minus the local limiter's (what sharing through Redis
adds), Redis script calls per admission (counted on the client), and both as ratios
against the un-leased path of the same rate. On a VM each timer wake-up alone costs
~130 us of CPU, so the local floor is far above 1 us when every start waits.

Goal (issue 25): with the lease, <= 25 us of client CPU per admission and <= 0.2 round
trips per admission at saturation.

Run from the repo root (needs ``redis-server``)::

    .venv/bin/python bench/bench_lease.py                       # 6000 and 60000/min, 10 s each
    .venv/bin/python bench/bench_lease.py --rpm 6000 --duration 20 --lease 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import _common
from bench_multiprocess import RedisServer
from redis.asyncio import Redis

from taskbridge import CakewalkConfig
from taskbridge._engine.ratelimit import RateLimiter
from taskbridge.redis import RedisLimiter

CONFIG = CakewalkConfig(_common.API_KEY, _common.API_SECRET)


class CountingRedis(Redis):  # type: ignore[misc]
    """A real client that counts the script calls (each one round trip)."""

    calls = 0

    async def evalsha(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await super().evalsha(*args, **kwargs)


async def saturate(
    redis_url: str, rpm: float, duration: float, callers: int, *, lease: float | None, local: bool
) -> dict[str, float]:
    conn = CountingRedis.from_url(redis_url)
    kwargs: dict[str, Any] = {"prefix": f"bench-lease-{os.getpid()}-{time.monotonic_ns()}"}
    if lease is not None:
        kwargs["lease"] = lease
    limiter = RedisLimiter(conn, **kwargs)
    try:
        if local:
            acquire = RateLimiter(rpm).acquire
        else:
            acquire = limiter.limiter("cakewalk", per_minute=rpm, config=CONFIG).acquire
        for _ in range(3):  # the script loaded, the connection open
            await acquire()
        # Past the burst (one second's worth): measure the smooth rate alone.
        await asyncio.sleep(1.0)
        burst = max(1.0, rpm / 60)
        for _ in range(int(burst)):
            await acquire()
        count = 0
        calls = conn.calls
        end = time.monotonic() + duration

        async def caller() -> None:
            nonlocal count
            while time.monotonic() < end:
                await acquire()
                count += 1

        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.gather(*(caller() for _ in range(callers)))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        calls = conn.calls - calls
    finally:
        await limiter.aclose()
        await conn.aclose()
    return {
        "count": count,
        "share": count / wall / (rpm / 60),
        "cpu_us": 1e6 * cpu / max(1, count),
        "trips": calls / max(1, count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", default="6000,60000", help="comma list of rates (per minute)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per contender")
    parser.add_argument("--callers", type=int, default=64, help="concurrent acquire() loops")
    parser.add_argument("--lease", default="0.2", help="comma list of lease seconds")
    parser.add_argument("--no-lease", action="store_true", help="baseline only (older code)")
    args = parser.parse_args()
    _common.print_machine("shared budget at saturation, leased or not")
    leases = [] if args.no_lease else [float(x) for x in args.lease.split(",") if x.strip()]
    server = RedisServer()
    rows: list[list[object]] = []
    try:
        for rpm in [float(x) for x in args.rpm.split(",") if x.strip()]:
            contenders: list[tuple[str, float | None, bool]] = [
                ("local RateLimiter", None, True),
                ("RedisLimiter", None, False),
                *((f"RedisLimiter(lease={s:g})", s, False) for s in leases),
            ]
            base: dict[str, float] = {}
            floor = 0.0
            for name, lease, local in contenders:
                r = asyncio.run(
                    saturate(server.url, rpm, args.duration, args.callers, lease=lease, local=local)
                )
                if name == "RedisLimiter":
                    base = r
                if local:
                    floor = r["cpu_us"]
                cpu_ratio = r["cpu_us"] / base["cpu_us"] if base else float("nan")
                trip_ratio = r["trips"] / base["trips"] if base and base["trips"] else 0.0
                rows.append(
                    [
                        f"{rpm:g}",
                        name,
                        r["count"],
                        f"{r['share']:.3f}",
                        f"{r['cpu_us']:.1f}",
                        "-" if local else f"{r['cpu_us'] - floor:+.1f}",
                        "-" if local else f"{cpu_ratio:.3f}",
                        f"{r['trips']:.3f}",
                        "-" if local else f"{trip_ratio:.3f}",
                    ]
                )
                print(f"  {rpm:g}/min {name}: done", flush=True)
    finally:
        server.close()
    print()
    _common.print_table(
        [
            "rpm",
            "limiter",
            "admissions",
            "achieved / allowed",
            "CPU us / admission",
            "over local",
            "vs RedisLimiter",
            "round trips / admission",
            "vs RedisLimiter",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
