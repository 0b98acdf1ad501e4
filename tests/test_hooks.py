"""Event hooks, response metadata on errors, and `get_with_response`, against the real
client and the sandbox (or a scripted loopback server)."""

from __future__ import annotations

import asyncio
import logging
import pickle
import secrets
from typing import Any

import pytest

from taskbridge import (
    APIError,
    ConfigurationError,
    EventHooks,
    PauseEvent,
    QueueWaitEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    RetryPolicy,
    ServerError,
    TaskBridge,
)
from taskbridge.sandbox import Sandbox
from taskbridge.testing import VirtualClock

from .conftest import CAKEWALK_ID, ScriptedServer, cakewalk_body, make_bridge

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, max_retry_after=30.0)


class Recorder(EventHooks):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def request(self, event: RequestEvent) -> None:
        self.events.append(event)

    def response(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def retry(self, event: RetryEvent) -> None:
        self.events.append(event)

    def rate_limit_pause(self, event: PauseEvent) -> None:
        self.events.append(event)

    def queue_wait(self, event: QueueWaitEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


def bridge_for(sb: Sandbox, **options: Any) -> TaskBridge:
    options.setdefault("retry", FAST)
    return TaskBridge(
        cakewalk=sb.cakewalk_config(requests_per_minute=None),
        alumio=sb.alumio_config(**options.pop("alumio", {})),
        telemetry=False,
        **options,
    )


async def test_hooks_see_each_attempt_retry_and_pause_in_order() -> None:
    hook = Recorder()
    async with (
        VirtualClock() as clock,
        Sandbox(seed=3, clock=clock.time) as sb,
        bridge_for(sb, hooks=hook) as bridge,
    ):
        task_id = sb.ids("alumio")[0]
        sb.answer("alumio", task_id, 503, times=1)
        sb.answer("alumio", task_id, 429, times=1, retry_after=3)
        await bridge.get("alumio", task_id)
    assert hook.kinds() == [
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "RequestEvent",
        "ResponseEvent",
        "RetryEvent",
        "PauseEvent",
        "RequestEvent",
        "ResponseEvent",
    ]
    requests = [e for e in hook.events if isinstance(e, RequestEvent)]
    responses = [e for e in hook.events if isinstance(e, ResponseEvent)]
    assert [e.attempt for e in requests] == [1, 2, 3]
    assert [e.status for e in responses] == [503, 429, 200]
    assert [type(e.error).__name__ for e in responses] == [
        "ServerError",
        "RateLimitedError",
        "NoneType",
    ]
    assert all(r.request is q for r, q in zip(responses, requests, strict=True))
    assert requests[0].url.startswith(f"{sb.url}/") and task_id in requests[0].url
    pause = next(e for e in hook.events if isinstance(e, PauseEvent))
    assert (pause.seconds, pause.retry_after) == (3.0, 3.0)


async def test_a_request_that_waits_for_a_slot_is_a_queue_wait_event() -> None:
    hook = Recorder()
    async with (
        Sandbox(seed=3) as sb,
        bridge_for(sb, hooks=hook, alumio={"max_concurrency": 1}) as bridge,
    ):
        ids = sb.ids("alumio")[:3]
        await asyncio.gather(*(bridge.get("alumio", i) for i in ids))
    waits = [e for e in hook.events if isinstance(e, QueueWaitEvent)]
    assert len(waits) == 2
    assert all(w.error is None and w.waited >= w.rate_limit_wait >= 0 for w in waits)
    assert {w.task_id for w in waits} < set(ids)


async def test_a_hook_that_raises_logs_one_warning_and_never_fails_a_fetch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(EventHooks):
        def request(self, event: RequestEvent) -> None:
            raise RuntimeError("boom")

        def response(self, event: ResponseEvent) -> None:
            raise ValueError("boom")

    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="taskbridge")
    async with Sandbox(seed=3) as sb, bridge_for(sb, hooks=[Broken(), recorder]) as bridge:
        ids = sb.ids("cakewalk")[:3]
        results = await bridge.get_many([("cakewalk", i) for i in ids])
    assert all(r.ok for r in results)
    assert recorder.kinds().count("ResponseEvent") == 3  # the next hook still runs
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(r.getMessage() for r in warnings) == [
        "taskbridge hook Broken.request raised RuntimeError; ignored",
        "taskbridge hook Broken.response raised ValueError; ignored",
    ]
    again = [
        r for r in caplog.records if r.levelno == logging.DEBUG and "(again)" in r.getMessage()
    ]
    assert len(again) == 4


async def test_a_hook_may_add_headers_but_never_replace_the_credentials(
    server: ScriptedServer,
) -> None:
    marker = secrets.token_hex(16)

    class AddHeaders(EventHooks):
        def request(self, event: RequestEvent) -> None:
            event.headers["X-Trace"] = marker
            event.headers["X-API-KEY"] = "replaced"

    async with make_bridge(server, hooks=AddHeaders(), telemetry=False) as bridge:
        await bridge.get("cakewalk", CAKEWALK_ID)
    (seen,) = server.requests
    assert seen.headers["X-Trace"] == marker
    assert seen.headers["X-API-KEY"] != "replaced"


@pytest.mark.parametrize("hooks", [object(), [EventHooks(), "x"], "hooks"])
def test_hooks_must_be_event_hooks(hooks: Any) -> None:
    with pytest.raises(ConfigurationError):
        TaskBridge(hooks=hooks)


async def test_an_api_error_carries_the_response_headers_and_attempts(
    server: ScriptedServer,
) -> None:
    request_id = secrets.token_hex(16)
    server.script([(503, {"title": "down"}, {"X-Request-Id": request_id})])
    async with make_bridge(server, telemetry=False) as bridge:
        with pytest.raises(ServerError) as info:
            await bridge.get("cakewalk", CAKEWALK_ID)
    error = info.value
    assert error.attempts == 4
    assert error.headers["x-request-id"] == request_id  # case-insensitive
    with pytest.raises(TypeError):
        error.headers["X-Request-Id"] = "changed"  # type: ignore[index]
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, ServerError)
    assert copy.headers.get("X-REQUEST-ID") == request_id
    assert copy.attempts == 4


async def test_an_api_error_built_by_hand_has_empty_headers() -> None:
    error = APIError("x", provider="p", task_id="t", status=418)
    assert dict(error.headers) == {} and error.attempts == 1


async def test_get_with_response_gives_the_final_answers_status_and_headers(
    server: ScriptedServer,
) -> None:
    request_id = secrets.token_hex(16)
    server.script([(502, b"bad gateway"), (200, cakewalk_body(), {"X-Request-Id": request_id})])
    async with make_bridge(server, telemetry=False) as bridge:
        answer = await bridge.get_with_response("cakewalk", CAKEWALK_ID)
        again = await bridge.get("cakewalk", CAKEWALK_ID)
    assert answer.task == again
    assert answer.status == 200
    assert answer.headers["x-request-id"] == request_id
    assert answer.attempts == 2
    assert answer.elapsed > 0


async def test_a_hook_that_is_not_enabled_is_told_nothing(server: ScriptedServer) -> None:
    class Off(Recorder):
        def enabled(self) -> bool:
            return False

    hook = Off()
    async with make_bridge(server, hooks=hook, telemetry=False) as bridge:
        await bridge.get("cakewalk", CAKEWALK_ID)
    assert hook.events == []
