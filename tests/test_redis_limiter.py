"""RedisLimiter on a real redis-server: one budget and one 429 pause for many processes."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from taskbridge import CakewalkConfig, ConfigurationError, RetryPolicy, TaskBridge
from taskbridge import redis as tb_redis
from taskbridge._engine.limiter import credential_fingerprint
from taskbridge._redis_lease import Lease
from taskbridge._redis_scripts import ADMIT
from taskbridge.redis import RedisLimiter
from taskbridge.sandbox import Credentials, Faults, Sandbox

from ._redis_server import RedisServer, free_port, redis_server, require_redis_server
from .conftest import KEY, SECRET

if os.environ.get("TASKBRIDGE_REQUIRE_REDIS") == "1":
    import redis.asyncio as redis  # CI: a missing client is a failure, not a skip
else:
    redis = pytest.importorskip("redis.asyncio", reason='needs pip install "aiotaskbridge[redis]"')

__all__ = ["redis_server"]  # the fixture, imported for this module's tests

WORKER = Path(__file__).with_name("_redis_worker.py")
# One credential for the tests that only need some budget's keys.
CONFIG = CakewalkConfig(KEY, SECRET)


def max_in_window(times: Sequence[float], width: float) -> int:
    """The most of ``times`` (any order) in any half-open window ``[t, t + width)``."""
    times = sorted(times)
    return max(
        (bisect.bisect_left(times, t + width, lo=i) - i for i, t in enumerate(times)),
        default=0,
    )


@pytest_asyncio.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield conn
    await conn.aclose()


async def all_keys_and_values(conn: redis.Redis) -> dict[str, str]:
    """Every key with a dump of its value, whatever its type."""
    found: dict[str, str] = {}
    async for key in conn.scan_iter():
        kind = await conn.type(key)
        if kind == "string":
            value: object = await conn.get(key)
        elif kind == "hash":
            value = await conn.hgetall(key)
        elif kind == "zset":
            value = await conn.zrange(key, 0, -1, withscores=True)
        else:
            value = kind
        found[key] = repr(value)
    return found


# The admission script itself: what Redis decides for concurrent callers.


async def test_script_grants_never_exceed_the_window_limit_across_processes(
    redis_server: RedisServer,
) -> None:
    # A 1-s window of 5 (the 60-s window's logic, shortened) and a 10-ms interval:
    # 4 limiters (4 "processes") ask 40 times at once; the granted starts, read on
    # Redis' clock, never put more than 5 in any 1-s window.
    limiters = [RedisLimiter(redis_server.url) for _ in range(4)]
    try:
        keys = limiters[0].limiter("cakewalk", per_minute=6000, config=CONFIG).keys
        interval_us, tau_us, limit, window_us = 10_000, 0, 5, 1_000_000

        async def ask(limiter: RedisLimiter, seq: int) -> int:
            lead_us = 60_000_000  # never refused: every ask reserves
            args = [interval_us, tau_us, limit, window_us, lead_us, "", "g", limiter._process, seq]
            args.append(60_000)
            reply = await limiter._admit(keys=keys, args=args)
            assert reply[0] == 1
            return int(reply[5])  # microseconds of Redis clock

        starts = await asyncio.gather(
            *(ask(limiters[i % 4], i) for i in range(40)),
        )
    finally:
        for limiter in limiters:
            await limiter.aclose()
    assert max_in_window(starts, window_us) <= limit
    gaps = [b - a for a, b in zip(sorted(starts), sorted(starts)[1:], strict=False)]
    assert min(gaps) >= interval_us  # the smooth rate, too
    assert len(set(starts)) == 40


async def test_script_burst_is_one_seconds_worth_then_smooth(redis_server: RedisServer) -> None:
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        replies = [
            await limiter._admit(
                keys=budget.keys, args=[*budget._args, "", "g", limiter._process, n, 60_000]
            )
            for n in range(15)
        ]
    delays = [int(r[1]) for r in replies]
    starts = [int(r[5]) for r in replies]
    # 600/min: a burst of 10 with no wait at all, then one every 100 ms after the first
    # (on Redis' clock, whatever the speed of the calls).
    assert delays[:10] == [0] * 10
    for k in range(10, 15):
        assert starts[k] - starts[0] >= (k - 9) * 100_000


async def test_at_one_a_second_the_burst_is_one_start(redis_server: RedisServer) -> None:
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=60, config=CONFIG)
        replies = [
            await limiter._admit(
                keys=budget.keys, args=[*budget._args, "", "g", limiter._process, n, 60_000]
            )
            for n in range(2)
        ]
    starts = [int(r[5]) for r in replies]
    # 60/min: one start now, the next one a second after it (Redis' clock), no burst.
    assert starts[1] - starts[0] == 1_000_000


async def test_below_one_a_second_the_burst_is_still_one_start(redis_server: RedisServer) -> None:
    # 30/min: one start now, the next 2 s later (beyond LEAD: "ask again"). A burst
    # would answer 0; the lower bound leaves a loaded box a second between the calls.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=30, config=CONFIG)
        first = await budget._call()
        second = await budget._call()
    assert first == 0.0
    assert second is not None and 1.0 < second <= 2.0


async def test_below_two_a_minute_the_window_holds_one_start(redis_server: RedisServer) -> None:
    # 1.5/min: a start every 40 s by the rate, but the 60-s window holds only one.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=1.5, config=CONFIG)
        first = await budget._call()
        second = await budget._call()
    assert first == 0.0
    assert second is not None and 58 < second <= 60.25


async def test_a_rate_below_one_a_minute_still_grants_through_redis(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 0.5/min: the 60-s window holds one start (not none), and Redis grants it.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=0.5, config=CONFIG)
        await asyncio.wait_for(budget.acquire(), 5)
        assert not budget._fallen_back
        assert await client.zcard(budget.keys[1]) == 1


async def test_a_budgets_keys_expire_a_window_and_a_minute_after_its_last_use(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 60.25 s (the shared window) + 60 s: a budget nobody uses leaves Redis by itself.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        await asyncio.wait_for(budget.acquire(), 5)
        start_ms = int(await client.hget(budget.keys[0], "last")) / 1000
        for key in (budget.keys[0], budget.keys[1], budget.keys[3]):
            # PEXPIRETIME (Redis 7) is in whole ms of Redis' clock, which may have ticked
            # one ms past the script's TIME (µs) when PEXPIRE ran: within [-1, +1) ms.
            expires = await client.execute_command("PEXPIRETIME", key)
            assert 120_249 <= expires - start_ms < 120_251


async def test_grants_older_than_the_window_are_forgotten(redis_server: RedisServer) -> None:
    # What a process replays after Redis loses the budget is its last window of grants:
    # older ones leave its record (which would otherwise grow with every start).
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        long_ago = time.monotonic() - 61  # as if granted 61 s ago (no clock to move)
        budget._grants.append(long_ago)
        await asyncio.wait_for(budget.acquire(), 5)
        assert long_ago not in budget._grants
        assert len(budget._grants) == 1


# Many processes, one credential, against the sandbox.


async def test_processes_share_one_budget_and_get_no_429(redis_server: RedisServer) -> None:
    rpm, processes, per_process = 300, 3, 12  # 5/s, a burst of 5
    async with Sandbox(any_id=True, faults=Faults(rate_limit_per_minute=rpm)) as sandbox:
        ids = [
            f"{n:08x}-0000-4000-8000-{secrets.token_hex(6)}" for n in range(processes * per_process)
        ]
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                sandbox.url,
                redis_server.url,
                str(rpm),
                *ids[k * per_process : (k + 1) * per_process],
                stdout=subprocess.PIPE,
            )
            for k in range(processes)
        ]
        outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 45)
        arrivals = list(sandbox.stats.cakewalk.started_at)
        received = sandbox.stats.cakewalk.requests
    summaries = [orjson.loads(out) for out, _ in outs]
    assert [s["errors"] for s in summaries] == [[]] * processes
    assert received == processes * per_process  # no retry: no 429, nothing lost
    # Rate plus one burst in any second, for the three together (each alone would
    # allow that much: three times over). Four of slack for arrival jitter on a
    # loaded machine (a process starved for a moment sends its granted starts late).
    assert max_in_window(arrivals, 1.0) <= 5 + 5 + 4


async def _key_appears(conn: Any, key: str) -> None:
    while not await conn.exists(key):  # noqa: ASYNC110 - state in Redis: nothing to await
        await asyncio.sleep(0.01)


async def test_a_429_pauses_every_process(redis_server: RedisServer) -> None:
    faults = Faults(rate_limit_rate=1.0, retry_after=20)
    async with (
        Sandbox(faults=faults) as sandbox,
        RedisLimiter(redis_server.url) as other,
    ):
        config = sandbox.cakewalk_config(requests_per_minute=600)
        bridge = TaskBridge(
            cakewalk=config,
            limiter=RedisLimiter(redis_server.url),
            retry=RetryPolicy(max_attempts=2),
        )
        async with bridge:
            first = asyncio.ensure_future(bridge.get("cakewalk", sandbox.cakewalk_ids[0]))
            budget = other.limiter("cakewalk", per_minute=600, config=config)
            conn = redis.Redis.from_url(redis_server.url)
            try:
                # Published when the pause key appears in Redis (bounded: 10 s).
                await asyncio.wait_for(_key_appears(conn, budget.keys[2]), 10)
                delay = await budget._call()
            finally:
                await conn.aclose()
                first.cancel()
                await asyncio.gather(first, return_exceptions=True)
    # The other process is told to wait out (most of) the 20 s Retry-After.
    assert delay is not None and delay > 15


async def test_pause_is_shared_and_never_shortened(redis_server: RedisServer) -> None:
    async with RedisLimiter(redis_server.url) as a, RedisLimiter(redis_server.url) as b:
        mine = a.limiter("cakewalk", per_minute=None, config=CONFIG)
        theirs = b.limiter("cakewalk", per_minute=None, config=CONFIG)
        mine.pause(30)
        mine.pause(1)
        await asyncio.wait_for(asyncio.gather(*a._tasks), 5)
        await asyncio.sleep(0)
        assert not a._tasks  # a notice sent is forgotten (not kept until aclose)
        delay = await theirs._call()
    assert delay is not None and 25 < delay <= 30


async def test_a_pause_under_a_second_is_shared_too(redis_server: RedisServer) -> None:
    async with RedisLimiter(redis_server.url) as a, RedisLimiter(redis_server.url) as b:
        mine = a.limiter("cakewalk", per_minute=None, config=CONFIG)
        theirs = b.limiter("cakewalk", per_minute=None, config=CONFIG)
        mine.pause(0.99)
        await asyncio.wait_for(asyncio.gather(*a._tasks), 5)
        delay = await theirs._call()
    assert delay is not None and 0 < delay <= 0.99


# Keys: a fingerprint, never a secret.


async def test_no_secret_ever_reaches_redis(redis_server: RedisServer, client: redis.Redis) -> None:
    seen: list[bytes] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", redis_server.port)
    writer.write(b"MONITOR\r\n")
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"+OK")

    async def record() -> None:
        while line := await reader.readline():
            seen.append(line)

    monitor = asyncio.ensure_future(record())
    try:
        creds = Credentials(cakewalk_api_key=KEY, cakewalk_api_secret=SECRET)
        async with Sandbox(credentials=creds) as sandbox:
            config = sandbox.cakewalk_config(requests_per_minute=600)
            async with TaskBridge(cakewalk=config, limiter=RedisLimiter(redis_server.url)) as br:
                results = await br.get_many(("cakewalk", i) for i in sandbox.cakewalk_ids[:3])
                br._call.gate("cakewalk").pause(5)
                await asyncio.sleep(0)
            stored = await all_keys_and_values(client)
            await client.ping()  # flushes the monitor past our own commands
    finally:
        monitor.cancel()
        await asyncio.gather(monitor, return_exceptions=True)
        writer.close()
        await writer.wait_closed()
    assert all(r.ok for r in results)
    traffic = b"".join(seen)
    assert b"EVALSHA" in traffic.upper() or b"EVAL" in traffic.upper()
    fingerprint = credential_fingerprint("cakewalk", config)
    assert stored and all(fingerprint in key for key in stored)
    for secret in (KEY, SECRET):
        assert secret.encode() not in traffic
        assert all(secret not in key and secret not in value for key, value in stored.items())


def test_the_fingerprint_is_keyed_by_the_secrets_a_provider_declares() -> None:
    """A plug-in's secret need not be called api_key or token: the spec's list is read."""

    class Config:
        base_url = "https://example.test"

        def __init__(self, password: str) -> None:
            self.password = password

        @property
        def secrets(self) -> tuple[str, ...]:
            return (self.password,)

    one, two = Config("first-password"), Config("second-password")
    assert credential_fingerprint("plug", one) != credential_fingerprint("plug", two)
    assert credential_fingerprint("plug", one) == credential_fingerprint(
        "plug", Config("first-password")
    )
    assert "first-password" not in credential_fingerprint("plug", one)


def test_a_budget_says_whose_it_is_and_its_rate() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    assert repr(limiter.limiter("cakewalk", per_minute=600, config=CONFIG)) == (
        "<shared budget cakewalk 600/min>"
    )
    assert repr(limiter.limiter("alumio", per_minute=None, config=CONFIG)) == (
        "<shared budget alumio no rate>"
    )


def test_keys_are_per_credential_and_prefix() -> None:
    a = CakewalkConfig(KEY, SECRET)
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    other = RedisLimiter("redis://127.0.0.1:1/0", prefix="staging")
    same = limiter.limiter("cakewalk", per_minute=1000, config=CakewalkConfig(KEY, SECRET))
    assert limiter.limiter("cakewalk", per_minute=1000, config=a).keys == same.keys
    rotated = limiter.limiter("cakewalk", per_minute=1000, config=CakewalkConfig(KEY, "x" * 9))
    assert rotated.keys[0] != same.keys[0]
    staging = other.limiter("cakewalk", per_minute=1000, config=a)
    assert staging.keys[0].startswith("staging:{cakewalk:")
    assert same.keys[0].startswith("taskbridge:{cakewalk:")
    assert all(KEY not in k and SECRET not in k for k in (*same.keys, *staging.keys))


# Redis down, slow, or restarted.


async def test_redis_down_falls_back_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with Sandbox() as sandbox:
        bridge = TaskBridge(
            cakewalk=sandbox.cakewalk_config(requests_per_minute=6000),
            limiter=RedisLimiter(url, timeout=0.5, fallback_share=1.0),
        )
        with caplog.at_level(logging.INFO, logger="taskbridge"):
            async with bridge:
                results = await bridge.get_many(("cakewalk", i) for i in sandbox.cakewalk_ids[:8])
    assert all(r.ok for r in results)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Redis unreachable" in warnings[0].getMessage()


async def test_redis_down_without_a_rate_grants_at_once(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async with RedisLimiter(url, timeout=0.5) as limiter:
        budget = limiter.limiter("alumio", per_minute=None, config=CONFIG)
        with caplog.at_level(logging.WARNING, logger="taskbridge"):
            for _ in range(3):
                await asyncio.wait_for(budget.acquire(), 5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "using no shared pause until it answers" in warnings[0]


async def test_unresponsive_redis_never_hangs_an_admission() -> None:
    # A server that accepts connections and never answers: each call ends at `timeout`.
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1 << 16)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RedisLimiter(f"redis://127.0.0.1:{port}/0", timeout=0.2) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=6000, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 5)
            assert budget._fallen_back
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(server.wait_closed(), 5)


async def test_a_redis_that_stopped_answering_is_asked_again_only_after_the_interval() -> None:
    # A server that accepts connections and never answers: each try costs `timeout`.
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1 << 16)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RedisLimiter(f"redis://127.0.0.1:{port}/0", timeout=0.2) as limiter:
            budget = limiter.limiter("alumio", per_minute=None, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 5)  # tried, timed out: fell back
            tried = len(writers)
            for _ in range(5):  # within probe_interval (1 s): not asked again
                await asyncio.wait_for(budget.acquire(), 5)
            budget.pause(5)  # nor told of a pause
            assert not limiter._tasks
            assert len(writers) == tried
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(server.wait_closed(), 5)


async def test_recovers_when_redis_comes_back(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    binary = require_redis_server()
    server = RedisServer(binary, free_port(), str(tmp_path))
    limiter = RedisLimiter(server.url, timeout=0.5, fallback_share=1.0, probe_interval=0)
    async with limiter:
        budget = limiter.limiter("cakewalk", per_minute=6000, config=CONFIG)
        with caplog.at_level(logging.INFO, logger="taskbridge"):
            await asyncio.wait_for(budget.acquire(), 5)  # Redis down: granted alone
            assert budget._fallen_back
            await server.start()
            try:
                await asyncio.wait_for(budget.acquire(), 5)
                conn = redis.Redis.from_url(server.url)
                logged = await conn.zcard(budget.keys[1])
                await conn.aclose()
            finally:
                await server.stop()
    assert not budget._fallen_back
    assert any("shared again" in r.getMessage() for r in caplog.records)
    assert logged == 2  # the start granted alone was told to Redis, then this one


async def test_every_start_granted_alone_is_told_once_redis_answers(tmp_path: Path) -> None:
    # Two starts granted alone (the second after a failed probe, which carried the first
    # one's replay): Redis hears of both when it answers again.
    server = RedisServer(require_redis_server(), free_port(), str(tmp_path))
    limiter = RedisLimiter(server.url, timeout=0.5, fallback_share=1.0, probe_interval=0)
    async with limiter:
        budget = limiter.limiter("cakewalk", per_minute=6000, config=CONFIG)
        for _ in range(2):
            await asyncio.wait_for(budget.acquire(), 5)  # Redis down: granted alone
        await server.start()
        try:
            await asyncio.wait_for(budget.acquire(), 5)
            conn = redis.Redis.from_url(server.url)
            logged = await conn.zcard(budget.keys[1])
            await conn.aclose()
        finally:
            await server.stop()
    assert not budget._fallen_back
    assert logged == 3


async def test_fallback_takes_the_share_redis_counted_after_the_schedule_it_knew(
    tmp_path: Path,
) -> None:
    server = RedisServer(require_redis_server(), free_port(), str(tmp_path))
    await server.start()
    async with RedisLimiter(server.url, timeout=0.5) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        try:
            for _ in range(14):  # the burst of 10, then starts reserved ahead (10/s)
                await budget._call()
        finally:
            await server.stop()
        horizon = budget._horizon
        assert horizon > time.monotonic()  # the last reservation Redis told of
        await asyncio.wait_for(budget.acquire(), 5)  # Redis down: the local fallback
        fallback = budget._fallback
    # Redis counted one process: it takes the whole rate, after the known schedule.
    assert fallback is not None
    assert fallback.per_minute == 600
    assert fallback._updated >= horizon


async def test_redis_restart_mid_batch_loses_nothing_and_holds_the_limit(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    rpm, count = 300, 25  # 5/s, a burst of 5: the batch runs ~4 s
    restart: asyncio.Task[None] | None = None

    async def restart_redis() -> None:
        await redis_server.stop()
        await asyncio.sleep(0.3)
        await redis_server.start()

    def on_result(_: object) -> None:
        nonlocal restart
        if restart is None:
            restart = asyncio.ensure_future(restart_redis())

    async with Sandbox(any_id=True, faults=Faults(rate_limit_per_minute=rpm)) as sandbox:
        ids = [f"{n:08x}-0000-4000-8000-{secrets.token_hex(6)}" for n in range(count)]
        # A stopped Redis refuses at once; the bound is only for calls slowed by a loaded
        # machine, which must not count as outages here (the test counts WARNINGs).
        limiter = RedisLimiter(redis_server.url, timeout=2.0)
        bridge = TaskBridge(
            # Two at a time, so admissions go on after Redis is back.
            cakewalk=sandbox.cakewalk_config(requests_per_minute=rpm, max_concurrency=2),
            limiter=limiter,
        )
        with caplog.at_level(logging.INFO, logger="taskbridge"):
            async with bridge:
                budget = bridge._call.gate("cakewalk")._limiter
                results = await asyncio.wait_for(
                    bridge.get_many([("cakewalk", i) for i in ids], on_result=on_result), 40
                )
                assert restart is not None
                await restart
                # Redis came back empty: every start of the last minute was told again.
                conn = redis.Redis.from_url(redis_server.url)
                try:
                    logged = await conn.zcard(budget.keys[1])  # type: ignore[union-attr]
                finally:
                    await conn.aclose()
        arrivals = list(sandbox.stats.cakewalk.started_at)
        received = sandbox.stats.cakewalk.requests
    assert all(r.ok for r in results)
    assert received == count  # no 429, no retry, nothing lost
    assert max_in_window(arrivals, 1.0) <= 5 + 5 + 4  # as in the multi-process test
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) <= 1  # a restart between two calls may go unnoticed but for STALE
    assert logged == count


async def test_flushall_mid_batch_bursts_no_more_than_one_seconds_worth(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # Two processes at 600/min (10/s, a burst of 10), eight callers each, and Redis
    # flushed mid-batch: the starts reserved before the flush are gone from Redis, yet
    # by any moment t no more have started than 10/s since the first call plus one
    # burst. The count is one-sided: a start is never earlier than Redis granted it (a
    # slow machine only delays starts), so this bound cannot flake on a loaded box.
    rate, burst, flush_after, stop_after = 10, 10, 20, 60
    limiters = [RedisLimiter(redis_server.url, timeout=5.0) for _ in range(2)]
    budgets = [lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG) for lim in limiters]
    starts: list[float] = []
    half_way = asyncio.Event()

    async def caller(budget: Any) -> None:
        while len(starts) < stop_after:
            await budget.acquire()
            starts.append(time.monotonic())
            if len(starts) >= flush_after:
                half_way.set()

    async def flush() -> None:
        await half_way.wait()
        await client.flushall()

    first = time.monotonic()
    try:
        callers = [caller(budgets[n % 2]) for n in range(16)]
        await asyncio.wait_for(asyncio.gather(flush(), *callers), 40)
    finally:
        for limiter in limiters:
            await limiter.aclose()
    over = over_the_rate(starts, first, rate, burst)
    assert over <= 1, f"{over:.1f} starts over 10/s plus one burst"
    assert len(starts) >= stop_after


def over_the_rate(starts: list[float], first: float, rate: float, burst: float) -> float:
    """How far the starts ever got ahead of ``rate`` per second since ``first`` plus
    one ``burst`` (<= 0: never); +1 allowed for the two clocks' microseconds."""
    starts = sorted(starts)
    return max(n + 1 - (rate * (at - first) + burst) for n, at in enumerate(starts))


async def test_flushall_while_a_silent_process_holds_reservations(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # The worst case for a loss: process B holds reservations (up to 0.8 s ahead) and
    # never calls Redis again, so it cannot tell the recreated budget about them;
    # process A, which knew the old budget, goes on alone after the flush. A restarts
    # empty after every start reserved before the flush (none is reserved more than
    # LEAD ahead): together they stay within 10/s plus one burst.
    rate, burst, b_callers = 10, 10, 18
    a_lim, b_lim = RedisLimiter(redis_server.url, timeout=5.0), RedisLimiter(redis_server.url)
    a = a_lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG)
    b = b_lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG)
    starts: list[float] = []

    async def once() -> None:
        await b.acquire()
        starts.append(time.monotonic())

    async def until_b_reserved_all() -> None:
        while await client.zcard(a.keys[1]) < 1 + b_callers:  # noqa: ASYNC110  # polls Redis
            await asyncio.sleep(0.002)

    async def a_loops() -> None:
        while len(starts) < 60:
            await a.acquire()
            starts.append(time.monotonic())

    first = time.monotonic()
    try:
        await a.acquire()  # A knows the budget before the flush
        starts.append(time.monotonic())
        b_jobs = [asyncio.ensure_future(once()) for _ in range(b_callers)]
        await asyncio.wait_for(until_b_reserved_all(), 20)
        await client.flushall()
        await asyncio.wait_for(asyncio.gather(*b_jobs, *(a_loops() for _ in range(10))), 40)
    finally:
        await a_lim.aclose()
        await b_lim.aclose()
    assert over_the_rate(starts, first, rate, burst) <= 1


async def test_no_start_is_reserved_more_than_the_lead_ahead(redis_server: RedisServer) -> None:
    # What bounds the starts a loss can hide: asked 30 times at once at 10/s, Redis
    # reserves the burst and the next second, and tells the rest to ask again.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        replies = []
        for _ in range(30):
            delay = await budget._call()
            replies.append((budget._reserved, delay))
    reserved = [delay for held, delay in replies if held]
    assert all(d is not None and d <= tb_redis.LEAD for d in reserved)
    assert 10 + 9 <= len(reserved) <= 10 + 11  # the burst, then about LEAD's worth
    assert all(d is not None and d > tb_redis.LEAD for held, d in replies if not held)


async def test_without_a_rate_every_start_is_granted_at_once(redis_server: RedisServer) -> None:
    # requests_per_minute=None shares only the 429 pause: no interval, no window.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("alumio", per_minute=None, config=CONFIG)
        delays = [await budget._call() for _ in range(20)]
        assert budget._reserved
    assert delays == [0.0] * 20


async def test_a_full_window_frees_its_oldest_start_a_margin_after_60_s(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 60/min, 60 starts 59.5 s ago in the shared log: the next start waits for the
    # oldest to leave it, which the shared log keeps WINDOW_MARGIN (0.25 s) past the
    # 60 s, for the network hop between a grant and its arrival.
    async with RedisLimiter(redis_server.url) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=60, config=CONFIG)
        seconds, micros = await client.time()
        oldest = seconds * 1_000_000 + micros - 59_500_000
        await client.zadd(budget.keys[1], {f"earlier:{n}": oldest for n in range(60)})
        await asyncio.wait_for(budget.acquire(), 10)
        start = int(await client.hget(budget.keys[0], "last"))
    assert tb_redis.WINDOW_MARGIN == 0.25
    assert start == oldest + 60_250_000


def _publishing() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "_publish_pause" in repr(t.get_coro())]


async def test_aclose_stops_pending_pause_notices_at_once() -> None:
    # A Redis that accepts and never answers, and a limiter that would wait 60 s for it.
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1 << 16)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        # A client of our own: aclose does not close it (nothing else to await there).
        conn = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        limiter = RedisLimiter(conn, timeout=60)
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        budget.pause(5)
        await asyncio.sleep(0)
        assert len(_publishing()) == 1
        await asyncio.wait_for(limiter.aclose(), 5)
        assert _publishing() == []  # cancelled and finished, not left running
        await conn.aclose()
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await asyncio.wait_for(server.wait_closed(), 5)


def test_the_documented_defaults() -> None:
    # docs/guides/many-processes.md: a call slower than 0.5 s falls back; the module's
    # docstring: "It asks Redis again every second".
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    assert (limiter.timeout, limiter.probe_interval) == (0.5, 1.0)
    # docs/guides/many-processes.md: leases are off unless asked for; at most LEAD.
    assert limiter.lease is None
    assert RedisLimiter("redis://127.0.0.1:1/0", lease=tb_redis.LEAD).lease == tb_redis.LEAD
    assert (tb_redis.MIN_LEASE, tb_redis.MAX_LEASE, tb_redis.LATE) == (5, 100, 0.001)


class CountingRedis(redis.Redis):  # type: ignore[misc]
    """A real Redis client that counts the admission script's calls."""

    admissions = 0
    forget = False

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        if numkeys == 4:  # the admission script: state, log, pause, processes
            self.admissions += 1
            if self.forget:
                await self.hset(keys_and_args[0], "gen", secrets.token_hex(8))
        return await super().evalsha(sha, numkeys, *keys_and_args)


class ForgetfulRedis(CountingRedis):
    """A real Redis that loses every budget just before each admission (as if flushed)."""

    forget = True


async def test_a_start_further_than_the_lead_is_asked_for_again_once_near(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 60 starts 58.5 s ago at 60/min: the next is 1.75 s away, beyond LEAD (1 s). Redis
    # says "ask again"; the limiter sleeps until LEAD before it, and asks once more.
    conn = CountingRedis.from_url(redis_server.url)
    try:
        async with RedisLimiter(conn) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=60, config=CONFIG)
            seconds, micros = await client.time()
            oldest = seconds * 1_000_000 + micros - 58_500_000
            await client.zadd(budget.keys[1], {f"earlier:{n}": oldest for n in range(60)})
            await asyncio.wait_for(budget.acquire(), 10)
            start = int(await client.hget(budget.keys[0], "last"))
    finally:
        await conn.aclose()
    assert start == oldest + 60_250_000
    assert 2 <= conn.admissions <= 4  # not a busy loop until the start comes near


@pytest.mark.parametrize("probe_interval", [0, 1.0])
async def test_a_redis_that_keeps_losing_the_budget_is_treated_as_down(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, probe_interval: float
) -> None:
    conn = ForgetfulRedis.from_url(redis_server.url)
    try:
        async with RedisLimiter(conn, probe_interval=probe_interval) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=6000, config=CONFIG)
            with caplog.at_level(logging.WARNING, logger="taskbridge"):
                # A first use (nothing to lose yet; the script is loaded on its way).
                await asyncio.wait_for(budget.acquire(), 5)
                first = conn.admissions
                await asyncio.wait_for(budget.acquire(), 5)
    finally:
        await conn.aclose()
    # Three answers in a row "the budget is gone", then the local fallback, with a warning.
    assert conn.admissions - first == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Redis unreachable" in warnings[0]
    assert "RuntimeError" in warnings[0]


# Wiring: from_env, bad input, the optional dependency.


async def test_from_env_reads_the_redis_url(redis_server: RedisServer) -> None:
    env = {
        "TASKBRIDGE_CAKEWALK_API_KEY": KEY,
        "TASKBRIDGE_CAKEWALK_API_SECRET": SECRET,
        "TASKBRIDGE_REDIS_URL": redis_server.url,
    }
    async with TaskBridge.from_env(env) as bridge:
        assert isinstance(bridge._limiter, RedisLimiter)
        assert "RedisLimiter" not in repr(bridge)
    async with TaskBridge.from_env({k: v for k, v in env.items() if "REDIS" not in k}) as plain:
        assert plain._limiter is None
    async with TaskBridge.from_env(env, limiter=None) as local:
        assert local._limiter is None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        pytest.param((42,), {}, id="not-a-url"),
        pytest.param(("http://localhost",), {}, id="wrong-scheme"),
        pytest.param(("redis://localhost",), {"prefix": ""}, id="empty-prefix"),
        pytest.param(("redis://localhost",), {"timeout": 0}, id="zero-timeout"),
        pytest.param(("redis://localhost",), {"fallback_share": 1.5}, id="share-above-one"),
        pytest.param(("redis://localhost",), {"fallback_share": 0}, id="share-zero"),
        pytest.param(("redis://localhost",), {"fallback_share": True}, id="share-bool"),
        pytest.param(("redis://localhost",), {"probe_interval": -1}, id="negative-probe"),
        pytest.param(("redis://localhost",), {"probe_interval": "1"}, id="text-probe"),
        pytest.param(("redis://localhost",), {"lease": 0}, id="zero-lease"),
        pytest.param(("redis://localhost",), {"lease": -0.2}, id="negative-lease"),
        pytest.param(("redis://localhost",), {"lease": True}, id="bool-lease"),
        pytest.param(("redis://localhost",), {"lease": "0.2"}, id="text-lease"),
        pytest.param(("redis://localhost",), {"lease": float("nan")}, id="nan-lease"),
        pytest.param(("redis://localhost",), {"lease": float("inf")}, id="inf-lease"),
        pytest.param(("redis://localhost",), {"lease": 1.001}, id="lease-beyond-lead"),
    ],
)
def test_bad_settings_are_configuration_errors(
    args: tuple[object], kwargs: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError):
        RedisLimiter(*args, **kwargs)  # type: ignore[arg-type]


def test_bridge_rejects_a_limiter_of_the_wrong_kind() -> None:
    with pytest.raises(ConfigurationError, match="limiter"):
        TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET), limiter="redis://x")  # type: ignore[arg-type]


def test_url_password_stays_out_of_repr_and_errors() -> None:
    password = secrets.token_hex(16)
    limiter = RedisLimiter(f"redis://:{password}@127.0.0.1:6390/3")
    assert password not in repr(limiter)
    assert "127.0.0.1:6390" in repr(limiter)
    with pytest.raises(ConfigurationError) as info:
        RedisLimiter(f"redis://:{password}@[bad")
    assert password not in str(info.value)


def test_missing_redis_client_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"aiotaskbridge\[redis\]"):
        RedisLimiter("redis://localhost")


async def test_fallback_takes_its_share_after_the_known_schedule() -> None:
    async with RedisLimiter("redis://127.0.0.1:1/0") as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        budget._processes = 4  # as Redis last counted
        budget._horizon = asyncio.get_running_loop().time() + 100.0  # far ahead, to see it
        budget._fall_back(ConnectionError("down"))
        fallback = budget._fallback
        assert fallback is not None
        assert fallback.per_minute == 150  # a quarter of 600
        # It owes a quarter of one burst (10) and accrues only from the known horizon.
        assert fallback._tokens == -2.5
        assert fallback._updated >= budget._horizon


async def test_fallback_share_before_any_answer_is_conservative() -> None:
    async with RedisLimiter("redis://127.0.0.1:1/0") as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        budget._fall_back(ConnectionError("down"))
        assert budget._fallback is not None
        assert budget._fallback.per_minute == pytest.approx(600 * tb_redis.UNKNOWN_SHARE)


async def test_the_bridge_closes_its_limiter(redis_server: RedisServer) -> None:
    limiter = RedisLimiter(redis_server.url)
    closed: list[bool] = []
    close = limiter.aclose

    async def recording() -> None:
        closed.append(True)
        await close()

    limiter.aclose = recording  # type: ignore[method-assign]
    async with TaskBridge(cakewalk=CakewalkConfig(KEY, SECRET), limiter=limiter):
        pass
    assert closed == [True]


# Leases: one call reserves a slice of the smooth schedule, handed out locally.


async def _log(client: redis.Redis, budget: Any) -> list[tuple[str, int]]:
    """The shared 60-s log: (member, start in us of Redis' clock), oldest first."""
    return [(m, int(t)) for m, t in await client.zrange(budget.keys[1], 0, -1, withscores=True)]


def _order(member: str) -> tuple[int, int]:
    """A log member's place in its process' calls: (call sequence, start in the lease)."""
    _, seq, *lease = member.split(":")
    return int(seq), int(lease[0][1:]) if lease else 1


async def test_a_lease_is_handed_out_in_order_one_call_per_lease(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 600/min (10/s, a burst of 10), lease=0.5: 5 starts per call. 20 admissions, one
    # after the other: 4 calls (one more now and then if a stalled loop lets a leased
    # start pass; one call per admission would be 20).
    conn = CountingRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)  # so that each admission is one evalsha, the first too
    try:
        async with RedisLimiter(conn, lease=0.5) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            for _ in range(20):
                await asyncio.wait_for(budget.acquire(), 5)
            granted = list(budget._grants)
            log = await _log(client, budget)
    finally:
        await conn.aclose()
    assert 4 <= conn.admissions <= 10
    assert len(log) == 5 * conn.admissions  # every call reserved a whole lease
    # Handed out in the schedule's order: the process' grants, and Redis' log read in
    # the order of the calls and of the starts in each lease, never go back in time.
    assert granted == sorted(granted)
    by_call = [t for _, t in sorted(log, key=lambda e: _order(e[0]))]
    assert by_call == sorted(by_call)
    # The smooth schedule: after the burst of 10, one start every 100 ms.
    for k in range(10, len(by_call)):
        assert by_call[k] - by_call[0] >= (k - 9) * 100_000


async def test_a_lease_never_reserves_more_than_the_lead_ahead(redis_server: RedisServer) -> None:
    # lease=1.0 at 600/min asks for 10 starts a call: asked 10 times at once, Redis
    # reserves the burst and about LEAD's worth, each start at most LEAD ahead.
    async with RedisLimiter(redis_server.url, lease=1.0) as limiter:
        budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
        assert budget._lease.count == 10
        ahead: list[float] = []
        for _ in range(10):
            delay = await budget._call()
            if budget._reserved:
                assert delay is not None
                ahead += [delay, *(delay + d / 1e6 for d in budget._more)]
        assert 10 + 9 <= len(ahead) <= 10 + 11
        assert ahead == sorted(ahead)
        # Half a second on, the next start is at most 0.6 s away: a lease of 10 from
        # there would reach 1.5 s; it stops at the lead.
        await asyncio.sleep(0.5)
        delay = await budget._call()
        assert budget._reserved and delay is not None
        later = [delay, *(delay + d / 1e6 for d in budget._more)]
    assert max(ahead) <= tb_redis.LEAD
    assert max(later) <= tb_redis.LEAD
    assert len(later) < 10


async def test_two_leasing_processes_keep_the_smooth_bound(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # Two processes on one key at 600/min, leases of 5, eight callers each: Redis'
    # schedule (its own clock) holds the burst of 10 then one start per 100 ms for the
    # two together, and no more than 10/s plus one burst had started by any moment.
    rate, burst = 10, 10
    limiters = [RedisLimiter(redis_server.url, lease=0.5) for _ in range(2)]
    budgets = [lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG) for lim in limiters]
    starts: list[float] = []

    async def caller(budget: Any) -> None:
        while len(starts) < 40:
            await budget.acquire()
            starts.append(time.monotonic())

    first = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(caller(budgets[n % 2]) for n in range(16))), 30)
        log = sorted(t for _, t in await _log(client, budgets[0]))
    finally:
        for limiter in limiters:
            await limiter.aclose()
    processes = {m.split(":")[0] for m, _ in await _log(client, budgets[0])}
    assert len(processes) == 2  # both took leases
    for k in range(burst, len(log)):
        assert log[k] - log[0] >= (k - burst + 1) * 100_000
    assert max_in_window(log, 1_000_000) <= rate + burst
    assert over_the_rate(starts, first, rate, burst) <= 1


async def test_a_process_that_dies_with_a_lease_costs_the_others_that_lease(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 600/min: the burst of 10 taken, A leases the next 5 starts (100 ms apart) and never
    # comes back; B's next start is exactly one interval after A's last, on Redis' clock:
    # A's death cost B five starts (its lease), no more.
    async with (
        RedisLimiter(redis_server.url) as drain,
        RedisLimiter(redis_server.url, lease=0.5) as dead,
        RedisLimiter(redis_server.url, lease=0.5) as alive,
    ):
        first = drain.limiter("cakewalk", per_minute=600, config=CONFIG)
        for _ in range(10):
            await first._call()
        a = dead.limiter("cakewalk", per_minute=600, config=CONFIG)
        await a._call()
        a_starts = sorted(t for m, t in await _log(client, a) if m.startswith(dead._process))
        b = alive.limiter("cakewalk", per_minute=600, config=CONFIG)
        await b._call()
        b_first = int(await client.hget(b.keys[0], "last")) - 4 * 100_000
    assert len(a_starts) == 5
    assert [t - a_starts[0] for t in a_starts] == [0, 100_000, 200_000, 300_000, 400_000]
    assert b_first == a_starts[-1] + 100_000


async def test_a_leased_start_nobody_takes_in_time_passes_unused(
    redis_server: RedisServer,
) -> None:
    # 600/min: a lease of 5 starts, all in the burst (now). One is taken; the other
    # four are more than one interval (100 ms) old when the next caller comes: they pass
    # unused, and that caller asks Redis again.
    conn = CountingRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)  # so that each admission is one evalsha, the first too
    try:
        async with RedisLimiter(conn, lease=0.5) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 5)
            assert len(budget._lease) == 4
            assert budget._lease.take() == 0.0  # due (a few µs past): start at once
            assert conn.admissions == 1 and len(budget._lease) == 3  # taken in time
            await asyncio.sleep(0.15)
            await asyncio.wait_for(budget.acquire(), 5)
            assert conn.admissions == 2
            assert len(budget._lease) == 4  # a fresh lease, less the start just taken
    finally:
        await conn.aclose()


async def test_a_pause_voids_the_rest_of_the_lease(redis_server: RedisServer) -> None:
    conn = CountingRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)  # so that each admission is one evalsha, the first too
    try:
        async with RedisLimiter(conn, lease=0.5) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 5)
            assert len(budget._lease) == 4
            budget.pause(20)  # a 429 with Retry-After: 20
            assert not budget._lease
            await asyncio.wait_for(asyncio.gather(*limiter._tasks), 5)
            # The next admission asks Redis, which says: after the shared pause.
            task = asyncio.ensure_future(budget.acquire())
            while conn.admissions < 2:  # noqa: ASYNC110 - counts calls: nothing to await
                await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            delay = await budget._call()
    finally:
        await conn.aclose()
    assert budget._reserved is False  # beyond LEAD: nothing reserved
    assert delay is not None and delay > 15


async def test_without_a_rate_a_lease_changes_nothing(redis_server: RedisServer) -> None:
    # requests_per_minute=None: every admission still asks Redis (for the shared pause).
    conn = CountingRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)  # so that each admission is one evalsha, the first too
    try:
        async with RedisLimiter(conn, lease=0.5) as limiter:
            budget = limiter.limiter("alumio", per_minute=None, config=CONFIG)
            for _ in range(5):
                await asyncio.wait_for(budget.acquire(), 5)
    finally:
        await conn.aclose()
    assert conn.admissions == 5
    assert not budget._lease


async def test_flushall_mid_lease_keeps_the_bound(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # A takes the burst (it knows the budget), B leases the next 10 starts (lease=1.0,
    # up to 1 s ahead) and hands them to its 10 callers without asking Redis again;
    # Redis is flushed right after B's call, and A goes on alone: together they stay
    # within 10/s plus one burst (A's recreated budget starts after LEAD).
    rate, burst = 10, 10
    a_lim = RedisLimiter(redis_server.url, timeout=5.0)
    b_lim = RedisLimiter(redis_server.url, lease=1.0)
    a = a_lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG)
    b = b_lim.limiter("cakewalk", per_minute=rate * 60, config=CONFIG)
    starts: list[float] = []

    async def take(budget: Any) -> None:
        await budget.acquire()
        starts.append(time.monotonic())

    async def a_loops() -> None:
        while len(starts) < 50:
            await take(a)

    first = time.monotonic()
    try:
        for _ in range(burst):
            await take(a)
        b_jobs = [asyncio.ensure_future(take(b)) for _ in range(10)]
        while len(b._grants) < 2:  # noqa: ASYNC110 - B's lease arrives with its one call
            await asyncio.sleep(0.001)
        await client.flushall()
        await asyncio.wait_for(asyncio.gather(*b_jobs, *(a_loops() for _ in range(10))), 40)
    finally:
        await a_lim.aclose()
        await b_lim.aclose()
    assert len(starts) >= 50
    assert over_the_rate(starts, first, rate, burst) <= 1


async def test_a_leased_start_a_little_late_is_still_taken(redis_server: RedisServer) -> None:
    # 120/min (one start per 500 ms, a burst of 2): the lease holds the burst's second
    # start. 50 ms late (well within one interval) it is still taken, not dropped.
    conn = CountingRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)
    try:
        async with RedisLimiter(conn, lease=0.5) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=120, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 5)
            await asyncio.sleep(0.05)
            assert budget._lease.take() == 0.0
            assert conn.admissions == 1
    finally:
        await conn.aclose()


class TimedRedis(CountingRedis):  # type: ignore[misc]
    """Counts the admission calls and notes when each was made (monotonic)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: list[float] = []
        self.replies: list[Any] = []

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        if numkeys == 4:
            self.times.append(time.monotonic())
        reply = await super().evalsha(sha, numkeys, *keys_and_args)
        if numkeys == 4:
            self.replies.append(reply)
        return reply


@pytest.mark.parametrize("lease", [0.5, 1.0])
async def test_a_saturated_leasing_process_asks_once_per_whole_lease(
    redis_server: RedisServer, client: redis.Redis, lease: float
) -> None:
    # One process at 600/min, 16 callers, 60 starts: it asks Redis when its own last
    # start is close enough for a whole lease (lease=0.5: 5 starts) or at least half
    # the lead (lease=1.0: 10 starts wanted, 5 or more fit): never told to wait, every
    # call reserves that much, and the schedule never runs dry (on Redis' clock, after
    # the burst, one start every 100 ms exactly: no gap, and no second burst). Once
    # going, it asks while its last start is still about half the lead ahead, so the
    # first start of each new lease is 0.5-0.6 s away (a stall of 0.3 s is absorbed).
    conn = TimedRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)
    starts = 0
    try:
        async with RedisLimiter(conn, lease=lease) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)

            async def caller() -> None:
                nonlocal starts
                while starts < 60:
                    await budget.acquire()
                    starts += 1

            await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(16))), 30)
            log = await _log(client, budget)
    finally:
        await conn.aclose()
    per_call: dict[int, int] = {}
    for member, _ in log:
        seq = _order(member)[0]
        per_call[seq] = per_call.get(seq, 0) + 1
    assert len(per_call) == conn.admissions  # no call answered "wait"
    assert min(per_call.values()) >= 5
    times = sorted(t for _, t in log)
    gaps = [b - a for a, b in itertools.pairwise(times[10:])]
    assert gaps == [100_000] * len(gaps), gaps
    ahead = [int(reply[1]) for reply in conn.replies[3:]]
    assert ahead and min(ahead) >= 200_000, ahead


async def test_without_a_lease_concurrent_callers_each_ask_at_once(
    redis_server: RedisServer,
) -> None:
    # No lease, 600/min, the burst taken: 8 callers at once each reserve their start
    # (100 ms apart) right away; none waits for an earlier start to ask (the 8th call
    # would then come 0.7 s after the first).
    conn = TimedRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)
    try:
        async with RedisLimiter(conn) as limiter:
            budget = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            for _ in range(10):
                await budget._call()
            conn.times.clear()
            await asyncio.wait_for(asyncio.gather(*(budget.acquire() for _ in range(8))), 10)
    finally:
        await conn.aclose()
    assert len(conn.times) == 8
    assert conn.times[-1] - conn.times[0] < 0.6


async def _fill_the_lead(limiter: RedisLimiter) -> None:
    """Reserve every start up to the lead (600/min: the burst and the next second)."""
    full = limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
    while True:
        await full._call()
        if not full._reserved:
            return


async def test_processes_told_to_wait_are_queued_one_lease_apart(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # 600/min, the schedule full up to the lead: two leasing processes (5 starts, 0.5 s
    # each) are told to wait; the second is told to come one lease after the first
    # (the queue, on Redis' clock).
    async with (
        RedisLimiter(redis_server.url) as filler,
        RedisLimiter(redis_server.url, lease=0.5) as first,
        RedisLimiter(redis_server.url, lease=0.5) as second,
    ):
        await _fill_the_lead(filler)
        a = first.limiter("cakewalk", per_minute=600, config=CONFIG)
        b = second.limiter("cakewalk", per_minute=600, config=CONFIG)
        await a._call()
        queued_a = int(await client.hget(a.keys[0], "queue"))
        await b._call()
        queued_b = int(await client.hget(a.keys[0], "queue"))
    assert not a._reserved and not b._reserved
    assert queued_b - queued_a == 500_000


async def test_a_process_told_to_wait_asks_again_when_its_lease_fits(
    redis_server: RedisServer,
) -> None:
    # The schedule full up to the lead (its next start 0.9-1.1 s away): told to wait,
    # a leasing process asks again when a whole lease fits, 0.3-0.5 s later (not a
    # second later), and is granted then.
    conn = TimedRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)
    try:
        async with (
            RedisLimiter(redis_server.url) as filler,
            RedisLimiter(conn, lease=0.5) as leasing,
        ):
            await _fill_the_lead(filler)
            budget = leasing.limiter("cakewalk", per_minute=600, config=CONFIG)
            await asyncio.wait_for(budget.acquire(), 10)
    finally:
        await conn.aclose()
    assert len(conn.times) == 2
    assert conn.times[1] - conn.times[0] < 0.9
    assert len(budget._lease) == 4


async def test_a_lease_waits_until_half_of_it_fits(redis_server: RedisServer) -> None:
    # lease=1.0 at 600/min wants 10 starts: with the next start 0.8-0.9 s away only one
    # or two would fit within the lead, so Redis says "wait" rather than lease a sliver
    # (5 must fit: the next start at most 0.6 s away).
    async with (
        RedisLimiter(redis_server.url) as filler,
        RedisLimiter(redis_server.url, lease=1.0) as leasing,
    ):
        await _fill_the_lead(filler)
        await asyncio.sleep(0.2)
        budget = leasing.limiter("cakewalk", per_minute=600, config=CONFIG)
        delay = await budget._call()
    assert not budget._reserved
    assert delay is not None and delay > tb_redis.LEAD - 0.4


@pytest.mark.parametrize(
    ("seconds", "per_minute", "count", "late", "ask_within"),
    [
        pytest.param(0.5, 600, 5, 0.1, 0.5, id="600/min-0.5s"),
        pytest.param(1.0, 600, 10, 0.1, 0.4, id="600/min-1s: half the lead"),
        pytest.param(0.2, 6000, 20, 0.01, 0.8, id="6000/min-0.2s"),
        pytest.param(0.2, 60, 5, 1.0, -0.5, id="60/min: at least 5 asked for"),
        pytest.param(0.2, 1e8, 100, 0.001, None, id="at most 100, late at least 1 ms"),
        pytest.param(None, 600, 1, 0.001, 0.0, id="no lease"),
        pytest.param(0.5, None, 1, 0.001, 0.0, id="no rate"),
    ],
)
def test_a_lease_is_sized_from_the_rate(
    seconds: float | None,
    per_minute: float | None,
    count: int,
    late: float,
    ask_within: float | None,
) -> None:
    # The documented sizing (docs/guides/many-processes.md): S x rate starts, at least
    # MIN_LEASE, at most MAX_LEASE; a start may be handed out up to one interval late
    # (at least LATE); the next lease is asked for once the own last start is within
    # LEAD less a whole lease (at most half the lead) less one interval.
    lease = Lease(seconds, per_minute, tb_redis.LEAD)
    assert lease.count == count
    assert lease.late == pytest.approx(late)
    if ask_within is not None:
        assert lease.ask_within == pytest.approx(ask_within)


async def test_saturated_leasing_processes_take_turns_without_being_told_to_wait(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # Three leasing processes on one key at 600/min (lease=0.5: 5 starts a call), each
    # with 16 callers, 60 starts in all: the lead (1 s) holds two leases, so they take
    # turns. Each call that reserves a lease also books that process' next turn, so a
    # process is told "wait" only before its first booked turn (2 in all, seen), or
    # when a loaded box made it miss a turn (allowed: 2 per process), not before each
    # lease (asked at once after a lease, it would be told to wait every time: 19 of
    # 120 starts before booking). Every call reserves at least 5 starts.
    conns = [TimedRedis.from_url(redis_server.url) for _ in range(3)]
    for conn in conns:
        await conn.script_load(ADMIT)
    starts = 0
    try:
        async with contextlib.AsyncExitStack() as stack:
            budgets = []
            for conn in conns:
                limiter = await stack.enter_async_context(RedisLimiter(conn, lease=0.5))
                budgets.append(limiter.limiter("cakewalk", per_minute=600, config=CONFIG))

            async def caller(budget: Any) -> None:
                nonlocal starts
                while starts < 60:
                    await budget.acquire()
                    starts += 1

            callers = (caller(budget) for budget in budgets for _ in range(16))
            await asyncio.wait_for(asyncio.gather(*callers), 60)
            log = await _log(client, budgets[0])
    finally:
        for conn in conns:
            await conn.aclose()
    waits = sum(reply[0] == 3 for conn in conns for reply in conn.replies)
    assert waits <= 6, [[int(r[0]) for r in conn.replies] for conn in conns]
    per_call: dict[tuple[str, int], int] = {}
    for member, _ in log:
        key = (member.split(":")[0], _order(member)[0])
        per_call[key] = per_call.get(key, 0) + 1
    assert min(per_call.values()) >= 5, per_call
    assert max_in_window([t / 1e6 for _, t in log], 1.0) <= 20


async def test_only_a_process_with_more_callers_than_a_lease_books_its_next_turn(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    # lease=0.5 at 600/min is 5 starts. One caller at a time (7 admissions, 2 calls)
    # books no turn: its next ask follows its own last start, and no other process is
    # queued behind a turn it may never take. 12 callers at once: the first call is
    # made before the others arrive, the second with 7 waiting, so it books a turn
    # (Redis' queue moves; no call is told to wait, which would move it too).
    conn = TimedRedis.from_url(redis_server.url)
    await conn.script_load(ADMIT)
    try:
        async with (
            RedisLimiter(redis_server.url, lease=0.5) as idle_limiter,
            RedisLimiter(conn, lease=0.5) as busy_limiter,
        ):
            idle = idle_limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            for _ in range(7):
                await asyncio.wait_for(idle.acquire(), 5)
            assert idle._lease.booked is None
            assert await client.hget(idle.keys[0], "queue") is None
            busy = busy_limiter.limiter("cakewalk", per_minute=600, config=CONFIG)
            await asyncio.wait_for(asyncio.gather(*(busy.acquire() for _ in range(12))), 5)
            assert await client.hget(busy.keys[0], "queue") is not None
            assert idle._callers == busy._callers == 0  # the demand counted is gone
    finally:
        await conn.aclose()
    assert [int(reply[0]) for reply in conn.replies] == [1, 1, 1]


async def test_a_cancelled_caller_no_longer_counts_as_demand(redis_server: RedisServer) -> None:
    # The schedule full up to the lead: a caller waits for its turn; cancelled, it no
    # longer counts among the callers a lease is sized against (a leak would make a
    # process with no demand book turns forever).
    async with (
        RedisLimiter(redis_server.url) as filler,
        RedisLimiter(redis_server.url, lease=0.5) as leasing,
    ):
        await _fill_the_lead(filler)
        budget = leasing.limiter("cakewalk", per_minute=600, config=CONFIG)
        waiting = [asyncio.create_task(budget.acquire()) for _ in range(2)]
        await asyncio.sleep(0.1)
        assert budget._callers == 2
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert budget._callers == 0


@pytest.mark.parametrize(
    ("seconds", "callers", "saturated"),
    [(0.5, 5, False), (0.5, 6, True), (None, 100, False)],
)
def test_a_lease_is_saturated_when_more_callers_wait_than_it_serves(
    seconds: float | None, callers: int, saturated: bool
) -> None:
    lease = Lease(seconds, 600, tb_redis.LEAD)
    assert lease.saturated(callers) is saturated


def test_a_booked_turn_sets_when_to_ask_and_a_pause_voids_it() -> None:
    # A reply's tail after a reserved lease: the booked turn (us from now), then the
    # later starts; without a booking the turn is ignored (the own last start rules).
    lease = Lease(0.5, 600, tb_redis.LEAD)
    lease.last = time.monotonic() + 0.3
    assert lease.read_booking([700_000, 1, 2], booking=True, now=time.monotonic()) == [1, 2]
    assert lease.wait_before_asking() == pytest.approx(0.7, abs=0.05)
    assert lease.read_booking([700_000, 1, 2], booking=False, now=time.monotonic()) == [1, 2]
    assert lease.booked is None
    assert lease.wait_before_asking() == pytest.approx(0.3 - lease.ask_within, abs=0.05)
    lease.read_booking([700_000], booking=True, now=time.monotonic())
    lease.clear()
    assert lease.booked is None
    single = Lease(None, 600, tb_redis.LEAD)
    assert single.read_booking([5, 6], booking=True, now=0.0) == [5, 6]
    assert single.booked is None and single.wait_before_asking() == 0.0
