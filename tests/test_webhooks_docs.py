"""The Webhooks guide's receivers (included in docs/guides/webhooks.md), run for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from taskbridge.pytest_plugin import WebhookSigner
from taskbridge.sandbox import Sandbox

try:
    import httpx
except ImportError:  # the test group installs httpx2 (the same API) on Python 3.11+
    import httpx2 as httpx  # type: ignore[no-redef]

TASK_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"

# --8<-- [start:aiohttp]
from taskbridge import CakewalkConfig, TaskBridge  # noqa: E402
from taskbridge.webhooks import (  # noqa: E402
    ActionableTaskEvent,
    CakewalkWebhooks,
    WebhookEvent,
    aiohttp_handler,
)

HOOKS = web.AppKey("hooks", CakewalkWebhooks)
BRIDGE = web.AppKey("bridge", TaskBridge)


async def on_events(events: list[WebhookEvent]) -> None:
    for event in events:
        if isinstance(event, ActionableTaskEvent):
            print("actionable:", event.ref.task_id)  # a hint: fetch the task to act on it


def make_app(config: CakewalkConfig) -> web.Application:
    app = web.Application()

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        # The key comes from /api/Keys through the bridge (its limits and retries).
        async with (
            TaskBridge(cakewalk=config) as bridge,
            CakewalkWebhooks.from_config(config, bridge=bridge) as hooks,
        ):
            app[BRIDGE], app[HOOKS] = bridge, hooks
            yield

    app.cleanup_ctx.append(lifespan)

    async def receive(request: web.Request) -> web.StreamResponse:
        return await aiohttp_handler(request.app[HOOKS], on_events)(request)

    app.router.add_post("/webhooks/cakewalk", receive)
    return app


# --8<-- [end:aiohttp]


@pytest.fixture(name="sandbox")
async def sandbox_fixture() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1) as sb:
        yield sb


async def test_the_aiohttp_receiver_answers_204_for_a_sandbox_signed_event(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(sandbox.cakewalk_config())
    async with TestClient(TestServer(app)) as client:
        task_id = sandbox.cakewalk_ids[0]
        body = (
            b'{"eventType": "action_task.actionable", "data": {"taskId": "%s"}}' % task_id.encode()
        )
        answer = await client.post(
            "/webhooks/cakewalk", data=body, headers=sandbox.sign_webhook(body)
        )
        assert answer.status == 204
        refused = await client.post("/webhooks/cakewalk", data=body + b" ", headers={})
        assert refused.status == 401
    assert f"actionable: {task_id}" in capsys.readouterr().out


# --8<-- [start:fastapi]
from fastapi import FastAPI  # noqa: E402

from taskbridge.webhooks import asgi_app  # noqa: E402


def make_fastapi_app(hooks: CakewalkWebhooks) -> FastAPI:
    received: list[WebhookEvent] = []
    app = FastAPI()
    app.state.received = received
    # 204 verified, 401 bad signature, 400 not events, 413 too large, 500 on_events raised.
    app.mount("/webhooks/cakewalk", asgi_app(hooks, received.extend))

    @app.get("/received")
    async def count() -> dict[str, int]:
        return {"events": len(received)}

    return app


async def test_my_fastapi_receiver(taskbridge_webhook_signer: WebhookSigner) -> None:
    app = make_fastapi_app(taskbridge_webhook_signer.hooks())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body, headers = taskbridge_webhook_signer.actionable(TASK_ID)
        answer = await client.post("/webhooks/cakewalk/", content=body, headers=headers)
        assert answer.status_code == 204
        unsigned = await client.post("/webhooks/cakewalk/", content=body)
        assert unsigned.status_code == 401
        assert (await client.get("/received")).json() == {"events": 1}


# --8<-- [end:fastapi]


# --8<-- [start:watch]
async def follow(bridge: TaskBridge, hooks: CakewalkWebhooks, task_ids: list[str]) -> None:
    refs = [("cakewalk", task_id) for task_id in task_ids]
    # A verified event naming one of these tasks has it polled at once; the poll, not
    # the event, says what the task is. Events for other tasks are ignored.
    async for update in bridge.watch(refs, events=hooks):
        if update.task is not None:
            print(update.ref.task_id, update.task.provider_status)


# --8<-- [end:watch]


async def test_follow_prints_the_tasks(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = CakewalkWebhooks(public_key=sandbox.webhook_public_key())
    async with TaskBridge(cakewalk=sandbox.cakewalk_config()) as bridge:
        await asyncio.wait_for(follow(bridge, hooks, list(sandbox.cakewalk_ids[:2])), 10)
    out = capsys.readouterr().out
    assert all(t in out for t in sandbox.cakewalk_ids[:2])
    assert hooks.subscribers == 0


def test_the_snippets_are_typed() -> None:
    values: list[Any] = [make_app, make_fastapi_app, follow, on_events]
    assert all(callable(v) for v in values)
