"""The engine's edges the other files leave: a request closed or failed with a second
caller waiting on it, tasks the bridge must not keep or cancel, a 5xx with
``Retry-After``, closed views, how far `stream` reads ahead of refused refs, and a
bridge used from another event loop (issue 21's mutation run of ``engine.py``)."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from taskbridge import (
    AlumioConfig,
    BridgeClosedError,
    ConfigurationError,
    RetryPolicy,
    TaskBridge,
    TaskNotFoundError,
    TaskResult,
)
from taskbridge.testing import use_clock

from .conftest import (
    TOKEN,
    FakeClock,
    ScriptedServer,
    alumio_body,
    dumps,
    for_request,
    make_bridge,
)

BOUND = 10.0  # real seconds: only a broken build waits that long


class Held:
    """A handler that holds every answer until ``release`` is set, then answers with
    ``status`` (an alumio task on 200); ``arrived`` is set by the first request."""

    def __init__(self, server: ScriptedServer, status: int = 200) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.status = status
        server.handler = self.answer

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.arrived.set()
        await asyncio.wait_for(self.release.wait(), BOUND)
        if self.status != 200:
            return web.Response(status=self.status, body=dumps({"title": "nope"}))
        body = for_request(alumio_body(), request)
        return web.Response(body=body, content_type="application/json")

    async def first(self) -> None:
        await asyncio.wait_for(self.arrived.wait(), BOUND)


async def joined(call: asyncio.Future[Any]) -> None:
    """Let ``call`` reach the request already in flight it joins."""
    for _ in range(3):
        await asyncio.sleep(0)
    assert not call.done()


# A request that ends while a second caller waits on it (de-duplication).


async def test_a_caller_waiting_on_a_request_that_close_ended_gets_bridge_closed_error(
    server: ScriptedServer,
) -> None:
    held = Held(server)
    async with make_bridge(server) as bridge:
        runner = asyncio.ensure_future(bridge.get("alumio", "same"))
        await held.first()
        waiter = asyncio.ensure_future(bridge.get("alumio", "same"))
        await joined(waiter)
        await asyncio.wait_for(bridge.aclose(), BOUND)
        done, _ = await asyncio.wait({runner, waiter}, timeout=BOUND)
        held.release.set()
    assert done == {runner, waiter}  # the waiter is not left waiting forever
    for call in (runner, waiter):
        assert isinstance(call.exception(), BridgeClosedError)
    assert len(server.requests) == 1


async def test_a_caller_waiting_on_a_request_that_failed_gets_the_same_error(
    server: ScriptedServer,
) -> None:
    held = Held(server, status=404)
    async with make_bridge(server) as bridge:
        runner = asyncio.ensure_future(bridge.get("alumio", "gone"))
        await held.first()
        waiter = asyncio.ensure_future(bridge.get("alumio", "gone"))
        await joined(waiter)
        held.release.set()
        outcomes = await asyncio.wait_for(
            asyncio.gather(runner, waiter, return_exceptions=True), BOUND
        )
    assert [type(o) for o in outcomes] == [TaskNotFoundError] * 2
    assert len(server.requests) == 1


async def test_a_failure_nobody_waits_for_any_more_is_not_reported_as_unretrieved(
    server: ScriptedServer,
) -> None:
    # The waiter made the shared future, then left: the failure it would have shared
    # must not end up in the loop's "Future exception was never retrieved" log.
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        held = Held(server, status=404)
        async with make_bridge(server) as bridge:
            runner = asyncio.ensure_future(bridge.get("alumio", "gone"))
            await held.first()
            waiter = asyncio.ensure_future(bridge.get("alumio", "gone"))
            await joined(waiter)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
            held.release.set()
            with pytest.raises(TaskNotFoundError):
                await asyncio.wait_for(runner, BOUND)
        del runner, waiter
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(before)
    assert [c.get("message") for c in reported] == []


# Which tasks close() cancels, and which the bridge keeps.


async def test_a_task_whose_call_ended_is_not_cancelled_by_a_later_close(
    server: ScriptedServer,
) -> None:
    fetched = asyncio.Event()
    go_on = asyncio.Event()

    async def job(bridge: TaskBridge) -> str:
        await bridge.get("alumio", "x")
        fetched.set()
        await asyncio.wait_for(go_on.wait(), BOUND)  # other work, after the call
        return "finished"

    async with make_bridge(server) as bridge:
        running = asyncio.ensure_future(job(bridge))
        await asyncio.wait_for(fetched.wait(), BOUND)
        await bridge.aclose()
        go_on.set()
        assert await asyncio.wait_for(running, BOUND) == "finished"


async def test_a_closed_bridge_keeps_no_task_that_called_it(server: ScriptedServer) -> None:
    held = Held(server)
    async with make_bridge(server) as bridge:
        finished = asyncio.ensure_future(bridge.get("alumio", "done"))
        held.release.set()
        await asyncio.wait_for(finished, BOUND)
        held.release.clear()
        ended = asyncio.ensure_future(bridge.get("alumio", "pending"))
        await held.first()
    with pytest.raises(BridgeClosedError):
        await ended
    tasks = [weakref.ref(finished), weakref.ref(ended)]
    del finished, ended
    held.release.set()
    gc.collect()
    assert [t() for t in tasks] == [None, None]  # the bridge (still alive) holds neither
    assert "closed" in repr(bridge)


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="3.10 has no Task.uncancel: a second cancellation cannot be told apart there",
)
async def test_closing_from_two_tasks_at_once_still_ends_calls_with_bridge_closed_error(
    server: ScriptedServer,
) -> None:
    held = Held(server)
    async with make_bridge(server) as bridge:
        pending = asyncio.ensure_future(bridge.get("alumio", "x"))
        await held.first()
        await asyncio.wait_for(asyncio.gather(bridge.aclose(), bridge.aclose()), BOUND)
        outcome = await asyncio.wait_for(asyncio.gather(pending, return_exceptions=True), BOUND)
        held.release.set()
    assert type(outcome[0]) is BridgeClosedError  # not a CancelledError of its own


# A retried answer with Retry-After pauses the provider (not only a 429).


@pytest.mark.parametrize(("headers", "paused"), [({"Retry-After": "3"}, True), ({}, False)])
async def test_a_retried_5xx_pauses_the_provider_only_when_it_says_retry_after(
    server: ScriptedServer, headers: dict[str, str], paused: bool
) -> None:
    seen: list[bool] = []

    async def sleep(delay: float) -> None:
        seen.append(bridge.stats().providers["alumio"].paused)
        clock.skipped += delay
        await asyncio.sleep(0)

    clock = FakeClock(sleep)
    server.script([(503, {}, headers), (200, alumio_body())])
    retry = RetryPolicy(max_attempts=2, initial_backoff=1.0, max_backoff=1.0, max_retry_after=10)
    with use_clock(clock):
        bridge = make_bridge(server, retry=retry)
    async with bridge:
        await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
    assert seen == [paused]
    assert bridge.stats().providers["alumio"].retries == 1


# Views: closed, refused, and the repr of a closed bridge.


async def test_a_closed_view_is_refused_and_the_bridge_goes_on(server: ScriptedServer) -> None:
    async with make_bridge(server) as bridge:
        view = bridge.with_options(timeout=5.0)
        await view.aclose()
        with pytest.raises(BridgeClosedError):
            await asyncio.wait_for(view.wait("alumio", "x"), BOUND)
        with pytest.raises(BridgeClosedError):
            view.watch([("alumio", "x")])
        with pytest.raises(BridgeClosedError):
            async with view:
                pass
        with pytest.raises(BridgeClosedError):
            await view.get("alumio", "x")
        assert repr(bridge) == "<TaskBridge providers=['alumio', 'cakewalk']>"
        task = await asyncio.wait_for(bridge.wait("alumio", "x", until=lambda t: True), BOUND)
        assert task.id == "x"
    assert repr(bridge) == "<TaskBridge providers=['alumio', 'cakewalk'] closed>"
    with pytest.raises(BridgeClosedError):
        await bridge.wait("alumio", "x")


# A provider that is not even hashable is refused like any other bad provider.


async def test_a_ref_whose_provider_cannot_be_hashed_gets_a_configuration_error(
    server: ScriptedServer,
) -> None:
    bad: Any = (["alumio"], "x")
    async with make_bridge(server) as bridge:
        [result] = await bridge.get_many([bad])
        streamed = [r async for r in bridge.stream([bad])]
    assert isinstance(result.error, ConfigurationError)
    assert "got list" in str(result.error)
    assert [type(r.error) for r in streamed] == [ConfigurationError]
    assert server.requests == []


# How far stream reads ahead of refs refused before any request.


@pytest.mark.parametrize(("concurrency", "window"), [(1, 16), (10, 40)])
async def test_stream_reads_refused_refs_ahead_by_twice_the_concurrency_at_least_16(
    server: ScriptedServer, concurrency: int, window: int
) -> None:
    # The refused refs' lane holds max(16, 2 x the providers' max_concurrency) refs not
    # yet yielded: with the first one yielded and none taken since, the reader has read
    # the window, the one yielded, and one more it holds until there is room.
    pulled = 0

    def refs() -> Iterator[tuple[str, str]]:
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield ("jira", f"ticket-{n}")

    bridge = make_bridge(server, cakewalk_concurrency=concurrency, alumio_concurrency=concurrency)
    async with bridge:
        results = bridge.stream(refs())
        first: TaskResult = await asyncio.wait_for(results.__anext__(), BOUND)
        assert isinstance(first.error, ConfigurationError)
        for _ in range(20):  # the reader fills the window and stops: nothing else runs
            await asyncio.sleep(0)
        assert pulled == window + 2
        await results.aclose()


# A bridge used from another event loop: refused at `async with`, closed view or not.


def test_entering_a_bridge_in_another_event_loop_is_refused_at_once() -> None:
    bridge = TaskBridge(
        alumio=AlumioConfig("http://127.0.0.1:1", TOKEN), retry=RetryPolicy(max_attempts=1)
    )
    view = bridge.with_options(timeout=5.0)
    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()

    async def enter() -> None:
        async with bridge:
            pass

    async def closed_view_get() -> None:
        await view.aclose()
        await view.get("alumio", "x")

    try:
        first.run_until_complete(bridge.__aenter__())
        for call in (enter, closed_view_get):
            with pytest.raises(BridgeClosedError, match="another event loop"):
                second.run_until_complete(asyncio.wait_for(call(), BOUND))
        assert repr(bridge) == "<TaskBridge providers=['alumio']>"  # still open
    finally:
        first.run_until_complete(bridge.aclose())
        first.close()
        second.close()
