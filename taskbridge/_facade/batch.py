"""Batch lookups: `get_many` over a held input (`stream` is in `_stream`).

It runs a pool of workers per provider (its ``max_concurrency``, fewer for fewer
refs), never one asyncio task per ref, so a provider's refs never wait behind
another provider's. Whatever a fetch raises becomes that ref's typed error; anything
else that breaks (an ``on_result`` that raises) ends the whole call at once.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from .._base.errors import TaskBridgeError
from .._base.models import TaskFailure, TaskRef, TaskResult, new_task_success
from .._engine.engine import Tally
from .._engine.transport import unexpected_error

if TYPE_CHECKING:
    from .._engine.engine import Caller
    from .._engine.gate import ProviderGate

__all__ = ["failure_result", "get_many"]


def failure_result(
    bridge: Caller,
    gate: ProviderGate,
    ref: TaskRef,
    task_id: str,
    exc: Exception,
    *,
    attempts: int,
    elapsed: float,
) -> TaskFailure:
    """The result of a ref whose fetch of ``task_id`` raised ``exc``: typed, whatever it was."""
    if not isinstance(exc, TaskBridgeError):
        exc = unexpected_error(gate.name, task_id, exc, bridge.redact)
    return TaskFailure(ref, error=exc, attempts=attempts, elapsed=elapsed)


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
    bridge: Caller,
    refs: Iterable[Any],
    on_result: Callable[[TaskResult], object] | None,
) -> list[TaskResult]:
    """See `TaskBridge.get_many`."""
    bridge.check_loop()
    results: list[TaskResult | None] = []
    # (provider, task_id) -> every input position asking for it
    waiting: dict[tuple[str, str], list[tuple[int, TaskRef]]] = {}
    queues: dict[str, tuple[ProviderGate, collections.deque[tuple[str, str]]]] = {}
    resolve = bridge.resolve
    for index, item in enumerate(refs):
        ref, gate, task_id, error = resolve(item)
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
            queue = queues.get(gate.name)
            if queue is None:
                queue = queues[gate.name] = (gate, collections.deque())
            queue[1].append(key)
        else:
            positions.append((index, ref))

    fetch = bridge.fetch

    async def worker(gate: ProviderGate, keys: collections.deque[tuple[str, str]]) -> None:
        # Every ref is queued from the call on: max_queue_wait bounds its wait for a turn.
        until = gate.queued_until()
        tally = Tally()
        now = gate.now
        while keys:
            key = keys.popleft()
            positions = waiting.pop(key)
            tally.attempts = 0
            began = now()
            # fetch inline (no helper coroutine): one frame less on every request.
            try:
                if until is not None:
                    gate.check_turn(until, key[1])
                task = await fetch(gate, key[1], tally)
            except Exception as exc:
                first: TaskResult = failure_result(
                    bridge,
                    gate,
                    positions[0][1],
                    key[1],
                    exc,
                    attempts=tally.attempts,
                    elapsed=now() - began,
                )
            else:
                first = new_task_success(positions[0][1], task, None, tally.attempts, now() - began)
            for index, ref in positions:
                result = first if ref is first.ref else attrs.evolve(first, ref=ref)
                results[index] = result
                if on_result is not None:
                    on_result(result)

    await _run_all(
        [
            worker(gate, keys)
            for gate, keys in queues.values()
            for _ in range(min(gate.limits.max_concurrency, len(keys)))
        ]
    )
    return results  # type: ignore[return-value]  # every slot is filled above
