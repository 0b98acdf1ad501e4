"""Lifecycle misuse fails fast and typed: aclose in flight, another event loop, odd sessions."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from taskbridge import (
    AlumioConfig,
    BridgeClosedError,
    RetryPolicy,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    TaskResult,
)

from .conftest import TOKEN, ScriptedServer, alumio_body, client_tasks, dumps, make_bridge

BOUND = 20.0


def cw(n: int) -> str:
    return str(uuid.UUID(int=n))


async def test_aclose_ends_every_pending_call_with_bridge_closed_error(
    server: ScriptedServer,
) -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/later"):
            # Retried after a long Retry-After: aclose must not wait it out.
            return web.Response(status=503, headers={"Retry-After": "100"})
        arrived.set()
        await release.wait()
        return web.Response(body=dumps(alumio_body()))

    server.handler = held
    retry = RetryPolicy(max_attempts=3, initial_backoff=0, max_retry_after=1000)
    bridge = make_bridge(server, alumio_concurrency=2, cakewalk_concurrency=2, retry=retry)
    async with bridge:
        before = client_tasks()
        refs = [("alumio", f"a-{n}") for n in range(10)] + [("cakewalk", cw(n)) for n in range(5)]
        many = asyncio.ensure_future(bridge.get_many(refs))
        streamed: list[TaskResult] = []

        async def consume() -> None:
            async for result in bridge.stream([("alumio", f"s-{n}") for n in range(10)]):
                streamed.append(result)

        stream = asyncio.ensure_future(consume())
        single = asyncio.ensure_future(bridge.get("alumio", "single"))
        sleeper = asyncio.ensure_future(bridge.get("alumio", "later"))
        await arrived.wait()
        for _ in range(5):
            await asyncio.sleep(0)  # let the 503 arrive and its retry start waiting
        await asyncio.wait_for(bridge.aclose(), BOUND)
        _, pending = await asyncio.wait({many, stream, single, sleeper}, timeout=BOUND)
        release.set()
    assert not pending
    with pytest.raises(BridgeClosedError):
        single.result()
    with pytest.raises(BridgeClosedError):
        sleeper.result()
    results = many.result()
    assert len(results) == len(refs)
    assert all(isinstance(r.error, BridgeClosedError) for r in results)
    stream.result()
    assert len(streamed) == 10
    assert all(isinstance(r.error, BridgeClosedError) for r in streamed)
    assert client_tasks() - before - {many, stream, single, sleeper} == set()
    with pytest.raises(BridgeClosedError):
        await bridge.get("alumio", "after")
    assert isinstance(BridgeClosedError("x"), RuntimeError)


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="3.10 has no Task.uncancel: a cancellation that meets aclose() is taken as aclose's",
)
async def test_aclose_leaves_a_callers_own_cancellation_alone(server: ScriptedServer) -> None:
    arrived = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await asyncio.Event().wait()
        raise AssertionError

    server.handler = held
    bridge = make_bridge(server)
    async with bridge:
        job = asyncio.ensure_future(bridge.get("alumio", "x"))
        await arrived.wait()
        job.cancel()
        await bridge.aclose()
        with pytest.raises(asyncio.CancelledError):
            await job


def test_a_bridge_used_in_another_event_loop_is_refused_at_once() -> None:
    # Port 1 on loopback refuses connections: the first loop creates the session.
    bridge = TaskBridge(
        alumio=AlumioConfig("http://127.0.0.1:1", TOKEN), retry=RetryPolicy(max_attempts=1)
    )
    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()
    try:
        with pytest.raises(TaskBridgeError):
            first.run_until_complete(bridge.get("alumio", "x"))

        async def in_second_loop() -> list[BaseException]:
            errors: list[BaseException] = []
            for call in (
                lambda: bridge.get("alumio", "x"),
                lambda: bridge.get_many([("alumio", "x")]),
                lambda: _drain(bridge.stream([("alumio", "x")])),
            ):
                try:
                    await asyncio.wait_for(call(), BOUND)
                except BaseException as exc:
                    errors.append(exc)
            return errors

        errors = second.run_until_complete(in_second_loop())
        assert [type(e) for e in errors] == [BridgeClosedError] * 3
        assert all("another event loop" in str(e) for e in errors)
    finally:
        first.run_until_complete(bridge.aclose())
        first.close()
        second.close()


async def _drain(results: Any) -> list[TaskResult]:
    return [r async for r in results]


async def test_a_session_that_raises_for_status_does_not_change_classification(
    server: ScriptedServer,
) -> None:
    server.script([(404, {"title": "Not Found"})])
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        make_bridge(server, session=session) as bridge,
    ):
        with pytest.raises(TaskNotFoundError):
            await bridge.get("alumio", "x")
    assert len(server.requests) == 1  # a 404 is not retried


async def test_a_waiter_cancelled_with_the_runner_stays_cancelled(server: ScriptedServer) -> None:
    """On 3.10 a waiter cancelled in the same iteration as the caller running the
    request lost its own cancellation, sent the request again and returned a task."""
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.Response(body=dumps(alumio_body()))

    server.handler = held
    async with make_bridge(server) as bridge:
        runner = asyncio.ensure_future(bridge.get("alumio", "same"))
        await arrived.wait()
        waiter = asyncio.ensure_future(bridge.get("alumio", "same"))
        await asyncio.sleep(0)  # the waiter is now waiting on the runner's request
        runner.cancel()
        waiter.cancel()
        outcomes = await asyncio.gather(runner, waiter, return_exceptions=True)
        release.set()
        assert [type(o) for o in outcomes] == [asyncio.CancelledError] * 2
        assert bridge._engine.inflight == {}
    assert len(server.requests) == 1
