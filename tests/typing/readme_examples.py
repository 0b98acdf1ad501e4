"""The README's and the guides' examples, type-checked (never run)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from typing import Any

from typing_extensions import assert_type

from taskbridge import (
    AlumioConfig,
    BatchTimeoutError,
    BridgeStats,
    CakewalkConfig,
    ProviderStats,
    RetryPolicy,
    TaskBridge,
    TaskFailure,
    TaskRef,
    TaskResult,
    UnifiedTask,
)
from taskbridge.sandbox import BackgroundSandbox, Faults, Sandbox


async def example() -> None:
    async with TaskBridge(
        cakewalk=CakewalkConfig(api_key="...", api_secret="..."),
        alumio=AlumioConfig("https://acme.alumio.com", token="..."),
    ) as bridge:
        task = await bridge.get("cakewalk", "3fa85f64-5717-4562-b3fc-2c963f66afa6")
        print(task.status, task.provider_status, task.updated_at)
        for result in await bridge.get_many([("alumio", "order-42"), ("cakewalk", task.id)]):
            print(result.ref, result.task.status if result.ok else result.error)


async def deadline(bridge: TaskBridge, refs: list[TaskRef]) -> None:
    results = await bridge.get_many(refs, timeout=5.0)
    late = [r for r in results if isinstance(r.error, BatchTimeoutError)]
    assert_type(late, list[TaskFailure])  # isinstance on .error narrows to TaskFailure
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(5.0):
            async for result in bridge.stream(refs):
                assert_type(result, TaskResult)


async def options_and_stats(bridge: TaskBridge, key: str, secret: str) -> dict[str, Any]:
    fast = bridge.with_options(timeout=5.0, retry=RetryPolicy(max_attempts=1))
    task = await fast.get("alumio", "order-42")
    assert_type(task.detail.identifier, str | None)
    snap = bridge.stats()
    assert_type(snap, BridgeStats)
    cw = snap.providers["cakewalk"]
    assert_type(cw, ProviderStats)
    assert_type(cw.in_flight, int)
    assert_type(cw.requests_per_minute, float | None)
    CakewalkConfig(key, secret, max_queue_wait=2.0)
    return snap.to_dict()


async def types(bridge: TaskBridge, refs: Iterable[TaskRef], task_id: str) -> None:
    task = await bridge.get("cakewalk", task_id)
    task.detail.last_updated_at  # noqa: B018
    for r in await bridge.get_many(refs):
        if r.ok:
            print(r.task.status)
        else:
            print(r.error.args)


def serialization(task: UnifiedTask[Any]) -> None:
    data = task.to_dict()
    assert_type(data, dict[str, Any])
    same = UnifiedTask.from_dict(data)
    assert same == task


async def sandbox(bridge: TaskBridge, sb: Sandbox) -> None:
    sb.set_faults("alumio", Faults(error_rate=0.3, seed=7))
    sb.answer("cakewalk", sb.cakewalk_ids[0], 404)
    sb.answer("alumio", "order-7", 503, times=2)
    sb.answer("alumio", "order-8", 429, times=1, retry_after=2)
    new_id = sb.add_task("alumio", status="failed", entityType="order")
    assert_type(new_id, str)
    sb.clear_answers()
    async with (
        Sandbox(seed=1, faults={"alumio": Faults(error_rate=0.1)}) as other,
        TaskBridge(cakewalk=other.cakewalk_config(), alumio=other.alumio_config()) as bridge2,
    ):
        await bridge2.get("cakewalk", other.cakewalk_ids[0])


def background() -> None:
    with BackgroundSandbox(seed=1) as sb:
        assert_type(sb.env(), dict[str, str])
        assert_type(sb.cakewalk_ids, tuple[str, ...])
