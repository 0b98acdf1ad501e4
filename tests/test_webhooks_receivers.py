"""The receivers: an aiohttp.web handler (aiohttp's test server) and an ASGI app (httpx's
ASGITransport, Starlette, and direct ASGI calls)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import tracemalloc
import uuid
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from starlette.applications import Starlette
from starlette.routing import Mount

from taskbridge.webhooks import (
    ActionableTaskEvent,
    CakewalkWebhooks,
    WebhookEvent,
    aiohttp_handler,
    asgi_app,
)

from .conftest import ScriptedServer, base_config

try:
    import httpx
except ImportError:  # the test group installs httpx2 (the same API) on Python 3.11+
    import httpx2 as httpx  # type: ignore[no-redef]

SECRET = "whsec-receiver-tests-6f1d2c9e8a7b4e30b5d9c1a2f3e4d5c6"
TASK_ID = "7ac60a4b-4b4d-4fc1-988c-f95254591f06"


def envelope(task_id: str = TASK_ID) -> dict[str, Any]:
    return {"eventType": "action_task.actionable", "data": {"taskId": task_id}}


def signed(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return body, {"X-SIGNATURE": base64.b64encode(digest).decode()}


class Recorder:
    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[WebhookEvent] = []
        self.fail = fail

    def __call__(self, events: list[WebhookEvent]) -> None:
        if self.fail:
            raise RuntimeError("handler bug 7d1e")
        self.events.extend(events)


class AsyncRecorder(Recorder):
    async def __call__(self, events: list[WebhookEvent]) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        super().__call__(events)


# aiohttp.web


@pytest.fixture(name="aiohttp_receiver")
async def aiohttp_receiver_fixture() -> AsyncIterator[tuple[TestClient[Any, Any], Recorder]]:
    recorder = Recorder()
    app = web.Application()
    hooks = CakewalkWebhooks(secret=SECRET)
    app.router.add_post("/webhooks", aiohttp_handler(hooks, recorder))
    app.router.add_post("/async", aiohttp_handler(hooks, AsyncRecorder()))
    app.router.add_post("/failing", aiohttp_handler(hooks, Recorder(fail=True)))
    async with TestClient(TestServer(app)) as client:
        yield client, recorder


async def test_aiohttp_answers_204_and_hands_the_events_to_the_callback(
    aiohttp_receiver: tuple[TestClient[Any, Any], Recorder],
) -> None:
    client, recorder = aiohttp_receiver
    body, headers = signed([envelope(), {"eventType": "test", "data": {}}])
    response = await client.post("/webhooks", data=body, headers=headers)
    assert response.status == 204
    assert isinstance(recorder.events[0], ActionableTaskEvent)
    assert len(recorder.events) == 2
    response = await client.post("/async", data=body, headers=headers)
    assert response.status == 204


@pytest.mark.parametrize(
    ("path", "make", "status"),
    [
        pytest.param("/webhooks", lambda: (signed(envelope())[0], {}), 401, id="no-signature"),
        pytest.param(
            "/webhooks", lambda: (b"{}", {"X-SIGNATURE": "AAAA"}), 401, id="wrong-signature"
        ),
        pytest.param("/webhooks", lambda: signed(["not an envelope"]), 400, id="not-envelopes"),
        pytest.param("/failing", lambda: signed(envelope()), 500, id="callback-raises"),
    ],
)
async def test_aiohttp_answers_each_failure_with_its_status(
    aiohttp_receiver: tuple[TestClient[Any, Any], Recorder],
    path: str,
    make: Any,
    status: int,
) -> None:
    client, recorder = aiohttp_receiver
    body, headers = make()
    response = await client.post(path, data=body, headers=headers)
    assert response.status == status
    assert recorder.events == []


async def test_aiohttp_logs_the_callbacks_exception(
    aiohttp_receiver: tuple[TestClient[Any, Any], Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = aiohttp_receiver
    body, headers = signed(envelope())
    with caplog.at_level(logging.ERROR, "taskbridge.webhooks"):
        response = await client.post("/failing", data=body, headers=headers)
    assert response.status == 500
    assert "handler bug 7d1e" in caplog.text


async def raw_request(port: int, head: bytes, body_parts: list[bytes]) -> bytes:
    """Send ``head`` then the body parts over a plain socket; the status line answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for part in body_parts:
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def test_aiohttp_refuses_a_100_mb_content_length_before_reading_it(
    aiohttp_receiver: tuple[TestClient[Any, Any], Recorder],
) -> None:
    client, recorder = aiohttp_receiver
    port = client.server.port
    assert port is not None
    head = (
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-SIGNATURE: AAAA\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    # Only 64 KiB of the 100 MB are ever sent: the answer comes without the rest.
    status = await raw_request(port, head, [b"{" * 65536])
    assert status.startswith(b"HTTP/1.1 413")
    assert recorder.events == []


async def test_aiohttp_stops_reading_a_chunked_body_once_it_is_over_the_limit(
    aiohttp_receiver: tuple[TestClient[Any, Any], Recorder],
) -> None:
    client, _ = aiohttp_receiver
    port = client.server.port
    assert port is not None
    head = (
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-SIGNATURE: AAAA\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"  # 64 KiB each; 2 MiB sent, no end
    status = await raw_request(port, head, [chunk] * 32)
    assert status.startswith(b"HTTP/1.1 413")


# ASGI


def changed_after_signing() -> tuple[bytes, dict[str, str]]:
    body, headers = signed(envelope())
    return body + b" ", headers


def invalid_json() -> tuple[bytes, dict[str, str]]:
    return b"{oops", signed_raw(b"{oops")


def signed_raw(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return {"X-SIGNATURE": base64.b64encode(digest).decode()}


@pytest.fixture(name="asgi_client")
async def asgi_client_fixture() -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    recorder = AsyncRecorder()
    hooks = CakewalkWebhooks(secret=SECRET)
    service = Starlette(
        routes=[
            Mount("/webhooks", app=asgi_app(hooks, recorder)),
            Mount("/failing", app=asgi_app(hooks, Recorder(fail=True))),
        ]
    )
    transport = httpx.ASGITransport(app=service)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, recorder


async def test_asgi_answers_204_and_hands_the_events_to_an_async_callback(
    asgi_client: tuple[httpx.AsyncClient, Recorder],
) -> None:
    client, recorder = asgi_client
    body, headers = signed(envelope())
    response = await client.post("/webhooks/", content=body, headers=headers)
    assert response.status_code == 204
    [event] = recorder.events
    assert isinstance(event, ActionableTaskEvent) and event.ref.task_id == TASK_ID


@pytest.mark.parametrize(
    ("path", "make", "status"),
    [
        pytest.param("/webhooks/", lambda: (signed(envelope())[0], {}), 401, id="no-signature"),
        pytest.param(
            "/webhooks/",
            lambda: (signed(envelope())[0], {"X-SIGNATURE": "%%%"}),
            401,
            id="malformed-signature",
        ),
        pytest.param(
            "/webhooks/",
            changed_after_signing,
            401,
            id="body-changed",
        ),
        pytest.param("/webhooks/", lambda: signed({"data": {}}), 400, id="not-an-envelope"),
        pytest.param(
            "/webhooks/",
            invalid_json,
            400,
            id="invalid-json",
        ),
        pytest.param("/failing/", lambda: signed(envelope()), 500, id="callback-raises"),
        pytest.param("/webhooks/", lambda: (b"x" * (1024 * 1024 + 1), {}), 413, id="over-1-mib"),
    ],
)
async def test_asgi_answers_each_failure_with_its_status(
    asgi_client: tuple[httpx.AsyncClient, Recorder], path: str, make: Any, status: int
) -> None:
    client, recorder = asgi_client
    body, headers = make()
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == status
    assert recorder.events == []


async def test_asgi_refuses_other_methods(asgi_client: tuple[httpx.AsyncClient, Recorder]) -> None:
    client, _ = asgi_client
    assert (await client.get("/webhooks/")).status_code == 405


class Driver:
    """Direct ASGI calls: a request's body as chunks, counting what the app pulled."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pulled = 0

    async def post(
        self, chunks: list[bytes], headers: dict[str, str], *, length: int | None = None
    ) -> int:
        pairs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if length is not None:
            pairs.append((b"content-length", str(length).encode()))
        scope = {"type": "http", "method": "POST", "path": "/", "headers": pairs}
        queue = list(chunks)
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            self.pulled += 1
            chunk = queue.pop(0) if queue else b""
            return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return int(sent[0]["status"])


async def test_asgi_stops_pulling_a_100_mb_stream_once_it_is_over_the_limit() -> None:
    driver = Driver(asgi_app(CakewalkWebhooks(secret=SECRET), Recorder()))
    chunk = b"x" * 65536
    status = await driver.post([chunk] * 1600, {})  # 100 MiB, no Content-Length
    assert status == 413
    assert driver.pulled == 17  # 1 MiB is 16 chunks: the 17th is over; the rest never pulled


async def test_asgi_refuses_a_100_mb_content_length_without_pulling_the_body() -> None:
    driver = Driver(asgi_app(CakewalkWebhooks(secret=SECRET), Recorder()))
    status = await driver.post([b"x"] * 10, {}, length=100 * 1024 * 1024)
    assert status == 413
    assert driver.pulled == 0


async def test_asgi_answers_lifespan_messages() -> None:
    app = asgi_app(CakewalkWebhooks(secret=SECRET), Recorder())
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await asyncio.wait_for(app({"type": "lifespan"}, receive, send), 5)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_10000_events_through_the_asgi_receiver_none_lost_and_memory_flat() -> None:
    count = 0
    checksum = 0

    def on_events(events: list[WebhookEvent]) -> None:
        nonlocal count, checksum
        for event in events:
            assert isinstance(event, ActionableTaskEvent)
            count += 1
            checksum ^= uuid.UUID(event.task_id).int

    driver = Driver(asgi_app(CakewalkWebhooks(secret=SECRET), on_events))
    expected = 0
    requests = []
    for n in range(10_000):
        task_id = str(uuid.UUID(int=n * 7919 + 1))
        expected ^= uuid.UUID(task_id).int
        body, headers = signed(envelope(task_id))
        requests.append(([body], headers))

    async def run(batch: list[tuple[list[bytes], dict[str, str]]]) -> list[int]:
        return await asyncio.gather(*(driver.post(c, h) for c, h in batch))

    tracemalloc.start()
    try:
        statuses = await run(requests[:2000])
        warm, _ = tracemalloc.get_traced_memory()
        for start in range(2000, 10_000, 1000):
            statuses += await run(requests[start : start + 1000])
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert statuses == [204] * 10_000
    assert count == 10_000
    assert checksum == expected
    # Nothing is kept per request: 8,000 more requests leave no more than 256 KiB behind.
    assert after - warm < 256 * 1024


async def test_a_key_that_cannot_be_fetched_is_answered_503_so_cakewalk_retries(
    server: ScriptedServer,
) -> None:
    server.script([(401, {"title": "Unauthorized"})])
    async with CakewalkWebhooks.from_config(base_config(server, "cakewalk")) as hooks:
        driver = Driver(asgi_app(hooks, Recorder()))
        assert await driver.post([b"{}"], {"X-SIGNATURE": "AAAA"}) == 503
