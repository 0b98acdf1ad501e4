"""Shared fixtures: a scripted HTTP server on a loopback port, and sample bodies."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import attrs
import orjson
import pytest
from aiohttp import web
from hypothesis import settings

import taskbridge
from taskbridge import AlumioConfig, CakewalkConfig, RetryPolicy, TaskBridge
from taskbridge.testing import SYSTEM_CLOCK

# CI sees the same examples on every run; set HYPOTHESIS_PROFILE=explore for fresh ones.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A suite started with SIGINT ignored (under nohup, as a background job of a script, by
# some CI runners) would pass that on to every program it starts, and the tests that
# press Ctrl-C in a child would see it do nothing. Python's own handler here means each
# child starts with the default again (a handler, unlike an ignored signal, is reset at
# exec), as it would from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

CAKEWALK_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SECRET = "s3cr3t-CAKEWALK-secret-value"
KEY = "k3y-CAKEWALK-key-value"
TOKEN = "t0k3n-ALUMIO-token-value"
SECRETS = (SECRET, KEY, TOKEN)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cakewalk_task(**overrides: Any) -> dict[str, Any]:
    """A full, spec-valid Cakewalk task (the ``data`` object)."""
    user = {
        "id": "0b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "statusId": 1,
        "statusName": "Active",
    }
    task: dict[str, Any] = {
        "id": CAKEWALK_ID,
        "type": "RequestReviewTask",
        "createdAt": "2026-03-01T09:30:00.123456Z",
        "status": "Pending",
        "lastUpdatedAt": "2026-03-02T10:00:00+02:00",
        "isAutoprovisioning": False,
        "isActionStep": True,
        "assignedUser": user,
        "claimers": [user, {**user, "id": "1b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b"}],
        "executedByUser": user,
        "request": {
            "id": "2b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            "requestType": "Access",
            "requestStatus": "Open",
            "requestedByUserId": "3b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            "cancelledByUserId": None,
            "workAppId": "4b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            "permissionLevelId": "5b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            "targetUserId": None,
            "requestPurpose": "Quarterly report",
            "sourceId": "6b7f1e2a-5c3d-4e6f-8a9b-0c1d2e3f4a5b",
            "createdAt": "2026-02-28T08:00:00Z",
            "updatedAt": "2026-02-28T08:05:00Z",
        },
        "snoozedTill": "2026-03-05T00:00:00Z",
        "offboardingMetadata": {
            "targetUser": user,
            "externalIntegrationAppName": "Personio",
            "terminationDate": "2026-04-01T00:00:00Z",
        },
        "onboardingMetadata": {
            "onboardingUserFullName": "Grace Hopper",
            "onboardingUserEmail": "grace@example.com",
            "externalIntegrationAppName": "HiBob",
            "externalConnectionAppIsEmailProvider": True,
            "startingDate": "2026-05-01T00:00:00Z",
        },
        "rolledOutByUser": user,
        "systemExecutionReason": "OpenApi",
        "closedReason": "approved by owner",
    }
    task.update(overrides)
    return task


def cakewalk_body(**overrides: Any) -> dict[str, Any]:
    task = cakewalk_task(**overrides)
    return {"data": task, "links": {"self": f"/api/v1/Tasks/{task.get('id')}", "next": None}}


def alumio_task(**overrides: Any) -> dict[str, Any]:
    """A full, spec-valid Alumio task (the ``object`` object)."""
    item = {"identifier": "shopify-in", "name": "Shopify incoming"}
    task: dict[str, Any] = {
        "identifier": "order-export-42",
        "entityType": "order",
        "entityIdentifier": "SO-1001",
        "entityData": {"sku": "A-1", "qty": 3, "nested": {"ok": True}},
        "context": {"run": 7},
        "status": "processing",
        "route": "shopify-to-erp",
        "createdAt": "2026-03-01T09:30:00+00:00",
        "updatedAt": "2026-03-01T09:31:00.5+00:00",
        "meta": {"incoming": item, "outgoing": item, "route": item, "httpProxy": item},
    }
    task.update(overrides)
    return task


def alumio_body(**overrides: Any) -> dict[str, Any]:
    return {"object": alumio_task(**overrides)}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


@attrs.define
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def for_request(body: Any, request: web.Request) -> bytes:
    """The bytes to answer: ``bytes`` as they are; a task body (a dict) for the task the
    request asks for, since an answer for another task is refused."""
    if isinstance(body, bytes):
        return body
    asked = unquote(request.raw_path.partition("?")[0].rpartition("/")[2])
    if isinstance(body, dict):
        for task_key, id_key in (("data", "id"), ("object", "identifier")):
            task = body.get(task_key)
            if isinstance(task, dict) and isinstance(task.get(id_key), str):
                body = {**body, task_key: {**task, id_key: asked}}
    return dumps(body)


class ScriptedServer:
    """A real aiohttp server on a loopback port whose answers each test scripts."""

    def __init__(self) -> None:
        self.handler: Handler = self._default
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.peak_in_flight: dict[str, int] = {}
        self._in_flight_by: dict[str, int] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    @staticmethod
    async def _default(request: web.Request) -> web.StreamResponse:
        body = cakewalk_body() if request.path.startswith("/api/v1/Tasks/") else alumio_body()
        return web.Response(body=for_request(body, request), content_type="application/json")

    def answer_json(
        self,
        body: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            payload = for_request(body, request)
            return (
                web.Response(
                    body=payload, status=status, headers=headers, content_type=None, charset=None
                )
                if False
                else web.Response(
                    body=payload,
                    status=status,
                    headers={**(headers or {}), "Content-Type": content_type},
                )
            )

        self.handler = handler

    def script(
        self, answers: list[Handler | tuple[int, Any] | tuple[int, Any, dict[str, str]]]
    ) -> None:
        """Answer the n-th request with the n-th entry; the last one repeats."""
        queue = list(answers)

        async def handler(request: web.Request) -> web.StreamResponse:
            entry = queue.pop(0) if len(queue) > 1 else queue[0]
            if callable(entry):
                return await entry(request)
            status, body, *rest = entry
            headers = rest[0] if rest else {}
            payload = for_request(body, request)
            return web.Response(
                body=payload, status=status, headers={"Content-Type": "application/json", **headers}
            )

        self.handler = handler

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        provider = "cakewalk" if request.path.startswith("/api/v1/Tasks") else "alumio"
        self.requests.append(
            Seen(
                request.method,
                request.raw_path,
                request.path,
                dict(request.query),
                dict(request.headers),
            )
        )
        now = self._in_flight_by.get(provider, 0) + 1
        self._in_flight_by[provider] = now
        self.peak_in_flight[provider] = max(self.peak_in_flight.get(provider, 0), now)
        try:
            return await self.handler(request)
        finally:
            self._in_flight_by[provider] -= 1

    def count(self, provider: str) -> int:
        marker = "/api/v1/Tasks/" if provider == "cakewalk" else "/api/v1/tasks/"
        return sum(1 for r in self.requests if r.raw_path.startswith(marker))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def drop(request: web.Request) -> web.StreamResponse:
    """A handler that closes the connection without an answer."""
    assert request.transport is not None
    request.transport.close()
    raise web.HTTPInternalServerError


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    srv = ScriptedServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, max_retry_after=5.0)


def make_bridge(server: ScriptedServer, **kwargs: Any) -> TaskBridge:
    cakewalk = kwargs.pop("cakewalk", None) or CakewalkConfig(
        KEY,
        SECRET,
        base_url=server.url,
        requests_per_minute=None,
        max_concurrency=kwargs.pop("cakewalk_concurrency", 16),
    )
    alumio = kwargs.pop("alumio", None) or AlumioConfig(
        server.url,
        TOKEN,
        space=kwargs.pop("space", None),
        max_concurrency=kwargs.pop("alumio_concurrency", 16),
    )
    kwargs.setdefault("retry", FAST_RETRY)
    return TaskBridge(cakewalk=cakewalk, alumio=alumio, **kwargs)


def base_config(server: ScriptedServer, provider: str) -> Any:
    """The config `make_bridge` gives ``provider`` by default."""
    if provider == "cakewalk":
        return CakewalkConfig(KEY, SECRET, base_url=server.url, requests_per_minute=None)
    return AlumioConfig(server.url, TOKEN)


@pytest.fixture
async def bridge(server: ScriptedServer) -> AsyncIterator[TaskBridge]:
    async with make_bridge(server) as b:
        yield b


def deep_copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks now alive, minus the loopback server's own connection handlers."""
    return {
        t
        for t in asyncio.all_tasks()
        if not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler")
    }


__all__ = ["asyncio", "taskbridge"]


class FakeClock:
    """A `taskbridge.testing.Clock` that records each wait and runs ``on_sleep(delay)``
    for it; by default a wait is skipped (``time()`` jumps by it at once)."""

    def __init__(self, on_sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def time(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if self._on_sleep is not None:
            await self._on_sleep(delay)
        else:
            self.skipped += max(0.0, delay)
            await asyncio.sleep(0)

    def attempt(self) -> contextlib.AbstractAsyncContextManager[None]:
        return SYSTEM_CLOCK.attempt()
