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
from taskbridge import DecodeError, RateLimitedError, RetryPolicy, TaskResult
from taskbridge.testing import use_clock

from .conftest import FakeClock, ScriptedServer, alumio_body, cakewalk_body, dumps, make_bridge

SHARED_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"  # a UUID: valid for both providers
BOUND = 20.0


def both_arrive(server: ScriptedServer) -> None:
    """Answer each provider with its own task, only once both requests are in flight."""
    arrived: set[str] = set()
    both = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        cakewalk = request.path.startswith("/api/v1/Tasks/")
        arrived.add("cakewalk" if cakewalk else "alumio")
        if len(arrived) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), BOUND)
        body = cakewalk_body(id=SHARED_ID) if cakewalk else alumio_body(identifier=SHARED_ID)
        return web.Response(body=dumps(body), content_type="application/json")

    server.handler = handler


def check_providers(results: list[TaskResult], server: ScriptedServer) -> None:
    assert sorted((r.ref.provider, r.unwrap().provider) for r in results) == [
        ("alumio", "alumio"),
        ("cakewalk", "cakewalk"),
    ]
    assert server.count("cakewalk") == 1
    assert server.count("alumio") == 1


REFS = [("cakewalk", SHARED_ID), ("alumio", SHARED_ID)]


async def test_one_id_under_both_providers_at_once_in_get(server: ScriptedServer) -> None:
    both_arrive(server)
    async with make_bridge(server) as bridge:
        cakewalk, alumio = await asyncio.wait_for(
            asyncio.gather(bridge.get(*REFS[0]), bridge.get(*REFS[1])), BOUND
        )
    assert (cakewalk.provider, alumio.provider) == ("cakewalk", "alumio")
    assert len(server.requests) == 2


async def test_one_id_under_both_providers_at_once_in_get_many(server: ScriptedServer) -> None:
    both_arrive(server)
    async with make_bridge(server) as bridge:
        results = await asyncio.wait_for(bridge.get_many(REFS), BOUND)
    check_providers(results, server)


async def test_one_id_under_both_providers_at_once_in_stream(server: ScriptedServer) -> None:
    both_arrive(server)
    async with make_bridge(server) as bridge:

        async def collect() -> list[TaskResult]:
            return [r async for r in bridge.stream(REFS)]

        results = await asyncio.wait_for(collect(), BOUND)
    check_providers(results, server)


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
    assert task.id == "x"
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


ASKED = "order-export-42"  # the task BODY holds (an answer for another is refused)
BODY = dumps(alumio_body(identifier=ASKED))


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
            assert (await bridge.get("alumio", ASKED)).id == ASKED
        else:
            with pytest.raises(DecodeError, match="max_response_bytes"):
                await bridge.get("alumio", ASKED)
