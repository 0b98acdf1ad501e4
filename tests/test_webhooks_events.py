"""``events=`` of wait and watch: a verified event makes a followed task due now."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import threading
import weakref
from typing import Any

import orjson
import pytest
from aiohttp import web

from taskbridge import (
    CakewalkConfig,
    ConfigurationError,
    EventHooks,
    ResponseEvent,
    RetryPolicy,
    SyncTaskBridge,
    TaskBridge,
)
from taskbridge.sandbox import BackgroundSandbox, Lifecycle, Sandbox
from taskbridge.testing import VirtualClock
from taskbridge.webhooks import CakewalkWebhooks

from .conftest import KEY, SECRET, ScriptedServer, cakewalk_body

HOOK_SECRET = "whsec-events-tests-0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e"
TASK = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
OTHER = "9b2e4c1a-0d3f-4e5a-8b7c-6d5e4f3a2b1c"
HOUR = 3600.0  # a poll interval no test waits out: only an event brings the next poll


def config(server: ScriptedServer, max_concurrency: int = 16) -> CakewalkConfig:
    return CakewalkConfig(
        KEY,
        SECRET,
        base_url=server.url,
        requests_per_minute=None,
        poll_interval=HOUR,
        max_poll_interval=HOUR,
        max_concurrency=max_concurrency,
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


class Source:
    """The smallest event source: ``fire(ref)`` calls every listener."""

    def __init__(self, unsubscribe: bool = True) -> None:
        self.listeners: list[Any] = []
        self.unsubscribe = unsubscribe

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        if not self.unsubscribe:
            return None
        return lambda: self.listeners.remove(listener)

    def fire(self, ref: Any) -> None:
        for listener in list(self.listeners):
            listener(ref)


async def test_an_event_for_another_task_of_the_provider_does_not_poll_the_waited_one(
    server: ScriptedServer,
) -> None:
    # Two waits on one slot; the event names B only. B's next poll comes at once, and
    # A (whose listener hears the event first) gets none: had A been nudged too, its
    # poll would have gone before B's second one.
    answers = Statuses(server, "Pending", "Pending", "Approved")
    source = Source()
    async with TaskBridge(cakewalk=config(server, max_concurrency=1)) as bridge:
        a = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=source))
        await answers.next_request()
        b = asyncio.ensure_future(bridge.wait("cakewalk", OTHER, events=source))
        await answers.next_request()
        assert len(source.listeners) == 2  # each subscribed before its first poll
        source.fire(("cakewalk", OTHER))
        task = await asyncio.wait_for(b, 10)
        assert not a.done()
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
    assert task.provider_status == "Approved"
    assert [r.path.rsplit("/", 1)[1] for r in server.requests] == [TASK, OTHER, OTHER]


async def test_what_cannot_be_a_ref_is_ignored_by_the_listener(server: ScriptedServer) -> None:
    answers = Statuses(server, "Pending", "Approved")
    source = Source()
    async with TaskBridge(cakewalk=config(server)) as bridge:
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=source))
        await answers.next_request()
        assert len(source.listeners) == 1  # subscribed before the first poll
        source.fire(42)  # no length: ignored, nothing raised into the event source
        source.fire(("cakewalk", TASK, "extra"))  # not a pair: ignored
        source.fire(None)
        assert answers.count == 1
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        source.fire(("cakewalk", TASK))
        task = await asyncio.wait_for(waiting, 10)
    assert task.provider_status == "Approved"
    assert answers.count == 2


async def test_a_subscribe_that_returns_no_unsubscribe_function_is_refused(
    server: ScriptedServer,
) -> None:
    Statuses(server, "Pending")
    async with TaskBridge(cakewalk=config(server)) as bridge:
        with pytest.raises(ConfigurationError, match="unsubscribe"):
            await asyncio.wait_for(bridge.wait("cakewalk", TASK, events=Source(False)), 10)
        watch = bridge.watch([("cakewalk", TASK)], events=Source(False))
        with pytest.raises(ConfigurationError, match="unsubscribe"):
            await asyncio.wait_for(watch.__anext__(), 10)


async def test_an_event_heard_in_a_thread_without_a_loop_is_handed_to_the_bridges_loop(
    server: ScriptedServer,
) -> None:
    # Debug mode makes the loop refuse a call from another thread: the listener must
    # hand the event over (call_soon_threadsafe), not poll from the thread.
    answers = Statuses(server, "Pending", "Approved")
    source = Source()
    errors: list[BaseException] = []

    def fire() -> None:
        try:
            source.fire(("cakewalk", TASK))
        except BaseException as exc:
            errors.append(exc)

    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    async with TaskBridge(cakewalk=config(server)) as bridge:
        waiting = asyncio.ensure_future(bridge.wait("cakewalk", TASK, events=source))
        await answers.next_request()
        assert len(source.listeners) == 1  # subscribed before the first poll
        for _ in range(5):  # the first answer is in: the lane sleeps until its next poll
            await asyncio.sleep(0)
        loop.set_debug(True)
        try:
            thread = threading.Thread(target=fire)
            thread.start()
            thread.join(10)
        finally:
            loop.set_debug(debug)
        assert errors == []
        task = await asyncio.wait_for(waiting, 10)
    assert task.provider_status == "Approved"


async def test_an_event_handed_over_after_its_watch_was_collected_does_nothing(
    server: ScriptedServer,
) -> None:
    Statuses(server, "Pending")
    source = Source()
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context))
    try:
        async with TaskBridge(cakewalk=config(server)) as bridge:
            watch = bridge.watch([("cakewalk", TASK)], events=source)
            await asyncio.wait_for(watch.__anext__(), 10)
            listener = source.listeners[0]
            # From a thread: the event is queued for the loop ...
            thread = threading.Thread(target=listener, args=(("cakewalk", TASK),))
            thread.start()
            thread.join(10)
            # ... and the watch, left without `close`, is collected before it runs.
            gone = weakref.ref(watch)
            del watch
            gc.collect()
            assert gone() is None
            assert source.listeners == []  # its finalizer unsubscribed it
            for _ in range(5):
                await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(handler)
    assert reported == []


async def test_after_a_failed_poll_its_back_off_wins_over_an_event_heard_meanwhile() -> None:
    # The event comes while the first poll is in flight; that poll fails (503, one
    # attempt): the next one waits the back-off (7.5 s), and the event is spent: the
    # poll after it comes at 12.5 s, not at once.
    source = Source()

    class EventDuringFirstPoll(EventHooks):
        fired = False

        def response(self, event: ResponseEvent) -> None:
            if not self.fired:
                self.fired = True
                source.fire(("alumio", "flaky-task"))

    config = {"poll_interval": 5.0, "max_poll_interval": 20.0}
    async with (
        VirtualClock() as vtime,
        Sandbox(seed=5, lifecycle=Lifecycle(speed=0), clock=vtime.time, any_id=True) as sb,
        TaskBridge(
            alumio=sb.alumio_config(**config),
            retry=RetryPolicy(max_attempts=1),
            hooks=[EventDuringFirstPoll()],
        ) as bridge,
    ):
        sb.answer("alumio", "flaky-task", 503, times=1)
        waiting = asyncio.ensure_future(bridge.wait("alumio", "flaky-task", events=source))
        await vtime.sleep(7.0)
        assert sb.stats.alumio.by_id["flaky-task"] == 1  # the event did not hasten it
        await vtime.sleep(5.0)  # 12 s: polled at 7.5 s only
        assert sb.stats.alumio.by_id["flaky-task"] == 2
        await vtime.sleep(1.0)  # 13 s: and at 12.5 s
        assert sb.stats.alumio.by_id["flaky-task"] == 3
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
