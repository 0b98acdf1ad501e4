"""Behaviours mutation testing could break with the rest of the suite still green."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

import taskbridge._engine.retry
import taskbridge._facade.bridge
from taskbridge import DecodeError, RateLimitedError, RetryPolicy
from taskbridge.testing import use_clock

from .conftest import FakeClock, ScriptedServer, alumio_body, dumps, make_bridge

BOUND = 20.0


@pytest.fixture
def held_sleeps(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[list[float], asyncio.Event, asyncio.Event]]:
    """The first wait is held until released (time stands still); later ones are skipped."""
    waits: list[float] = []
    release = asyncio.Event()
    waiting = asyncio.Event()

    async def fake_sleep(delay: float) -> None:
        waits.append(delay)
        waiting.set()
        if len(waits) == 1:
            await asyncio.wait_for(release.wait(), BOUND)
        else:
            clock.skipped += delay

    clock = FakeClock(fake_sleep)
    # Full jitter always draws its ceiling, so the backoff is known: 4 s.
    monkeypatch.setattr(taskbridge._engine.retry.random, "uniform", lambda low, high: high)
    with use_clock(clock):
        yield waits, release, waiting


async def test_a_429_without_retry_after_pauses_the_whole_provider(
    server: ScriptedServer, held_sleeps: tuple[list[float], asyncio.Event, asyncio.Event]
) -> None:
    waits, release, waiting = held_sleeps
    server.script([(429, {}), (200, alumio_body())])
    retry = RetryPolicy(max_attempts=2, initial_backoff=4.0, max_backoff=4.0)
    async with make_bridge(server, retry=retry) as bridge:
        first = asyncio.ensure_future(bridge.get("alumio", "x"))
        await asyncio.wait_for(waiting.wait(), BOUND)
        await asyncio.wait_for(bridge.get("alumio", "y"), BOUND)  # sent during the pause
        release.set()
        await asyncio.wait_for(first, BOUND)
    assert waits[0] == 4.0
    assert 3.0 < waits[1] <= 4.0  # "y" waited out the pause the 429 started
    assert [r.path for r in server.requests][:2] == ["/api/v1/tasks/x", "/api/v1/tasks/y"]


async def test_a_retry_after_equal_to_max_retry_after_is_waited_for(
    server: ScriptedServer,
) -> None:
    clock = FakeClock()  # time jumps: the pause the 429 started is over too
    waits = clock.sleeps
    server.script([(429, {}, {"Retry-After": "60"}), (200, alumio_body())])
    retry = RetryPolicy(max_attempts=2, max_retry_after=60.0)
    with use_clock(clock):
        bridge = make_bridge(server, retry=retry)
    async with bridge:
        task = await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
    assert task.id == "order-export-42"
    assert waits[0] == 60.0
    assert len(server.requests) == 2


async def test_a_retry_after_one_second_above_max_retry_after_is_not(
    server: ScriptedServer,
) -> None:
    server.script([(429, {}, {"Retry-After": "61"}), (200, alumio_body())])
    async with make_bridge(server, retry=RetryPolicy(max_retry_after=60.0)) as bridge:
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
    assert info.value.retry_after == 61.0
    assert len(server.requests) == 1


BODY = dumps(alumio_body())


async def _sized(request: web.Request) -> web.StreamResponse:
    return web.Response(body=BODY, content_type="application/json")


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(BODY), 100):
        await response.write(BODY[start : start + 100])
    await response.write_eof()
    return response


async def _gzipped(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=gzip.compress(BODY),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_sized, id="content-length"),
        pytest.param(_chunked, id="chunked"),
        pytest.param(_gzipped, id="gzip"),
    ],
)
@pytest.mark.parametrize(
    ("limit", "ok"),
    [
        pytest.param(len(BODY), True, id="exactly-the-limit"),
        pytest.param(len(BODY) - 1, False, id="one-byte-over"),
    ],
)
async def test_max_response_bytes_is_the_exact_bound(
    server: ScriptedServer, handler: Any, limit: int, ok: bool
) -> None:
    server.handler = handler
    async with make_bridge(server, max_response_bytes=limit) as bridge:
        if ok:
            assert (await bridge.get("alumio", "x")).id == "order-export-42"
        else:
            with pytest.raises(DecodeError, match="max_response_bytes"):
                await bridge.get("alumio", "x")
