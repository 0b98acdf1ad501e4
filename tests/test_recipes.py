"""Recipes from the guides (aiohttp.web, ASGI, testing), run for real: a web service on taskbridge.

- A client that disconnects cancels the upstream requests it started (aiohttp.web with
  ``handler_cancellation=True``; an ASGI app, here Starlette under uvicorn, with a
  watcher on ``http.disconnect``).
- A sync test client (Starlette's ``TestClient``) exercises an app that builds its
  bridge with ``TaskBridge.from_env()`` against ``BackgroundSandbox``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiohttp import web

from taskbridge import TaskBridge
from taskbridge.sandbox import BackgroundSandbox, Faults, Sandbox

T = TypeVar("T")


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - counters have no event to wait on
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), 20)
    except asyncio.TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1, any_id=True, faults={"alumio": Faults(latency=30)}) as sb:
        yield sb


async def request_then_disconnect(port: int, path: str, sandbox: Sandbox) -> None:
    """Send a GET, wait until it reached the provider, then hang up without reading."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    await until(lambda: sandbox.stats.alumio.in_flight >= 1, "the upstream request")
    writer.close()
    await writer.wait_closed()


# --- aiohttp.web -----------------------------------------------------------------------

BRIDGE = web.AppKey("bridge", TaskBridge)


def make_aiohttp_app(bridge: TaskBridge, cancelled: asyncio.Event) -> web.Application:
    async def get_task(request: web.Request) -> web.Response:
        try:
            task = await request.app[BRIDGE].get("alumio", request.match_info["task_id"])
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.json_response(task.to_dict())

    app = web.Application()
    app[BRIDGE] = bridge
    app.router.add_get("/tasks/alumio/{task_id}", get_task)
    return app


async def test_aiohttp_web_client_disconnect_cancels_the_upstream_request(
    slow_sandbox: Sandbox,
) -> None:
    cancelled = asyncio.Event()
    async with TaskBridge(alumio=slow_sandbox.alumio_config()) as bridge:
        # The recipe: handler_cancellation=True makes aiohttp cancel the handler's task
        # when its client goes away; the cancellation reaches taskbridge's request.
        runner = web.AppRunner(make_aiohttp_app(bridge, cancelled), handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            port = runner.addresses[0][1]
            await request_then_disconnect(port, "/tasks/alumio/order-1", slow_sandbox)
            await asyncio.wait_for(cancelled.wait(), 20)
            await until(lambda: bridge.stats().providers["alumio"].in_flight == 0, "no request")
        finally:
            await runner.cleanup()


# --- ASGI: Starlette under uvicorn -------------------------------------------------------

starlette = pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")


async def cancel_on_disconnect(receive: Callable[[], Awaitable[Any]], work: Awaitable[T]) -> T:
    """Run ``work``; cancel it when the ASGI server reports ``http.disconnect``.

    ASGI servers do not cancel a handler whose client left; they send the app an
    ``http.disconnect`` message instead. Call this once the request body is read.
    """
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def make_starlette_app(bridge: TaskBridge, cancelled: asyncio.Event) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def get_task(request: Request) -> JSONResponse:
        try:
            task = await cancel_on_disconnect(
                request.receive, bridge.get("alumio", request.path_params["task_id"])
            )
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return JSONResponse(task.to_dict())

    return Starlette(routes=[Route("/tasks/alumio/{task_id}", get_task)])


async def test_asgi_client_disconnect_cancels_the_upstream_request(
    slow_sandbox: Sandbox,
) -> None:
    cancelled = asyncio.Event()
    async with TaskBridge(alumio=slow_sandbox.alumio_config()) as bridge:
        config = uvicorn.Config(
            make_starlette_app(bridge, cancelled),
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
            http="h11",
            ws="none",
        )
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve())
        try:
            await until(lambda: server.started, "uvicorn to start")
            port = server.servers[0].sockets[0].getsockname()[1]
            await request_then_disconnect(port, "/tasks/alumio/order-2", slow_sandbox)
            await asyncio.wait_for(cancelled.wait(), 20)
            await until(lambda: bridge.stats().providers["alumio"].in_flight == 0, "no request")
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 20)


# --- A sync test client against an app that uses from_env() ---------------------------------


# Python 3.10 has no httpx2 (3.11+), so Starlette falls back to httpx with a warning.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")
def test_sync_test_client_with_a_background_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, TaskBridge]]:
        async with TaskBridge.from_env() as bridge:
            yield {"bridge": bridge}

    async def get_task(request: Request) -> JSONResponse:
        p, task_id = request.path_params["provider"], request.path_params["task_id"]
        task = await request.state.bridge.get(p, task_id)
        return JSONResponse(task.to_dict())

    app = Starlette(routes=[Route("/tasks/{provider}/{task_id}", get_task)], lifespan=lifespan)
    with BackgroundSandbox(seed=1) as sb:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        with TestClient(app) as client:
            answer = client.get(f"/tasks/cakewalk/{sb.cakewalk_ids[0]}")
        assert answer.status_code == 200
        assert answer.json()["detail"]["id"] == sb.cakewalk_ids[0]
        assert sb.stats.cakewalk.requests == 1
