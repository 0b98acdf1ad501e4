"""Never hang: get_many and stream end within a bound whatever a worker or the input raises."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from taskbridge import (
    ConfigurationError,
    DecodeError,
    ProviderError,
    RetryPolicy,
    ServerError,
    TaskBridge,
    TaskBridgeError,
    TaskResult,
)
from taskbridge._engine.retry import MAX_DELAY, backoff

from ._faulty import EngineBug, faulty_alumio, faulty_cakewalk
from .conftest import (
    ScriptedServer,
    alumio_body,
    base_config,
    cakewalk_body,
    dumps,
    for_request,
    make_bridge,
)

# Every test here would hang on the code before the fix; this bounds each wait.
BOUND = 20.0


def cw(n: int) -> str:
    return str(uuid.UUID(int=n))


REFS = [("alumio", f"a-{n}") for n in range(20)] + [("cakewalk", cw(n)) for n in range(20)]


async def run_get_many(bridge: TaskBridge, refs: list[Any]) -> list[TaskResult]:
    return await asyncio.wait_for(bridge.get_many(refs), BOUND)


async def run_stream(bridge: TaskBridge, refs: Any) -> list[TaskResult]:
    async def collect() -> list[TaskResult]:
        return [r async for r in bridge.stream(refs)]

    return await asyncio.wait_for(collect(), BOUND)


# Retry-After values that parse_retry_after did not expect (it raised on some).
ODD_RETRY_AFTER = ["\u00b2", "\u0661", "1e999", "9" * 400, "Wed, 21 Oct 2015 07:28:00 +9999"]


@pytest.mark.parametrize("value", ODD_RETRY_AFTER)
async def test_an_odd_retry_after_is_no_hint_for_get_get_many_and_stream(
    server: ScriptedServer, value: str
) -> None:
    server.script([(503, b"", {"Retry-After": value})])
    retry = RetryPolicy(max_attempts=2, initial_backoff=0, max_retry_after=5.0)
    async with make_bridge(server, retry=retry) as bridge:
        with pytest.raises(ServerError):
            await asyncio.wait_for(bridge.get("alumio", "x"), BOUND)
        results = await run_get_many(bridge, REFS)
        streamed = await run_stream(bridge, REFS)
    for batch in (results, streamed):
        assert len(batch) == len(REFS)
        assert all(isinstance(r.error, ServerError) for r in batch)
        # Unparsable means no hint; a huge number is a (capped) hint above the maximum.
        expected = MAX_DELAY if value == "9" * 400 else None
        assert {r.error.retry_after for r in batch} == {expected}  # type: ignore[union-attr]


@pytest.mark.parametrize("failures", [1, 1024, 1025, 10**6])
def test_backoff_never_overflows_and_stays_within_max_backoff(failures: int) -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=20.0)
    assert 0.0 <= backoff(policy, failures) <= 20.0


async def test_many_attempts_against_an_always_failing_server_end_typed(
    server: ScriptedServer,
) -> None:
    server.script([(503, b"")])
    # Past attempt 1025, 2.0 ** n overflowed: get_many raised OverflowError, stream hung.
    retry = RetryPolicy(max_attempts=1030, initial_backoff=1e-300, max_backoff=0.0)
    async with make_bridge(server, retry=retry) as bridge:
        results = await run_get_many(bridge, [("alumio", "x")])
        streamed = await run_stream(bridge, [("alumio", "y")])
    assert [type(r.error) for r in results + streamed] == [ServerError, ServerError]
    assert len(server.requests) == 2 * 1030


async def test_an_input_that_raises_cancelled_error_ends_the_stream(
    server: ScriptedServer,
) -> None:
    async def refs() -> AsyncIterator[tuple[str, str]]:
        yield ("alumio", "a-1")
        yield ("alumio", "a-2")
        doomed = asyncio.ensure_future(asyncio.sleep(10))
        doomed.cancel()
        await doomed  # the input awaited something that was cancelled

    got: list[TaskResult] = []

    async def consume() -> None:
        async with make_bridge(server) as bridge:
            async for result in bridge.stream(refs()):
                got.append(result)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(consume()), BOUND)
    assert [r.ok for r in got] == [True, True]


# What a fetch may raise besides a TaskBridgeError: each becomes that ref's typed error.
ODD_EXCEPTIONS = [
    pytest.param(ValueError("odd"), id="ValueError"),
    pytest.param(OverflowError("odd"), id="OverflowError"),
    pytest.param(RecursionError("odd"), id="RecursionError"),
    pytest.param(KeyError("odd"), id="KeyError"),
    pytest.param(RuntimeError("Session is closed"), id="RuntimeError"),
]


@pytest.mark.parametrize("exc", ODD_EXCEPTIONS)
async def test_whatever_a_fetch_raises_is_that_refs_typed_error(
    server: ScriptedServer, exc: Exception
) -> None:
    def fault(task_id: str) -> Exception | None:
        return exc if task_id.endswith("3") else None

    alumio = faulty_alumio(base_config(server, "alumio"), on_request=fault)
    cakewalk = faulty_cakewalk(base_config(server, "cakewalk"), on_request=fault)
    async with make_bridge(server, alumio=alumio, cakewalk=cakewalk) as bridge:
        for batch in (await run_get_many(bridge, REFS), await run_stream(bridge, REFS)):
            failed = {r.ref.task_id: r.error for r in batch if not r.ok}
            chosen = {task_id for _, task_id in REFS if task_id.endswith("3")}
            assert set(failed) == chosen
            assert all(type(e) is ProviderError for e in failed.values())
            assert all(type(exc).__name__ in str(e) for e in failed.values())
            assert sum(r.ok for r in batch) == len(REFS) - len(chosen)


@pytest.mark.parametrize("exc", ODD_EXCEPTIONS)
async def test_whatever_decoding_raises_is_a_decode_error(
    server: ScriptedServer, exc: Exception
) -> None:
    alumio = faulty_alumio(base_config(server, "alumio"), on_decode=lambda _: exc)
    async with make_bridge(server, alumio=alumio) as bridge:
        with pytest.raises(DecodeError):
            await bridge.get("alumio", "x")
        results = await run_get_many(bridge, REFS)
    assert all(isinstance(r.error, DecodeError) for r in results[:20])
    assert all(r.ok for r in results[20:])


# Raised where no `except Exception` catches them: what a bug in the engine would be.
ENGINE_FAILURES = [
    pytest.param(EngineBug("engine bug"), id="EngineBug"),
    pytest.param(asyncio.CancelledError(), id="CancelledError"),
]


@pytest.mark.parametrize("exc", ENGINE_FAILURES)
async def test_a_broken_stream_worker_ends_the_stream_at_once(
    server: ScriptedServer, exc: BaseException
) -> None:
    def broken(task_id: str) -> BaseException | None:
        return exc if task_id.startswith("a-") else None

    alumio = faulty_alumio(base_config(server, "alumio"), on_decode=broken)
    async with make_bridge(server, alumio=alumio) as bridge:
        with pytest.raises((EngineBug, TaskBridgeError)):
            await run_stream(bridge, REFS)
        # The bridge is still usable.
        assert (await bridge.get("alumio", "after")).id == "after"


@pytest.mark.parametrize("exc", ENGINE_FAILURES)
async def test_a_broken_get_many_worker_ends_get_many_at_once(
    server: ScriptedServer, exc: BaseException
) -> None:
    alumio = faulty_alumio(base_config(server, "alumio"), on_decode=lambda _: exc)
    async with make_bridge(server, alumio=alumio) as bridge:
        with pytest.raises((EngineBug, asyncio.CancelledError)):
            await asyncio.wait_for(asyncio.shield(bridge.get_many(REFS)), BOUND)


async def test_an_on_result_that_raises_ends_get_many_with_its_error(
    server: ScriptedServer,
) -> None:
    def on_result(_: TaskResult) -> None:
        raise ZeroDivisionError

    async with make_bridge(server) as bridge:
        with pytest.raises(ZeroDivisionError):
            await asyncio.wait_for(bridge.get_many(REFS, on_result=on_result), BOUND)


async def test_an_input_whose_items_break_on_str_ends_the_stream(server: ScriptedServer) -> None:
    class Hostile:
        def __iter__(self) -> Any:
            raise TypeError("not a pair")

        def __str__(self) -> str:
            raise ValueError("no str")

    async with make_bridge(server) as bridge:
        with pytest.raises(ValueError, match="no str"):
            await run_stream(bridge, [("alumio", "a-1"), Hostile()])


async def test_stream_starts_workers_on_demand(server: ScriptedServer) -> None:
    started: list[int] = []
    async with make_bridge(server, alumio_concurrency=200_000) as bridge:
        before = len(asyncio.all_tasks())

        async def refs() -> AsyncIterator[tuple[str, str]]:
            yield ("alumio", "only-one")
            started.append(len(asyncio.all_tasks()) - before)

        results = await run_stream(bridge, refs())
    assert [r.ok for r in results] == [True]
    # The reader, and one worker for the one ref (not 200,000).
    assert started and started[0] <= 3


async def test_stream_refuses_a_bad_backlog(server: ScriptedServer) -> None:
    async with make_bridge(server) as bridge:
        for bad in (-1, 1.5, True, "10"):
            with pytest.raises(ConfigurationError):
                bridge.stream([], backlog=bad)  # type: ignore[arg-type]


async def test_a_slow_provider_does_not_hold_back_a_fast_one_in_stream(
    server: ScriptedServer,
) -> None:
    """Cakewalk answers nothing until every Alumio result was yielded: without a
    per-provider backlog the reader would stall behind Cakewalk's 2 workers."""
    alumio_done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/api/v1/Tasks/"):
            await alumio_done.wait()
            task_id = request.path.rsplit("/", 1)[-1]
            return web.Response(body=dumps(cakewalk_body(id=task_id)))
        return web.Response(body=for_request(alumio_body(), request))

    server.handler = handler
    refs = []
    for n in range(300):
        refs.append(("cakewalk", cw(n)) if n % 5 == 0 else ("alumio", f"a-{n}"))
    alumio_total = sum(1 for p, _ in refs if p == "alumio")
    seen_alumio = 0

    async def consume() -> list[TaskResult]:
        nonlocal seen_alumio
        got = []
        async for result in bridge.stream(refs, backlog=64):
            got.append(result)
            if result.ref.provider == "alumio":
                seen_alumio += 1
                if seen_alumio == alumio_total:
                    alumio_done.set()
        return got

    async with make_bridge(server, cakewalk_concurrency=2) as bridge:
        got = await asyncio.wait_for(consume(), BOUND)
    assert len(got) == 300
    assert all(r.ok for r in got)
