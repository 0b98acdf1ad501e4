"""`SyncTaskBridge` in one process: every method against the sandbox served from a
background thread, views, closing, callbacks, abandoned iterators, many threads."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taskbridge import (
    BatchTimeoutError,
    BridgeClosedError,
    ConfigurationError,
    RetryPolicy,
    SyncTaskBridge,
    TaskBridge,
    TaskUpdate,
    WaitTimeoutError,
)
from taskbridge.sandbox import BackgroundSandbox, Faults


def until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Wait (bounded) for a counter that has no event to wait on."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "taskbridge-sync-loop"]


def client_sockets(port: int) -> int:
    """Sockets of this process connected to ``port`` on loopback (from /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                    count += 1
    return count


@pytest.fixture
def slow_sandbox() -> Iterator[BackgroundSandbox]:
    """Alumio answers after 60 s (so only a cancellation ends its requests); Cakewalk at once."""
    with BackgroundSandbox(seed=1, any_id=True, faults={"alumio": Faults(latency=60)}) as sb:
        yield sb


def bridge_for(sandbox: BackgroundSandbox, **options: Any) -> SyncTaskBridge:
    return SyncTaskBridge(
        providers=sandbox.configs(requests_per_minute=None),
        retry=RetryPolicy(initial_backoff=0.0, max_backoff=0.0),
        **options,
    )


def test_every_method_works_against_the_sandbox(
    taskbridge_sync_bridge: SyncTaskBridge, taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    bridge, sandbox = taskbridge_sync_bridge, taskbridge_thread_sandbox
    cid, aid = sandbox.cakewalk_ids[0], sandbox.alumio_ids[0]
    task = bridge.get("cakewalk", cid)
    assert task.id == cid
    assert task == asyncio.run(_async_get(sandbox, cid))
    refs = [("cakewalk", i) for i in sandbox.cakewalk_ids[:40]] + [("alumio", aid)]
    results = bridge.get_many(refs)
    assert [r.ref for r in results] == refs and all(r.ok for r in results)
    streamed = list(bridge.stream(refs))
    assert sorted(r.ref for r in streamed) == sorted(refs)
    done = bridge.wait("cakewalk", cid, until=lambda t: True)
    assert done.id == cid
    updates = list(bridge.watch([("cakewalk", cid)], until=lambda t: True))
    assert [type(u) for u in updates] == [TaskUpdate]
    assert bridge.stats().providers["cakewalk"].requests >= 1 + 40 + 40


async def _async_get(sandbox: BackgroundSandbox, task_id: str) -> Any:
    async with TaskBridge(providers=sandbox.configs(requests_per_minute=None)) as bridge:
        return await bridge.get("cakewalk", task_id)


def test_errors_are_the_async_facades(taskbridge_sync_bridge: SyncTaskBridge) -> None:
    from taskbridge import InvalidTaskIdError, TaskNotFoundError

    with pytest.raises(InvalidTaskIdError):
        taskbridge_sync_bridge.get("cakewalk", "not-a-uuid")
    with pytest.raises(TaskNotFoundError):
        taskbridge_sync_bridge.get("cakewalk", str(uuid.uuid4()))
    with pytest.raises(ConfigurationError):
        taskbridge_sync_bridge.get("nope", "x")
    with pytest.raises(ConfigurationError):
        taskbridge_sync_bridge.stream([], backlog=-1)
    with pytest.raises(ConfigurationError):
        SyncTaskBridge(timeout=-1)
    with pytest.raises(TypeError):
        SyncTaskBridge(session=None)  # type: ignore[call-arg]


def test_with_options_view_shares_the_bridge_and_closes_alone(
    taskbridge_sync_bridge: SyncTaskBridge, taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    cid = taskbridge_thread_sandbox.cakewalk_ids[0]
    view = taskbridge_sync_bridge.with_options(timeout=5.0, retry=RetryPolicy(max_attempts=1))
    assert view.get("cakewalk", cid).id == cid
    assert view.stats().providers["cakewalk"].requests == 1  # one engine, one count
    with pytest.raises(ConfigurationError):
        taskbridge_sync_bridge.with_options(timeout=0)
    view.close()
    with pytest.raises(BridgeClosedError):
        view.get("cakewalk", cid)
    assert taskbridge_sync_bridge.get("cakewalk", cid).id == cid


def test_a_closed_bridge_refuses_every_call_and_leaves_no_thread_or_socket(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> None:
    sandbox = taskbridge_thread_sandbox
    before = len(loop_threads())
    bridge = bridge_for(sandbox)
    assert len(loop_threads()) == before  # started on first use only
    bridge.get_many([("cakewalk", i) for i in sandbox.cakewalk_ids[:32]])
    assert len(loop_threads()) == before + 1
    assert client_sockets(sandbox.port) > 0
    bridge.close()
    bridge.close()  # twice is fine
    assert len(loop_threads()) == before
    assert client_sockets(sandbox.port) == 0
    cid = sandbox.cakewalk_ids[0]
    calls: list[Callable[[], object]] = [
        lambda: bridge.get("cakewalk", cid),
        lambda: bridge.get_many([("cakewalk", cid)]),
        lambda: next(bridge.stream([("cakewalk", cid)])),
        lambda: bridge.wait("cakewalk", cid),
        lambda: next(bridge.watch([("cakewalk", cid)])),
        lambda: bridge.with_options(timeout=1.0).get("cakewalk", cid),
    ]
    for call in calls:
        with pytest.raises(BridgeClosedError):
            call()
    assert "closed" in repr(bridge)


def test_closing_ends_calls_waiting_in_other_threads_with_bridge_closed_error(
    slow_sandbox: BackgroundSandbox,
) -> None:
    bridge = bridge_for(slow_sandbox)
    outcomes: list[BaseException] = []

    def call() -> None:
        try:
            bridge.get("alumio", "e-1")
        except BaseException as exc:
            outcomes.append(exc)

    waiting = threading.Thread(target=call)
    waiting.start()
    until(lambda: slow_sandbox.stats.alumio.in_flight == 1, "the request")
    bridge.close()
    waiting.join(20)
    assert len(outcomes) == 1 and isinstance(outcomes[0], BridgeClosedError), outcomes


def test_timeouts_behave_as_in_the_async_facade(slow_sandbox: BackgroundSandbox) -> None:
    with bridge_for(slow_sandbox) as bridge:
        cid = str(uuid.uuid4())
        results = bridge.get_many([("cakewalk", cid), ("alumio", "x-1")], timeout=0.5)
        assert results[0].ok
        assert isinstance(results[1].error, BatchTimeoutError)
        with pytest.raises(WaitTimeoutError):
            bridge.wait("alumio", "x-2", timeout=0.2)
        until(lambda: bridge.stats().providers["alumio"].in_flight == 0, "cancellation")


class Boom(Exception):
    pass


def raise_boom(value: object) -> bool:
    raise Boom(repr(value))


def test_a_callback_that_raises_ends_the_call_with_its_error(
    taskbridge_sync_bridge: SyncTaskBridge, taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    bridge = taskbridge_sync_bridge
    cid = taskbridge_thread_sandbox.add_task("cakewalk", status="Pending")
    with pytest.raises(Boom):
        bridge.get_many([("cakewalk", cid)], on_result=raise_boom)
    with pytest.raises(Boom):
        bridge.wait("cakewalk", cid, until=raise_boom)
    with pytest.raises(Boom):
        list(bridge.watch([("cakewalk", cid)], until=raise_boom))
    assert bridge.get("cakewalk", cid).id == cid  # the bridge is fine


def test_calling_the_bridge_from_its_own_callback_is_a_typed_error(
    taskbridge_sync_bridge: SyncTaskBridge, taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    cid = taskbridge_thread_sandbox.cakewalk_ids[0]

    def reenter(result: object) -> None:
        taskbridge_sync_bridge.get("cakewalk", cid)

    with pytest.raises(ConfigurationError, match="its own callbacks"):
        taskbridge_sync_bridge.get_many([("cakewalk", cid)], on_result=reenter)


async def test_usable_from_inside_a_running_event_loop(
    taskbridge_sync_bridge: SyncTaskBridge, taskbridge_thread_sandbox: BackgroundSandbox
) -> None:
    cid = taskbridge_thread_sandbox.cakewalk_ids[0]
    assert asyncio.get_running_loop() is not None
    assert taskbridge_sync_bridge.get("cakewalk", cid).id == cid


def test_an_abandoned_stream_is_cancelled_when_garbage_collected(
    slow_sandbox: BackgroundSandbox,
) -> None:
    with bridge_for(slow_sandbox) as bridge:
        refs = [("cakewalk", str(uuid.uuid4()))] + [("alumio", f"a-{i}") for i in range(40)]
        results = bridge.stream(refs)
        assert next(results).ref == refs[0]  # the fast one; 16 alumio requests in flight
        until(lambda: slow_sandbox.stats.alumio.in_flight == 16, "the slow requests")
        del results
        gc.collect()
        until(lambda: bridge.stats().providers["alumio"].in_flight == 0, "the cancellation")


def test_leaving_a_for_loop_early_or_closing_cancels_at_once(
    slow_sandbox: BackgroundSandbox,
) -> None:
    with bridge_for(slow_sandbox) as bridge:
        refs = [("cakewalk", str(uuid.uuid4()))] + [("alumio", f"b-{i}") for i in range(40)]
        with bridge.stream(refs) as results:
            for _ in results:
                break
        # close() waited for the cancellation: nothing is in flight any more.
        assert bridge.stats().providers["alumio"].in_flight == 0
        watch = bridge.watch([("alumio", "b-1")])
        follow = threading.Thread(target=lambda: list(watch))
        follow.start()
        until(lambda: bridge.stats().providers["alumio"].in_flight == 1, "the poll")
        watch.close()
        follow.join(20)
        assert not follow.is_alive()
        assert bridge.stats().providers["alumio"].in_flight == 0


def test_a_stream_holds_a_bounded_buffer() -> None:
    with BackgroundSandbox(seed=1, any_id=True) as sandbox, bridge_for(sandbox) as bridge:
        refs = [("alumio", f"c-{i}") for i in range(3000)]
        results = bridge.stream(refs, backlog=0)
        first = next(results)
        # Not reading: the pump stops at its buffer, the stream at its lanes.
        until(lambda: sandbox.stats.alumio.in_flight == 0, "the pump to stop")
        assert sandbox.stats.alumio.requests <= 256 + 16 + 16 + 2
        rest = list(results)
        assert len(rest) + 1 == 3000 and first.ok


def test_a_thousand_threads_share_sixteen_connections(
    taskbridge_thread_sandbox: BackgroundSandbox,
) -> None:
    with BackgroundSandbox(seed=2, any_id=True, faults={"cakewalk": Faults(latency=0.02)}) as sb:
        config = sb.cakewalk_config(requests_per_minute=None, max_concurrency=16)
        with SyncTaskBridge(cakewalk=config) as bridge:
            ids = [str(uuid.uuid4()) for _ in range(1000)]
            start = threading.Barrier(len(ids), timeout=60)
            found: list[str] = []

            def one(task_id: str) -> None:
                start.wait()
                found.append(bridge.get("cakewalk", task_id).id)

            threads = [threading.Thread(target=one, args=(i,)) for i in ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert sorted(found) == sorted(ids)
            assert sb.stats.cakewalk.requests == 1000
            assert 1 < sb.stats.cakewalk.peak_in_flight <= 16


def test_the_loop_thread_killed_by_an_exception_is_a_typed_error_not_a_hang(
    slow_sandbox: BackgroundSandbox,
) -> None:
    bridge = bridge_for(slow_sandbox)
    blocked: list[BaseException] = []

    def follow() -> None:
        try:
            list(bridge.stream([("alumio", "d-1")]))
        except BaseException as exc:
            blocked.append(exc)

    other = threading.Thread(target=follow)
    other.start()
    until(lambda: slow_sandbox.stats.alumio.in_flight == 1, "the other thread's request")

    def kill(result: object) -> None:
        raise SystemExit("a callback let SystemExit out")

    with pytest.raises(BridgeClosedError, match="died") as info:
        bridge.get_many([("cakewalk", str(uuid.uuid4()))], on_result=kill)
    assert isinstance(info.value.__cause__, SystemExit)
    other.join(20)
    assert len(blocked) == 1 and isinstance(blocked[0], BridgeClosedError)
    with pytest.raises(BridgeClosedError, match="died"):
        bridge.get("cakewalk", str(uuid.uuid4()))
    until(lambda: not loop_threads(), "the dead thread's clean-up")
    bridge.close()
    assert client_sockets(slow_sandbox.port) == 0


# The two facades do not drift.

ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__"}


def public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if (not name.startswith("_") or name == "__init__") and name not in ASYNC_ONLY
    }


def test_every_public_method_and_keyword_of_taskbridge_is_on_syncTaskbridge() -> None:
    async_side, sync_side = public_methods(TaskBridge), public_methods(SyncTaskBridge)
    assert set(async_side) <= set(sync_side)
    for name, member in async_side.items():
        if isinstance(member, property):
            assert isinstance(sync_side[name], property), name
            continue
        expected = inspect.signature(member)
        if name == "__init__":
            params = [p for p in expected.parameters.values() if p.name != "session"]
            expected = expected.replace(parameters=params)
        got = inspect.signature(sync_side[name])
        assert [(p.name, p.kind, p.default, p.annotation) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default, p.annotation) for p in expected.parameters.values()
        ], name
    assert all(hasattr(SyncTaskBridge, name) for name in ("close", "__enter__", "__exit__"))
