"""``max_queue_wait``: bound the time a request waits to be admitted by its gate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from .._base.errors import QueueTimeoutError
from .transport import show_id

__all__ = ["admit_within", "queue_timeout"]


def queue_timeout(provider: str, task_id: str, seconds: float, why: str) -> QueueTimeoutError:
    """Build the error for a request that would wait more than ``seconds``."""
    return QueueTimeoutError(
        f"{provider} task {show_id(task_id)}: not sent, {why} (max_queue_wait={seconds:g}s)",
        provider=provider,
        task_id=task_id,
        max_queue_wait=seconds,
    )


async def admit_within(
    enter: Callable[[], Awaitable[float]], seconds: float, provider: str, task_id: str
) -> float:
    """Return ``enter()``'s result, but give up after ``seconds`` (`QueueTimeoutError`).

    ``enter`` must undo its own partial work when cancelled (the gate releases a slot it
    took), so giving up leaves nothing held.
    """
    if sys.version_info >= (3, 11):
        try:
            async with asyncio.timeout(seconds):
                return await enter()
        except TimeoutError:
            raise queue_timeout(provider, task_id, seconds, "no slot within the bound") from None
    try:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(enter(), seconds)
    except asyncio.TimeoutError:  # pragma: no cover - Python 3.10
        raise queue_timeout(provider, task_id, seconds, "no slot within the bound") from None
