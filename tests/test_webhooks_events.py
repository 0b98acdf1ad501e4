"""``events=`` of wait and watch: a verified event makes a followed task due now."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
from typing import Any

import orjson
import pytest
from aiohttp import web

from taskbridge import CakewalkConfig, ConfigurationError, SyncTaskBridge, TaskBridge
from taskbridge.sandbox import BackgroundSandbox, Lifecycle
from taskbridge.webhooks import CakewalkWebhooks

from .conftest import KEY, SECRET, ScriptedServer, cakewalk_body

HOOK_SECRET = "whsec-events-tests-0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e"
TASK = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
OTHER = "9b2e4c1a-0d3f-4e5a-8b7c-6d5e4f3a2b1c"
HOUR = 3600.0  # a poll interval no test waits out: only an event brings the next poll


def config(server: ScriptedServer) -> CakewalkConfig:
    return CakewalkConfig(
        KEY,
        SECRET,
        base_url=server.url,
        requests_per_minute=None,
        poll_interval=HOUR,
        max_poll_interval=HOUR,
    )


def event_body(*task_ids: str) -> bytes:
    return orjson.dumps(
        [{"eventType": "action_task.actionable", "data": {"taskId": t}} for t in task_ids]
    )


def headers_for(body: bytes) -> dict[str, str]:
    digest = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).digest()
    return {"X-SIGNATURE": base64.b64encode(digest).decode()}


async def deliver(hooks: CakewalkWebhooks, *task_ids: str) -> None:
    body = event_body(*task_ids)
    await hooks.verify(body, headers_for(body))


class Statuses:
    """Answers each GET of a task with the next status (the last repeats); ``seen`` is
    set on each request, ``hold`` (when given) holds the answer of the first one."""

    def __init__(self, server: ScriptedServer, *statuses: str) -> None:
        self.queue = list(statuses)
        self.arrived = asyncio.Event()
        self.hold: asyncio.Event | None = None
        self.count = 0
        server.script([self.answer])

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.count += 1
        self.arrived.set()
        status = self.queue.pop(0) if len(self.queue) > 1 else self.queue[0]
        if self.count == 1 and self.hold is not None:
            await asyncio.wait_for(self.hold.wait(), 10)
        task_id = request.path.rsplit("/", 1)[1]
        body = cakewalk_body(id=task_id, status=status)
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def next_request(self) -> None:
        await asyncio.wait_for(self.arrived.wait(), 10)
        self.arrived.clear()


async def test_an_event_naming_the_waited_task_polls_it_at_once(server: ScriptedServer) -> None:
    answers = Statuses(server, "Pending", "Approved")
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    async with TaskBridge(cakewalk=config(server)) as bridge:
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=hooks))
        await answers.next_request()
        await deliver(hooks, OTHER)  # not waited for: ignored
        await deliver(hooks, TASK.upper())  # any case names the same task
        task = await asyncio.wait_for(waiting, 10)
    assert task.provider_status == "Approved"
    assert answers.count == 2


async def test_the_listener_is_removed_when_the_wait_ends(server: ScriptedServer) -> None:
    Statuses(server, "Approved")
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    async with TaskBridge(cakewalk=config(server)) as bridge:
        await asyncio.wait_for(bridge.wait("cakewalk", TASK, events=hooks), 10)
        assert hooks.subscribers == 0
        Statuses(server, "Pending")
        with pytest.raises(TimeoutError):
            await bridge.wait("cakewalk", TASK, events=hooks, timeout=0.05)
        assert hooks.subscribers == 0


async def test_an_event_during_a_poll_in_flight_brings_one_more_poll_after_it(
    server: ScriptedServer,
) -> None:
    answers = Statuses(server, "Pending", "Approved")
    answers.hold = asyncio.Event()
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    async with TaskBridge(cakewalk=config(server)) as bridge:
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=hooks))
        await answers.next_request()  # the first poll is in flight, held
        await deliver(hooks, TASK)
        answers.hold.set()  # it answers Pending: the event must not be lost
        task = await asyncio.wait_for(waiting, 10)
    assert task.provider_status == "Approved"
    assert answers.count == 2


async def test_a_watch_polls_the_named_ref_at_once_and_ignores_others(
    server: ScriptedServer,
) -> None:
    answers = Statuses(server, "Pending", "Pending", "InProgress")
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    async with TaskBridge(cakewalk=config(server)) as bridge:
        updates = []
        async with bridge.watch([("cakewalk", TASK), ("cakewalk", OTHER)], events=hooks) as w:
            assert hooks.subscribers == 0  # subscribed when iteration starts
            updates.append(await asyncio.wait_for(w.__anext__(), 10))
            updates.append(await asyncio.wait_for(w.__anext__(), 10))
            assert hooks.subscribers == 1
            await deliver(hooks, "00000000-0000-4000-8000-000000000000")  # not watched
            await deliver(hooks, OTHER)
            changed = await asyncio.wait_for(w.__anext__(), 10)
        assert hooks.subscribers == 0  # removed when the watch ends
    assert {u.ref.task_id for u in updates} == {TASK, OTHER}
    assert changed.ref.task_id == OTHER
    assert changed.task is not None and changed.task.provider_status == "InProgress"
    assert answers.count == 3


async def test_leaving_a_watch_loop_unsubscribes(server: ScriptedServer) -> None:
    Statuses(server, "Pending")
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    async with TaskBridge(cakewalk=config(server)) as bridge:
        async for _ in bridge.watch([("cakewalk", TASK)], events=hooks):
            assert hooks.subscribers == 1
            break
        assert hooks.subscribers == 0


async def test_events_must_be_an_event_source(server: ScriptedServer) -> None:
    async with TaskBridge(cakewalk=config(server)) as bridge:
        with pytest.raises(ConfigurationError, match="subscribe"):
            await bridge.wait("cakewalk", TASK, events=object())  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="subscribe"):
            bridge.watch([("cakewalk", TASK)], events=42)  # type: ignore[arg-type]


async def test_any_object_with_subscribe_is_an_event_source(server: ScriptedServer) -> None:
    answers = Statuses(server, "Pending", "Declined")

    class Source:
        def __init__(self) -> None:
            self.listeners: list[Any] = []

        def subscribe(self, listener: Any) -> Any:
            self.listeners.append(listener)
            return lambda: self.listeners.remove(listener)

    source = Source()
    async with TaskBridge(cakewalk=config(server)) as bridge:
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=source))
        await answers.next_request()
        source.listeners[0](("cakewalk", "not-a-uuid"))  # cannot name a task: ignored
        source.listeners[0](("alumio", TASK))  # another provider: ignored
        source.listeners[0](("cakewalk", TASK))
        task = await asyncio.wait_for(waiting, 10)
    assert task.provider_status == "Declined"
    assert source.listeners == []


def test_sync_wait_hears_an_event_verified_in_another_thread() -> None:
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)
    with BackgroundSandbox(seed=3, lifecycle=Lifecycle(speed=0)) as sb:
        task_id = sb.cakewalk_ids[0]
        settings = sb.cakewalk_config(
            requests_per_minute=None, poll_interval=HOUR, max_poll_interval=HOUR
        )

        def later() -> None:
            # Once the first poll has answered, the task finishes and the event comes.
            for _ in range(1000):
                if sb.stats.cakewalk.requests:
                    break
                threading.Event().wait(0.01)
            sb.advance(10_000)
            asyncio.run(deliver(hooks, task_id))

        helper = threading.Thread(target=later)
        with SyncTaskBridge(cakewalk=settings) as bridge:
            helper.start()
            task = bridge.wait("cakewalk", task_id, timeout=30, events=hooks)
        helper.join(10)
    assert task.is_terminal
    assert hooks.subscribers == 0


async def test_an_event_puts_its_task_ahead_of_every_overdue_one(server: ScriptedServer) -> None:
    # 20 tasks want a poll every few ms, the budget is 10 a second: every task is
    # overdue all the time. The one polled last is due last; an event naming it puts
    # it ahead of the others, so it is among the next requests (the one the driver
    # holds for the rate limiter and the one in flight may go first), not ~19 later.
    ids = [f"{n:08x}-5717-4562-b3fc-2c963f66afa6" for n in range(20)]
    seen: list[str] = []
    count = asyncio.Condition()

    async def answer(request: web.Request) -> web.StreamResponse:
        task_id = request.path.rsplit("/", 1)[1]
        async with count:
            seen.append(task_id)
            count.notify_all()
        body = cakewalk_body(id=task_id, status="Pending")
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    server.script([answer])
    busy = CakewalkConfig(
        KEY,
        SECRET,
        base_url=server.url,
        requests_per_minute=600,
        max_concurrency=2,
        poll_interval=0.001,
        max_poll_interval=0.002,
    )
    hooks = CakewalkWebhooks(secret=HOOK_SECRET)

    async def requests_seen(n: int) -> None:
        async with count:
            await asyncio.wait_for(count.wait_for(lambda: len(seen) >= n), 10)

    async with (
        TaskBridge(cakewalk=busy) as bridge,
        bridge.watch([("cakewalk", i) for i in ids], events=hooks) as watch,
    ):
        consumer = asyncio.ensure_future(asyncio.wait_for(_drain(watch), 30))
        try:
            await requests_seen(len(ids) + 5)  # every task polled once, then some
            target = seen[-1]  # the one polled last: due after every other
            before = len(seen)
            await deliver(hooks, target)
            await requests_seen(before + 3)
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
    assert target in seen[before : before + 3], (target, seen[before:])


async def _drain(watch: Any) -> None:
    async for _ in watch:
        pass
