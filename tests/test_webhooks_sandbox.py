"""The sandbox sends real Cakewalk webhooks: key pair, /api/Keys, signed events, faults;
end to end into `watch(events=...)`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from taskbridge import TaskBridge, TaskRef
from taskbridge.sandbox import Lifecycle, Sandbox, WebhookFaults
from taskbridge.webhooks import (
    ActionableTaskEvent,
    CakewalkWebhooks,
    WebhookEvent,
    aiohttp_handler,
)

HOUR = 3600.0


class Receiver:
    """A real aiohttp server on loopback verifying with the sandbox's /api/Keys."""

    def __init__(self, hooks: CakewalkWebhooks) -> None:
        self.hooks = hooks
        self.events: list[WebhookEvent] = []
        self.arrived = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hooks", aiohttp_handler(hooks, self.take))
        self.server = TestServer(app)

    def take(self, events: list[WebhookEvent]) -> None:
        self.events.extend(events)
        self.arrived.set()

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hooks"))

    async def until(self, count: int) -> None:
        async def wait() -> None:
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), 10)


async def delivered(sandbox: Sandbox, count: int) -> list[tuple[str, int | None]]:
    """The sandbox's deliveries once it holds ``count`` (bounded: 10 s). A delivery is
    recorded when the receiver's answer is back, which is after the receiver took the
    events: a test that saw the events may still have to wait for the record."""
    for _ in range(500):
        if len(sandbox.webhook_deliveries) >= count:
            break
        await asyncio.sleep(0.02)
    return list(sandbox.webhook_deliveries)


@pytest.fixture(name="sandbox")
async def sandbox_fixture() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=5, tasks_per_provider=3, lifecycle=Lifecycle(speed=0)) as sb:
        yield sb


@pytest.fixture(name="receiver")
async def receiver_fixture(sandbox: Sandbox) -> AsyncIterator[Receiver]:
    async with CakewalkWebhooks.from_config(sandbox.cakewalk_config()) as hooks:
        receiver = Receiver(hooks)
        await receiver.server.start_server()
        try:
            yield receiver
        finally:
            await receiver.server.close()


async def test_the_public_key_is_served_at_api_keys_with_the_tasks_authentication(
    sandbox: Sandbox,
) -> None:
    config = sandbox.cakewalk_config()
    async with aiohttp.ClientSession() as session:
        headers = {"X-API-KEY": config.api_key, "X-API-SECRET": config.api_secret}
        async with session.get(f"{sandbox.url}/api/Keys", headers=headers) as response:
            assert response.status == 200
            answer = orjson.loads(await response.read())
        async with session.get(f"{sandbox.url}/api/Keys") as response:
            assert response.status == 401
    assert answer["publicKey"].encode() == sandbox.webhook_public_key()
    assert answer["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_a_body_the_sandbox_signs_verifies_with_the_key_it_serves(sandbox: Sandbox) -> None:
    body = orjson.dumps({"eventType": "test", "data": {"message": "Hello, World!"}})
    async with CakewalkWebhooks.from_config(sandbox.cakewalk_config()) as hooks:
        [event] = await hooks.verify(body, sandbox.sign_webhook(body))
    assert event.type == "test"
    assert CakewalkWebhooks(public_key=sandbox.webhook_public_key())


async def test_each_task_reaching_its_actionable_stage_sends_one_signed_event(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    sandbox.send_webhooks_to(receiver.url)
    assert receiver.events == []  # frozen lifecycle: nothing is actionable yet
    sandbox.advance(16.0)  # past every task's first stage (step 10 +- 50 %)
    await receiver.until(3)
    refs = {e.ref for e in receiver.events if isinstance(e, ActionableTaskEvent)}
    assert refs == {TaskRef("cakewalk", t) for t in sandbox.cakewalk_ids}
    assert sorted(status for _, status in await delivered(sandbox, 3)) == [204, 204, 204]
    sandbox.advance(100.0)  # later stages send nothing more
    sandbox.send_webhook(sandbox.cakewalk_ids[0])  # ... but one can be sent by hand
    await receiver.until(4)
    assert len(receiver.events) == 4


async def test_the_bad_signature_fault_is_refused_by_the_receiver(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    sandbox.send_webhooks_to(receiver.url, WebhookFaults(bad_signature=True))
    sandbox.send_webhook(sandbox.cakewalk_ids[0])
    assert await delivered(sandbox, 1) == [(sandbox.cakewalk_ids[0], 401)]
    assert receiver.events == []


async def test_the_duplicate_fault_sends_each_event_twice_and_late_sends_it_later(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    sandbox.send_webhooks_to(receiver.url, WebhookFaults(duplicate=True, delay=0.05))
    sandbox.send_webhook(sandbox.cakewalk_ids[1])
    await receiver.until(2)
    assert [e.ref.task_id for e in receiver.events if isinstance(e, ActionableTaskEvent)] == [
        sandbox.cakewalk_ids[1]
    ] * 2


async def test_the_target_can_be_set_over_http(sandbox: Sandbox, receiver: Receiver) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{sandbox.url}/_sandbox/webhooks"
        async with session.post(url, data=orjson.dumps({"url": receiver.url})) as response:
            assert response.status == 204
        async with session.post(url, data=b"[1]") as response:
            assert response.status == 400
    sandbox.advance(16.0)
    await receiver.until(3)


async def test_a_watch_with_events_sees_the_task_within_one_request_of_the_webhook(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    sandbox.send_webhooks_to(receiver.url)
    task_id = sandbox.cakewalk_ids[2]
    config = sandbox.cakewalk_config(
        requests_per_minute=None, poll_interval=HOUR, max_poll_interval=HOUR
    )
    seen: list[Any] = []
    async with TaskBridge(cakewalk=config) as bridge:
        watch = bridge.watch(
            [("cakewalk", task_id)],
            events=receiver.hooks,
            until=lambda task: task.provider_status == "InProgress",
        )
        async with watch:
            first = await asyncio.wait_for(watch.__anext__(), 10)
            before = sandbox.stats.cakewalk.requests
            sandbox.advance(16.0)
            second = await asyncio.wait_for(watch.__anext__(), 10)
            seen = [first, second]
    assert seen[0].task.provider_status == "Pending"
    assert seen[1].task.provider_status == "InProgress"
    assert sandbox.stats.cakewalk.requests == before + 1  # one poll, brought by the event


WITHOUT_CRYPTOGRAPHY = """
import asyncio, sys
sys.modules["cryptography"] = None  # as if the webhooks extra were not installed
import aiohttp
from taskbridge import TaskBridge
from taskbridge.sandbox import Sandbox
from taskbridge.webhooks import CakewalkWebhooks, WebhookKeyError

async def main():
    async with Sandbox(seed=1) as sb:
        async with TaskBridge(cakewalk=sb.cakewalk_config()) as bridge:
            task = await bridge.get("cakewalk", sb.cakewalk_ids[0])
        config = sb.cakewalk_config()
        headers = {"X-API-KEY": config.api_key, "X-API-SECRET": config.api_secret}
        async with aiohttp.ClientSession() as session:
            async with session.get(sb.url + "/api/Keys", headers=headers) as response:
                print(response.status, await response.text())
        try:
            CakewalkWebhooks.from_config(config)
        except WebhookKeyError as exc:
            print("from_config:", exc)
        print("task", task.provider_status)

asyncio.run(main())
"""


def test_without_the_extra_the_sandbox_works_and_webhooks_say_what_to_install() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CRYPTOGRAPHY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("501 ")
    assert 'pip install "aiotaskbridge[webhooks]"' in lines[0]
    assert lines[1].startswith("from_config:")
    assert 'pip install "aiotaskbridge[webhooks]"' in lines[1]
    assert lines[2].startswith("task ")
