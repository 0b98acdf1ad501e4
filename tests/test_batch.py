"""Batch lookups: get_many and stream against a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from taskbridge import (
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    InvalidTaskIdError,
    Provider,
    RetryPolicy,
    ServerError,
    TaskNotFoundError,
    TaskRef,
    TaskResult,
)

from .conftest import (
    ScriptedServer,
    alumio_body,
    cakewalk_body,
    client_tasks,
    dumps,
    for_request,
    make_bridge,
)


def cw(n: int) -> str:
    return str(uuid.UUID(int=n))


async def echo(request: web.Request) -> web.StreamResponse:
    """Answer every task with its own id; some ids fail on purpose."""
    task_id = request.match_info.get("tail", "").rsplit("/", 1)[-1]
    if task_id.startswith("missing"):
        return web.Response(status=404, body=dumps({"title": "Not Found"}))
    if task_id.startswith("denied"):
        return web.Response(status=401, body=dumps({"title": "Unauthorized"}))
    if task_id.startswith("broken"):
        return web.Response(status=200, body=b"{oops")
    if task_id.startswith("down"):
        return web.Response(status=503, body=b"")
    if request.path.startswith("/api/v1/Tasks/"):
        return web.Response(body=dumps(cakewalk_body(id=task_id)), content_type="application/json")
    body = alumio_body(identifier=task_id)
    return web.Response(body=dumps(body), content_type="application/json")


def hold(server: ScriptedServer) -> tuple[asyncio.Event, asyncio.Event]:
    """Make the server hold every request until released; ``arrived`` is set by the first."""
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.Response(
            body=for_request(alumio_body(), request), content_type="application/json"
        )

    server.handler = held
    return arrived, release


@pytest.fixture
def echoing(server: ScriptedServer) -> ScriptedServer:
    server.handler = echo
    return server


async def test_get_many_keeps_order_and_length_with_every_failure_kind(
    echoing: ScriptedServer,
) -> None:
    refs: list[object] = [
        ("cakewalk", cw(1)),
        TaskRef("alumio", "a-1"),
        ("alumio", "missing-1"),
        ("alumio", "denied-1"),
        ("alumio", "broken-1"),
        ("alumio", "down-1"),
        ("cakewalk", "not-a-uuid"),
        ("jira", "X-1"),
        (Provider.ALUMIO, "a-2"),
        ("alumio", ""),
        42,
    ]
    retry = RetryPolicy(max_attempts=2, initial_backoff=0)
    async with make_bridge(echoing, retry=retry) as bridge:
        results = await bridge.get_many(refs)  # type: ignore[arg-type]
    assert len(results) == len(refs)
    kinds = [type(r.error).__name__ if r.error else r.task.id for r in results]  # type: ignore[union-attr]
    assert kinds == [
        cw(1),
        "a-1",
        "TaskNotFoundError",
        "AuthenticationError",
        "DecodeError",
        "ServerError",
        "InvalidTaskIdError",
        "ConfigurationError",
        "a-2",
        "InvalidTaskIdError",
        "ConfigurationError",
    ]
    assert results[0].ref == TaskRef("cakewalk", cw(1))
    assert results[8].ref == TaskRef("alumio", "a-2")
    assert [r.ok for r in results[:2]] == [True, True]
    with pytest.raises(TaskNotFoundError):
        results[2].unwrap()
    assert results[1].unwrap().id == "a-1"
    assert isinstance(results[3].error, AuthenticationError)
    assert isinstance(results[4].error, DecodeError)
    assert isinstance(results[5].error, ServerError)
    assert isinstance(results[6].error, InvalidTaskIdError)
    assert isinstance(results[7].error, ConfigurationError)


async def test_get_many_of_nothing_is_empty(echoing: ScriptedServer) -> None:
    async with make_bridge(echoing) as bridge:
        assert await bridge.get_many([]) == []
    assert echoing.requests == []


async def test_identical_refs_in_a_batch_cost_one_request(echoing: ScriptedServer) -> None:
    refs = [("alumio", f"a-{n % 10}") for n in range(100)]
    refs += [("cakewalk", cw(n % 5).upper() if n % 2 else cw(n % 5)) for n in range(50)]
    async with make_bridge(echoing) as bridge:
        results = await bridge.get_many(refs)
    assert all(r.ok for r in results)
    assert [r.ref for r in results] == [TaskRef(*ref) for ref in refs]
    assert echoing.count("alumio") == 10
    assert echoing.count("cakewalk") == 5


async def test_concurrent_gets_of_one_task_share_a_request(server: ScriptedServer) -> None:
    arrived, release = hold(server)
    async with make_bridge(server) as bridge:
        jobs = [asyncio.ensure_future(bridge.get("alumio", "same")) for _ in range(5)]
        await arrived.wait()
        await asyncio.sleep(0)
        release.set()
        tasks = await asyncio.gather(*jobs)
    assert len(server.requests) == 1
    assert all(t is tasks[0] for t in tasks)


async def test_cancelling_one_sharer_does_not_cancel_the_others(server: ScriptedServer) -> None:
    arrived, release = hold(server)
    async with make_bridge(server) as bridge:
        first = asyncio.ensure_future(bridge.get("alumio", "same"))
        second = asyncio.ensure_future(bridge.get("alumio", "same"))
        third = asyncio.ensure_future(bridge.get("alumio", "same"))
        await arrived.wait()
        first.cancel()  # the caller whose task was sending the request
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        results = await asyncio.gather(second, third)
    assert [t.id for t in results] == ["same"] * 2
    # The cancelled caller's request went with it; the others shared one more.
    assert len(server.requests) == 2


async def test_cancelling_a_waiting_sharer_leaves_the_request_alone(
    server: ScriptedServer,
) -> None:
    arrived, release = hold(server)
    async with make_bridge(server) as bridge:
        first = asyncio.ensure_future(bridge.get("alumio", "same"))
        second = asyncio.ensure_future(bridge.get("alumio", "same"))
        await arrived.wait()
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        assert (await first).id == "same"
    assert len(server.requests) == 1


async def _count_in_flight(server: ScriptedServer, provider_limits: dict[str, int]) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.002)  # server-side latency so requests overlap
        return await echo(request)

    server.handler = slow
    refs = [("alumio", f"a-{n}") for n in range(200)] + [("cakewalk", cw(n)) for n in range(200)]
    async with make_bridge(
        server,
        alumio_concurrency=provider_limits["alumio"],
        cakewalk_concurrency=provider_limits["cakewalk"],
    ) as bridge:
        results = await bridge.get_many(refs)
    assert all(r.ok for r in results)


async def test_each_provider_stays_within_its_own_concurrency(server: ScriptedServer) -> None:
    await _count_in_flight(server, {"alumio": 3, "cakewalk": 7})
    assert server.peak_in_flight == {"alumio": 3, "cakewalk": 7}


async def test_a_run_of_one_providers_refs_does_not_hold_back_the_other(
    server: ScriptedServer,
) -> None:
    alumio_seen = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/api/v1/Tasks/"):
            await alumio_seen.wait()  # Cakewalk answers only once Alumio got its request
        else:
            alumio_seen.set()
        return await echo(request)

    server.handler = handler
    refs = [("cakewalk", cw(n)) for n in range(500)] + [("alumio", "last")]
    async with make_bridge(server, cakewalk_concurrency=2) as bridge:
        results = await asyncio.wait_for(bridge.get_many(refs), timeout=30)
    assert all(r.ok for r in results)


async def test_on_result_is_called_once_per_ref(echoing: ScriptedServer) -> None:
    seen: list[TaskResult] = []
    refs = [("alumio", "a-1"), ("alumio", "a-1"), ("alumio", "missing"), ("nope", "x")]
    async with make_bridge(echoing) as bridge:
        results = await bridge.get_many(refs, on_result=seen.append)
    assert sorted(map(id, seen)) == sorted(map(id, results))


async def test_cancelling_get_many_cancels_requests_and_bridge_still_works(
    server: ScriptedServer,
) -> None:
    entered = 0
    enough = asyncio.Event()
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        nonlocal entered
        entered += 1
        if entered >= 8:
            enough.set()
        await release.wait()
        return await echo(request)

    server.handler = held
    async with make_bridge(server, alumio_concurrency=4, cakewalk_concurrency=4) as bridge:
        before = client_tasks()
        refs = [("alumio", f"a-{n}") for n in range(50)] + [("cakewalk", cw(n)) for n in range(50)]
        job = asyncio.ensure_future(bridge.get_many(refs))
        await enough.wait()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert client_tasks() - before - {job} == set()
        assert bridge._engine.inflight == {}
        release.set()
        server.handler = echo
        assert (await bridge.get("alumio", "after")).id == "after"


def numbered(n: int, pulled: list[int]) -> Iterator[tuple[str, str]]:
    for i in range(n):
        pulled[0] += 1
        yield ("alumio" if i % 3 else "cakewalk", f"a-{i}" if i % 3 else cw(i))


async def test_stream_yields_every_result_of_a_long_generator_in_bounded_window(
    echoing: ScriptedServer,
) -> None:
    pulled = [0]
    got = 0
    lead = 0
    async with make_bridge(echoing, alumio_concurrency=4, cakewalk_concurrency=2) as bridge:
        async for result in bridge.stream(numbered(5000, pulled), backlog=100):
            assert result.ok
            got += 1
            lead = max(lead, pulled[0] - got)
    assert got == 5000
    # Each provider holds at most its concurrency plus the backlog; +1 for the ref
    # the reader pulled and waits to admit.
    assert lead <= (4 + 100) + (2 + 100) + 1
    assert len(echoing.requests) == 5000


async def test_stream_accepts_an_async_iterable(echoing: ScriptedServer) -> None:
    async def refs() -> AsyncIterator[tuple[str, str]]:
        for i in range(30):
            yield ("alumio", f"a-{i}")
            await asyncio.sleep(0)

    async with make_bridge(echoing) as bridge:
        ids = sorted([r.unwrap().id async for r in bridge.stream(refs())])
    assert ids == sorted(f"a-{i}" for i in range(30))


async def test_stream_reports_per_item_failures_as_results(echoing: ScriptedServer) -> None:
    refs = [("alumio", "missing-1"), ("nope", "x"), ("cakewalk", "bad"), ("alumio", "ok")]
    async with make_bridge(echoing) as bridge:
        results = [r async for r in bridge.stream(refs)]
    errors = sorted(type(r.error).__name__ for r in results if r.error)
    assert errors == ["ConfigurationError", "InvalidTaskIdError", "TaskNotFoundError"]
    assert len(results) == 4


async def test_stream_delivers_results_then_raises_the_inputs_own_error(
    echoing: ScriptedServer,
) -> None:
    def refs() -> Iterator[tuple[str, str]]:
        yield ("alumio", "a-1")
        yield ("alumio", "a-2")
        raise RuntimeError("input broke")

    got: list[TaskResult] = []
    async with make_bridge(echoing) as bridge:
        with pytest.raises(RuntimeError, match="input broke"):
            async for result in bridge.stream(refs()):
                got.append(result)
    assert len(got) == 2


async def test_leaving_a_stream_early_cancels_work_and_bridge_still_works(
    echoing: ScriptedServer,
) -> None:
    async with make_bridge(echoing) as bridge:
        before = client_tasks()
        async with contextlib.aclosing(bridge.stream(numbered(10_000, [0]))) as results:
            async for _ in results:
                break
        assert client_tasks() - before == set()
        assert bridge._engine.inflight == {}
        assert (await bridge.get("alumio", "after")).id == "after"
    assert len(echoing.requests) < 200


async def test_break_without_aclosing_cleans_up_soon(echoing: ScriptedServer) -> None:
    async with make_bridge(echoing) as bridge:
        before = client_tasks()
        async for _ in bridge.stream(numbered(10_000, [0])):
            break
        for _ in range(20):
            if client_tasks() - before == set():
                break
            await asyncio.sleep(0)
        assert client_tasks() - before == set()
