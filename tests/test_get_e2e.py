"""`TaskBridge.get` end to end: the real aiohttp client against a loopback server."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web

from taskbridge import (
    AlumioConfig,
    APIError,
    AuthenticationError,
    DecodeError,
    RequestTimeoutError,
    RetryPolicy,
    TaskBridge,
    TaskBridgeError,
    TaskNotFoundError,
    TaskStatus,
    TransportError,
)
from taskbridge._version import __version__

from .conftest import (
    CAKEWALK_ID,
    KEY,
    SECRET,
    SECRETS,
    TOKEN,
    ScriptedServer,
    alumio_body,
    cakewalk_body,
    client_tasks,
    drop,
    make_bridge,
)

PROBLEM = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "bad key"}
ALUMIO_ERROR = {"status": "404", "title": "Not Found", "detail": "no such task", "violations": []}


async def test_get_cakewalk_returns_unified_task(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    task = await bridge.get("cakewalk", CAKEWALK_ID)
    assert task.provider == "cakewalk"
    assert task.id == CAKEWALK_ID
    assert task.status is TaskStatus.PENDING
    assert task.provider_status == "Pending"
    assert task.kind == "RequestReviewTask"
    assert task.created_at is not None and task.created_at.microsecond == 123456
    assert task.updated_at is not None and task.updated_at.utcoffset() is not None
    assert task.detail.request.request_purpose == "Quarterly report"
    assert server.requests[0].raw_path == f"/api/v1/Tasks/{CAKEWALK_ID}"


async def test_get_alumio_returns_unified_task(server: ScriptedServer, bridge: TaskBridge) -> None:
    task = await bridge.get("alumio", "order-export-42")
    assert (task.provider, task.id, task.status) == (
        "alumio",
        "order-export-42",
        TaskStatus.RUNNING,
    )
    assert task.kind == "order"
    assert task.detail.entity_data == {"sku": "A-1", "qty": 3, "nested": {"ok": True}}


async def test_get_sends_cakewalk_auth_and_client_headers(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    await bridge.get("cakewalk", CAKEWALK_ID)
    headers = server.requests[0].headers
    assert headers["X-API-KEY"] == KEY
    assert headers["X-API-SECRET"] == SECRET
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"taskbridge/{__version__}"
    assert "Authorization" not in headers


async def test_get_sends_alumio_bearer_token(server: ScriptedServer, bridge: TaskBridge) -> None:
    await bridge.get("alumio", "x")
    headers = server.requests[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-API-SECRET" not in headers


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
async def test_get_401_is_authentication_error_with_body(
    server: ScriptedServer, bridge: TaskBridge, provider: str
) -> None:
    server.script([(401, PROBLEM)])
    task_id = CAKEWALK_ID if provider == "cakewalk" else "x"
    with pytest.raises(AuthenticationError) as info:
        await bridge.get(provider, task_id)
    assert info.value.status == 401
    assert info.value.title == "Unauthorized"
    assert (info.value.provider, info.value.task_id) == (provider, task_id)
    assert len(server.requests) == 1


@pytest.mark.parametrize("provider", ["cakewalk", "alumio"])
async def test_get_404_is_task_not_found(
    server: ScriptedServer, bridge: TaskBridge, provider: str
) -> None:
    server.script([(404, ALUMIO_ERROR)])
    with pytest.raises(TaskNotFoundError) as info:
        await bridge.get(provider, CAKEWALK_ID)
    assert info.value.detail == "no such task"
    assert "HTTP 404" in str(info.value)


@pytest.mark.parametrize(
    "identifier",
    ["a/b", "..", ".", "...", "?x=1", "#frag", "with space", "ünïcødé/日本", "%41", "a?b#c/../d"],
)
async def test_alumio_identifier_is_one_encoded_path_segment(
    server: ScriptedServer, bridge: TaskBridge, identifier: str
) -> None:
    await bridge.get("alumio", identifier)
    seen = server.requests[0]
    prefix = "/api/v1/tasks/"
    assert seen.raw_path.startswith(prefix)
    segment = seen.raw_path[len(prefix) :]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert segment not in (".", "..")
    assert unquote(segment) == identifier
    assert seen.query == {}


async def test_alumio_space_is_sent_as_query_parameter(server: ScriptedServer) -> None:
    async with make_bridge(server, space="team a/&b") as bridge:
        await bridge.get("alumio", "x")
    assert server.requests[0].query == {"space": "team a/&b"}


async def test_alumio_base_url_with_api_v1_is_not_doubled(server: ScriptedServer) -> None:
    config = AlumioConfig(f"{server.url}/api/v1/", TOKEN)
    async with TaskBridge(alumio=config) as bridge:
        await bridge.get("alumio", "x")
    assert server.requests[0].raw_path == "/api/v1/tasks/x"


async def test_redirect_is_not_followed(server: ScriptedServer, bridge: TaskBridge) -> None:
    server.script([(302, b"", {"Location": "http://127.0.0.2:9/steal"})])
    with pytest.raises(APIError) as info:
        await bridge.get("alumio", "x")
    assert type(info.value) is APIError
    assert info.value.status == 302
    assert len(server.requests) == 1


async def test_body_over_max_response_bytes_is_decode_error(server: ScriptedServer) -> None:
    server.script([(200, b"{" + b" " * 5000 + b"}")])
    async with make_bridge(server, max_response_bytes=1000) as bridge:
        with pytest.raises(DecodeError, match="max_response_bytes"):
            await bridge.get("alumio", "x")
    assert len(server.requests) == 1


async def test_chunked_body_over_limit_stops_reading(server: ScriptedServer) -> None:
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(b" " * 1024)
                sent += 1024
        except (ConnectionError, RuntimeError):
            pass
        return response

    server.script([endless])
    async with make_bridge(server, max_response_bytes=4096) as bridge:
        with pytest.raises(DecodeError, match="max_response_bytes"):
            await bridge.get("alumio", "x")
    assert sent < 10_000 * 1024


async def test_malformed_json_is_decode_error_and_not_retried(
    server: ScriptedServer, bridge: TaskBridge
) -> None:
    server.script([(200, b'{"object": {"identifier": "x"')])
    with pytest.raises(DecodeError, match="not valid JSON"):
        await bridge.get("alumio", "x")
    assert len(server.requests) == 1


@pytest.mark.parametrize("content_type", ["application/json", "text/json", "text/plain"])
async def test_cakewalk_json_decodes_under_each_content_type(
    server: ScriptedServer, bridge: TaskBridge, content_type: str
) -> None:
    server.script([(200, cakewalk_body(), {"Content-Type": f"{content_type}; charset=utf-8"})])
    task = await bridge.get("cakewalk", CAKEWALK_ID)
    assert task.id == CAKEWALK_ID


async def test_attempt_over_timeout_is_request_timeout_error(server: ScriptedServer) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        await never.wait()
        raise AssertionError("unreachable")

    server.script([hang])
    async with make_bridge(server, timeout=0.05, retry=RetryPolicy(max_attempts=1)) as bridge:
        with pytest.raises(RequestTimeoutError) as info:
            await bridge.get("alumio", "x")
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, TransportError)


async def test_dropped_connection_is_transport_error(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script([drop])
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    async with make_bridge(server, retry=RetryPolicy(max_attempts=2, initial_backoff=0)) as bridge:
        with pytest.raises(TransportError) as info:
            await bridge.get("alumio", "x")
    assert isinstance(info.value.__cause__, aiohttp.ClientError)
    attempts = [r for r in caplog.records if r.levelno == logging.DEBUG and r.name == "taskbridge"]
    assert [r.attempt for r in attempts] == [1, 2]  # type: ignore[attr-defined]
    # aiohttp itself re-sends an idempotent GET once on a connection closed under it.
    assert 2 <= len(server.requests) <= 4


async def test_injected_session_is_used_and_not_closed(server: ScriptedServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with make_bridge(server, session=session) as bridge:
            await bridge.get("alumio", "x")
        assert not session.closed


async def test_closed_bridge_refuses_work(server: ScriptedServer) -> None:
    bridge = make_bridge(server)
    await bridge.aclose()
    with pytest.raises(TaskBridgeError, match="closed"):
        await bridge.get("alumio", "x")


async def test_get_without_context_manager_then_aclose(server: ScriptedServer) -> None:
    bridge = make_bridge(server)
    task = await bridge.get("alumio", "order-export-42")
    await bridge.aclose()
    assert task.id == "order-export-42"


async def test_cancelled_get_leaves_no_task(server: ScriptedServer, bridge: TaskBridge) -> None:
    arrived = asyncio.Event()
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await never.wait()
        raise AssertionError("unreachable")

    server.script([hang])
    before = client_tasks()
    job = asyncio.ensure_future(bridge.get("alumio", "x"))
    await arrived.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert client_tasks() - before - {job} == set()
    assert bridge._engine.inflight == {}
    server.script([(200, alumio_body())])
    assert (await bridge.get("alumio", "order-export-42")).id == "order-export-42"


async def test_no_secret_in_logs_or_errors_across_failures(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"title": f"bad key {KEY}", "detail": f"secret {SECRET} token {TOKEN}"}

    server.script([(503, echo), drop, (401, echo), (429, echo, {"Retry-After": "9999"})])
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with make_bridge(server, retry=RetryPolicy(max_attempts=2, initial_backoff=0)) as bridge:
        for _ in range(3):
            try:
                await bridge.get("cakewalk", CAKEWALK_ID)
            except TaskBridgeError as exc:
                errors.append(exc)
        text = repr(bridge) + "".join(f"{e!s}{e!r}{vars(e)}" for e in errors)
    text += "".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert len(errors) == 3
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    for secret in SECRETS:
        assert secret not in text.replace(repr(errors[0].body), "")
