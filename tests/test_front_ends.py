"""Each front end (get, get_many, stream) keeps providers apart and uses a provider's
full concurrency: requests counted at a loopback server."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from taskbridge import QueueTimeoutError, TaskBridge, TaskResult
from taskbridge.sandbox import Sandbox
from taskbridge.testing import VirtualClock

from .conftest import ScriptedServer, alumio_body, cakewalk_body, dumps, make_bridge

SHARED_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"  # a UUID: valid for both providers
BOUND = 10.0  # real seconds: only a broken build waits that long


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


async def test_stream_runs_max_concurrency_requests_of_a_provider_at_once(
    server: ScriptedServer,
) -> None:
    # Every request is held until four are in flight at the server: one at a time
    # (or any number below four) never gets there.
    arrived = 0
    four = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        if arrived == 4:
            four.set()
        await asyncio.wait_for(four.wait(), BOUND)
        asked = request.path.rsplit("/", 1)[-1]  # the answer is for the task asked for
        body = dumps(alumio_body(identifier=asked))
        return web.Response(body=body, content_type="application/json")

    server.handler = handler
    async with make_bridge(server, alumio_concurrency=4) as bridge:

        async def collect() -> list[TaskResult]:
            return [r async for r in bridge.stream(("alumio", f"t-{n}") for n in range(12))]

        results = await asyncio.wait_for(collect(), BOUND)
    assert all(r.ok for r in results)
    assert server.peak_in_flight["alumio"] == 4


@pytest.mark.parametrize(
    ("backlog", "read"), [(0, 2 + 0 + 1), (3, 2 + 3 + 1), (None, 2 + 1024 + 1)]
)
async def test_stream_reads_ahead_exactly_concurrency_plus_backlog(
    server: ScriptedServer, backlog: int | None, read: int
) -> None:
    # Requests are held at the server: the stream admits 2 in flight + the backlog (1024
    # by default), pulls one more ref (waiting for room) and then reads no further.
    release = asyncio.Event()
    arrived = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        await asyncio.wait_for(release.wait(), BOUND)
        asked = request.path.rsplit("/", 1)[-1]
        return web.Response(
            body=dumps(alumio_body(identifier=asked)), content_type="application/json"
        )

    pulled = 0

    def refs() -> Iterator[tuple[str, str]]:
        nonlocal pulled
        for n in range(2000):
            pulled += 1
            yield ("alumio", f"t-{n}")

    server.handler = handler
    async with make_bridge(server, alumio_concurrency=2) as bridge:
        results = bridge.stream(refs(), backlog=backlog)
        first = asyncio.ensure_future(results.__anext__())
        for _ in range(200):  # bounded: the reader and the workers settle
            await asyncio.sleep(0.001)
            if arrived == 2 and pulled >= read:
                break
        for _ in range(20):
            await asyncio.sleep(0)
        assert (arrived, pulled) == (2, read)
        # Two workers, both in flight: none is parked at the gate waiting for a slot.
        assert bridge.stats().providers["alumio"].queued == 0
        release.set()
        assert (await asyncio.wait_for(first, BOUND)).ok
        await results.aclose()


async def test_a_long_stream_keeps_no_finished_worker(server: ScriptedServer) -> None:
    # Memory is O(concurrency + backlog) whatever the input's length: workers that left
    # (the backlog ran dry) are not kept until the stream ends.
    async def handler(request: web.Request) -> web.StreamResponse:
        asked = request.path.rsplit("/", 1)[-1]
        return web.Response(
            body=dumps(alumio_body(identifier=asked)), content_type="application/json"
        )

    async def refs() -> AsyncIterator[tuple[str, str]]:
        for n in range(300):
            await asyncio.sleep(0.001)  # the backlog runs dry between two refs
            yield ("alumio", f"t-{n}")

    def stream_workers_done() -> list[asyncio.Task[object]]:
        # Only this stream's workers: finished tasks of earlier tests (in a random
        # order, whatever ran before) are not this test's to count.
        return [
            o
            for o in gc.get_objects()
            if isinstance(o, asyncio.Task)
            and o.done()
            and id(o) not in before
            and getattr(o.get_coro(), "__qualname__", "").endswith("stream.<locals>.work")
        ]

    server.handler = handler
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, asyncio.Task)}
    async with make_bridge(server, alumio_concurrency=2) as bridge:
        count = 0
        async for result in bridge.stream(refs()):
            assert result.ok
            count += 1
            if count == 250:
                gc.collect()
                assert len(stream_workers_done()) < 50
    assert count == 300


async def test_a_stream_ref_whose_turn_comes_after_max_queue_wait_is_refused() -> None:
    # As in get_many: one slot at 60/min on the virtual clock; turns come at 0, 0, 1,
    # 2, 3 s; max_queue_wait 2 s refuses only the last, without a request.
    async with VirtualClock(), Sandbox(any_id=True) as sandbox:
        config = sandbox.alumio_config(max_concurrency=1, requests_per_minute=60, max_queue_wait=2)
        async with TaskBridge(alumio=config) as bridge:

            async def collect() -> list[TaskResult]:
                return [r async for r in bridge.stream(("alumio", f"turn-{n}") for n in range(5))]

            results = await asyncio.wait_for(collect(), BOUND)
    assert [r.ok for r in results] == [True, True, True, True, False]
    assert isinstance(results[4].error, QueueTimeoutError)
    assert "its turn in the batch came later" in str(results[4].error)
    assert [r.attempts for r in results] == [1, 1, 1, 1, 0]  # refused: no attempt
    assert sandbox.stats.alumio.requests == 4


async def test_workers_that_left_are_not_counted_twice(server: ScriptedServer) -> None:
    # Refs come slowly at first (each worker leaves when the backlog runs dry), then
    # quickly to a server that holds them: still two workers, both in flight.
    release = asyncio.Event()
    held = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal held
        asked = request.path.rsplit("/", 1)[-1]
        if asked.startswith("hold-"):
            held += 1
            await asyncio.wait_for(release.wait(), BOUND)
        return web.Response(
            body=dumps(alumio_body(identifier=asked)), content_type="application/json"
        )

    async def refs() -> AsyncIterator[tuple[str, str]]:
        for n in range(5):
            await asyncio.sleep(0.02)  # the backlog runs dry: the worker leaves
            yield ("alumio", f"slow-{n}")
        for n in range(10):
            yield ("alumio", f"hold-{n}")

    server.handler = handler
    async with make_bridge(server, alumio_concurrency=2) as bridge:
        results = bridge.stream(refs())
        got = [await asyncio.wait_for(results.__anext__(), BOUND) for _ in range(5)]
        assert all(r.ok for r in got)
        for _ in range(200):  # bounded: the workers reach the server
            await asyncio.sleep(0.001)
            if held == 2:
                break
        for _ in range(20):
            await asyncio.sleep(0)
        assert held == 2
        assert bridge.stats().providers["alumio"].queued == 0
        release.set()
        rest = [await asyncio.wait_for(results.__anext__(), BOUND) for _ in range(10)]
        assert all(r.ok for r in rest)
        await results.aclose()
