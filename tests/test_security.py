"""Security promises: no leaked secret, no followed redirect, verified TLS, bounded hostility."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme
from aiohttp import web

from taskbridge import (
    AlumioConfig,
    APIError,
    CakewalkConfig,
    ConfigurationError,
    DecodeError,
    RequestTimeoutError,
    RetryPolicy,
    TaskBridge,
    TransportError,
)

from .conftest import (
    CAKEWALK_ID,
    KEY,
    SECRET,
    TOKEN,
    ScriptedServer,
    alumio_body,
    drop,
    for_request,
    make_bridge,
)


@pytest.fixture
async def other_origin() -> AsyncIterator[ScriptedServer]:
    srv = ScriptedServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_another_origin_sends_nothing_there(
    server: ScriptedServer, other_origin: ScriptedServer, status: int
) -> None:
    target = f"{other_origin.url}/api/v1/tasks/x"
    server.script([(status, b"", {"Location": target})])
    async with make_bridge(server) as bridge:
        with pytest.raises(APIError) as info:
            await bridge.get("alumio", "x")
        with pytest.raises(APIError):
            await bridge.get("cakewalk", CAKEWALK_ID)
    assert info.value.status == status
    assert other_origin.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://acme.alumio.com",
        "http://10.0.0.1",
        "http://localhost.evil.com",
        "ftp://127.0.0.1",
        "https://user:pw@acme.alumio.com",
    ],
)
def test_plain_http_or_odd_urls_to_remote_hosts_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        AlumioConfig(url, TOKEN)
    with pytest.raises(ConfigurationError):
        CakewalkConfig(KEY, SECRET, base_url=url)


@pytest.fixture(scope="module")
def tls() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(tls: trustme.CA) -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=for_request(alumio_body(), request), content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://localhost:{port}"
    finally:
        await runner.cleanup()


async def test_tls_certificates_are_verified_by_default(tls_server: str) -> None:
    config = AlumioConfig(tls_server, TOKEN)
    async with TaskBridge(alumio=config, retry=RetryPolicy(max_attempts=1)) as bridge:
        with pytest.raises(TransportError) as info:
            await bridge.get("alumio", "x")
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorCertificateError)


async def test_a_session_that_trusts_the_ca_reaches_the_tls_server(
    tls_server: str, tls: trustme.CA
) -> None:
    context = ssl.create_default_context()
    tls.configure_trust(context)
    connector = aiohttp.TCPConnector(ssl=context)
    config = AlumioConfig(tls_server, TOKEN)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        TaskBridge(alumio=config, session=session) as bridge,
    ):
        assert (await bridge.get("alumio", "x")).id == "x"


async def test_declared_huge_body_is_refused_without_reading_it(server: ScriptedServer) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 50 * 1024 * 1024 * 1024
        await response.prepare(request)
        await response.write(b"{")
        await asyncio.Event().wait()  # would send the rest forever
        return response

    server.script([huge])
    async with make_bridge(server, timeout=5.0) as bridge:
        started = time.monotonic()
        with pytest.raises(DecodeError, match="max_response_bytes"):
            await bridge.get("alumio", "x")
    assert time.monotonic() - started < 4.0  # refused on the header, not by the timeout


async def test_slow_drip_body_ends_at_the_timeout(server: ScriptedServer) -> None:
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:  # one byte at a time, each well under any read timeout
            await response.write(b" ")
            await asyncio.sleep(0.01)

    server.script([drip])
    async with make_bridge(server, timeout=0.3, retry=RetryPolicy(max_attempts=1)) as bridge:
        with pytest.raises(RequestTimeoutError):
            await bridge.get("alumio", "x")


async def test_headers_that_never_come_end_at_the_timeout(server: ScriptedServer) -> None:
    async def silent(request: web.Request) -> web.StreamResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server.script([silent])
    async with make_bridge(server, timeout=0.1, retry=RetryPolicy(max_attempts=2)) as bridge:
        with pytest.raises(RequestTimeoutError):
            await bridge.get("alumio", "x")
    assert len(server.requests) == 2


async def test_retry_after_of_days_is_not_waited_for(server: ScriptedServer) -> None:
    server.script([(503, b"", {"Retry-After": str(3 * 86400)}), (200, alumio_body())])
    async with make_bridge(server) as bridge:
        with pytest.raises(APIError) as info:
            await bridge.get("alumio", "x")
    assert info.value.retry_after == 3 * 86400
    assert len(server.requests) == 1


async def test_gzip_bomb_is_cut_at_max_response_bytes(server: ScriptedServer) -> None:
    import gzip

    bomb = gzip.compress(b" " * (20 * 1024 * 1024))  # ~20 KiB on the wire, 20 MiB inflated
    server.script([(200, bomb, {"Content-Encoding": "gzip"})])
    async with make_bridge(server, max_response_bytes=1024 * 1024) as bridge:
        with pytest.raises(DecodeError, match="max_response_bytes"):
            await bridge.get("alumio", "x")


async def test_debug_logs_name_no_secret_over_every_failure_kind(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def hang(request: web.Request) -> web.StreamResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    echo = {"title": KEY, "detail": SECRET + TOKEN}
    server.script(
        [
            (401, echo),
            (403, echo),
            (404, echo),
            (429, echo, {"Retry-After": "0"}),
            (500, echo),
            (200, b"{not json " + SECRET.encode()),
            drop,
            hang,
            (302, b"", {"Location": f"http://x/{SECRET}"}),
        ]
    )
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with make_bridge(server, timeout=0.1, retry=RetryPolicy(max_attempts=1)) as bridge:
        for provider, task_id in [("cakewalk", CAKEWALK_ID), ("alumio", "x")] * 5:
            try:
                await bridge.get(provider, task_id)
            except Exception as exc:
                seen.append(f"{exc!s} {exc!r} {getattr(exc, 'body', '')!r} {exc.__cause__!r}")
        seen.append(repr(bridge))
    seen.extend(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    text = "\n".join(seen)
    assert len(caplog.records) >= 9
    for secret in (KEY, SECRET, TOKEN):
        assert secret not in text
