"""`get_many(..., timeout=)`: keep what finished when the batch's time runs out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._base.checks import check_seconds
from .._base.errors import BatchTimeoutError
from .._base.models import TaskFailure, TaskRef, TaskResult
from .._engine.transport import show_id
from . import batch as _batch

if TYPE_CHECKING:
    from .._engine.engine import Caller

__all__ = ["get_many_within"]


def _timed_out(ref: TaskRef, seconds: float) -> TaskResult:
    error = BatchTimeoutError(
        f"{ref.provider} task {show_id(str(ref.task_id))}: not finished within the batch's "
        f"timeout ({seconds:g}s)",
        provider=str(ref.provider),
        task_id=str(ref.task_id),
    )
    return TaskFailure(ref, error=error)


async def get_many_within(
    bridge: Caller,
    refs: Iterable[Any],
    on_result: Callable[[TaskResult], object] | None,
    timeout: float,
) -> list[TaskResult]:
    """Run `get_many`; when ``timeout`` seconds pass, cancel what is left in flight and
    return the finished results, the rest failed with `BatchTimeoutError`."""
    timeout = check_seconds("get_many timeout", timeout, optional=True) or 0.0
    items = list(refs)
    finished: dict[TaskRef, TaskResult] = {}

    def collect(result: TaskResult) -> None:
        # An unhashable task id failed at once, before any request: found again below.
        with contextlib.suppress(TypeError):
            finished[result.ref] = result
        if on_result is not None:
            on_result(result)

    batch = asyncio.ensure_future(_batch.get_many(bridge, items, collect))
    try:
        await asyncio.wait({batch}, timeout=timeout)
    finally:
        if not batch.done():
            batch.cancel()
            await asyncio.gather(batch, return_exceptions=True)
    if not batch.cancelled():
        return batch.result()
    results: list[TaskResult] = []
    for item in items:
        ref = bridge.resolve(item)[0]
        try:
            result = finished.get(ref)
        except TypeError:
            result = None
        results.append(result if result is not None else _timed_out(ref, timeout))
    return results
