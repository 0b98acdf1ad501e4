"""Batch lookups: `get_many` over a held input, `stream` over an endless one.

Both run a fixed pool of workers per provider (its ``max_concurrency``), never one
asyncio task per ref, so a provider's refs never wait behind another provider's.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import TaskBridgeError
from ._models import TaskFailure, TaskRef, TaskResult, TaskSuccess

if TYPE_CHECKING:
    from ._bridge import TaskBridge
    from ._gate import ProviderGate

__all__ = ["get_many", "stream"]


async def _result(bridge: TaskBridge, gate: ProviderGate, ref: TaskRef, task_id: str) -> TaskResult:
    try:
        return TaskSuccess(ref, await bridge._fetch(gate, task_id))
    except TaskBridgeError as exc:
        return TaskFailure(ref, error=exc)


async def _run_all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run coroutines together; if one fails or we are cancelled, cancel and await all."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def get_many(
    bridge: TaskBridge,
    refs: Iterable[Any],
    on_result: Callable[[TaskResult], object] | None,
) -> list[TaskResult]:
    """See `TaskBridge.get_many`."""
    results: list[TaskResult | None] = []
    # (provider, task_id) -> every input position asking for it
    waiting: dict[tuple[str, str], list[tuple[int, TaskRef]]] = {}
    queues: dict[str, tuple[ProviderGate, collections.deque[tuple[str, str]]]] = {}
    for index, item in enumerate(refs):
        ref, gate, task_id, error = bridge._resolve(item)
        if gate is None:
            assert error is not None
            result: TaskResult = TaskFailure(ref, error=error)
            results.append(result)
            if on_result is not None:
                on_result(result)
            continue
        results.append(None)
        key = (gate.name, task_id)
        positions = waiting.get(key)
        if positions is None:
            waiting[key] = [(index, ref)]
            queues.setdefault(gate.name, (gate, collections.deque()))[1].append(key)
        else:
            positions.append((index, ref))

    async def worker(gate: ProviderGate, keys: collections.deque[tuple[str, str]]) -> None:
        while keys:
            key = keys.popleft()
            positions = waiting.pop(key)
            first = await _result(bridge, gate, positions[0][1], key[1])
            for index, ref in positions:
                result = first if ref is first.ref else attrs.evolve(first, ref=ref)
                results[index] = result
                if on_result is not None:
                    on_result(result)

    await _run_all(
        [
            worker(gate, keys)
            for gate, keys in queues.values()
            for _ in range(min(gate.adapter.max_concurrency, len(keys)))
        ]
    )
    return results  # type: ignore[return-value]  # every slot is filled above


@attrs.define
class _End:
    count: int
    error: BaseException | None


async def stream(  # noqa: PLR0915 - feeder, workers and consumer share the queues
    bridge: TaskBridge, refs: Iterable[Any] | AsyncIterable[Any]
) -> AsyncGenerator[TaskResult, None]:
    """See `TaskBridge.stream`."""
    out: asyncio.Queue[TaskResult | _End] = asyncio.Queue()
    window = asyncio.Semaphore(bridge._window())
    queues: dict[str, asyncio.Queue[tuple[TaskRef, str]]] = {}
    workers: list[asyncio.Task[None]] = []

    async def worker(gate: ProviderGate, queue: asyncio.Queue[tuple[TaskRef, str]]) -> None:
        while True:
            ref, task_id = await queue.get()
            out.put_nowait(await _result(bridge, gate, ref, task_id))

    def submit(item: object) -> None:
        ref, gate, task_id, error = bridge._resolve(item)
        if gate is None:
            assert error is not None
            out.put_nowait(TaskFailure(ref, error=error))
            return
        queue = queues.get(gate.name)
        if queue is None:
            queue = queues[gate.name] = asyncio.Queue()
            workers.extend(
                asyncio.ensure_future(worker(gate, queue))
                for _ in range(gate.adapter.max_concurrency)
            )
        queue.put_nowait((ref, task_id))

    async def feed() -> None:
        count = 0
        try:
            if isinstance(refs, AsyncIterable):
                async for item in refs:
                    await window.acquire()
                    submit(item)
                    count += 1
            else:
                for item in refs:
                    await window.acquire()
                    submit(item)
                    count += 1
        except Exception as exc:
            out.put_nowait(_End(count, exc))
        else:
            out.put_nowait(_End(count, None))

    feeder = asyncio.ensure_future(feed())
    try:
        received = 0
        end: _End | None = None
        while end is None or received < end.count:
            item = await out.get()
            if isinstance(item, _End):
                end = item
                continue
            received += 1
            window.release()
            yield item
        if end.error is not None:
            raise end.error
    finally:
        pending = [feeder, *workers]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
