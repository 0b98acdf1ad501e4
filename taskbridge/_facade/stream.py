"""`stream`: a supervised engine over an endless input, one lane per provider.

Each provider has a lane: a backlog of refs read ahead of its workers, and workers
started on demand (one per ref at most, never more than its ``max_concurrency``)
that leave when the backlog is empty. A lane holds at most ``max_concurrency +
backlog`` refs, counting those in its backlog, in flight, and done but not yet
yielded; the input is read as long as the lane of the next ref has room, so a slow
provider holds back the input only once its own backlog is full, never while its
refs are merely waiting for it. Memory is O(concurrency + backlog) whatever the
input's length.

Supervision: a worker turns whatever a fetch raises into that ref's typed error;
if a worker or the reader of the input dies anyway, the stream ends at once with
that exception. Nothing waits for a task that can no longer answer.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from .._base.errors import ConfigurationError, TaskBridgeError
from .._base.models import TaskFailure, TaskRef, TaskResult, new_task_success
from .._engine.engine import Tally
from .batch import failure_result

if TYPE_CHECKING:
    from .._engine.engine import Caller
    from .._engine.gate import ProviderGate

__all__ = ["DEFAULT_BACKLOG", "stream"]

DEFAULT_BACKLOG = 1024


class _Lane:
    """One provider's refs: its backlog, its workers, and how many refs it holds."""

    __slots__ = ("backlog", "gate", "held", "limit", "room", "workers")

    def __init__(self, gate: ProviderGate | None, limit: int) -> None:
        self.gate = gate
        self.limit = limit
        # (ref, task_id, the clock time its turn must come by, for max_queue_wait)
        self.backlog: collections.deque[tuple[TaskRef, str, float | None]] = collections.deque()
        self.held = 0  # admitted and not yet yielded
        self.workers = 0
        self.room: asyncio.Future[None] | None = None  # the reader, waiting for room

    def release(self) -> None:
        self.held -= 1
        if self.room is not None and not self.room.done():
            self.room.set_result(None)


@attrs.define
class _End:
    count: int
    error: BaseException | None


@attrs.define
class _Crash:
    error: BaseException


def check_backlog(backlog: object) -> int:
    """Validate ``stream(backlog=...)``."""
    if backlog is None:
        return DEFAULT_BACKLOG
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0:
        raise ConfigurationError("backlog must be an integer >= 0, or None for the default")
    return backlog


async def stream(  # noqa: PLR0915 - reader, workers and consumer share the lanes
    bridge: Caller, refs: Iterable[Any] | AsyncIterable[Any], backlog: int
) -> AsyncGenerator[TaskResult, None]:
    """See `TaskBridge.stream`."""
    bridge.check_loop()
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[tuple[_Lane, TaskResult] | _End | _Crash] = asyncio.Queue()
    lanes: dict[str, _Lane] = {}
    # Refs that fail before any request (bad shape, unknown provider, bad id).
    refused = _Lane(None, bridge.window())
    tasks: set[asyncio.Task[None]] = set()
    closing = False

    def supervise(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if closing:
            return
        if task.cancelled():
            crash: BaseException = TaskBridgeError("a stream worker was cancelled from outside")
        elif (error := task.exception()) is not None:
            crash = error
        else:
            return
        out.put_nowait(_Crash(crash))

    def start(coro: Any) -> None:
        task: asyncio.Task[None] = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(supervise)

    async def work(lane: _Lane) -> None:
        gate = lane.gate
        assert gate is not None
        tally = Tally()
        now = gate.now
        try:
            while lane.backlog:
                ref, task_id, until = lane.backlog.popleft()
                tally.attempts = 0
                began = now()
                # fetch inline (no helper coroutine): one frame less on every request.
                try:
                    if until is not None:
                        gate.check_turn(until, task_id)
                    task = await bridge.fetch(gate, task_id, tally)
                except Exception as exc:
                    result: TaskResult = failure_result(
                        bridge,
                        gate,
                        ref,
                        task_id,
                        exc,
                        attempts=tally.attempts,
                        elapsed=now() - began,
                    )
                else:
                    result = new_task_success(ref, task, None, tally.attempts, now() - began)
                out.put_nowait((lane, result))
        finally:
            lane.workers -= 1

    async def admit(item: object) -> None:
        ref, gate, task_id, error = bridge.resolve(item)
        if gate is None:
            lane = refused
        elif (lane := lanes.get(gate.name)) is None:  # type: ignore[assignment]
            lane = lanes[gate.name] = _Lane(gate, gate.limits.max_concurrency + backlog)
        while lane.held >= lane.limit:
            lane.room = loop.create_future()
            await lane.room
        lane.held += 1
        if gate is None:
            assert error is not None
            out.put_nowait((lane, TaskFailure(ref, error=error)))
            return
        lane.backlog.append((ref, task_id, gate.queued_until()))
        if lane.workers < gate.limits.max_concurrency:
            lane.workers += 1
            start(work(lane))

    async def read() -> None:
        count = 0
        try:
            if isinstance(refs, AsyncIterable):
                async for item in refs:
                    await admit(item)
                    count += 1
            else:
                for item in refs:
                    await admit(item)
                    count += 1
        except BaseException as exc:
            if closing:
                raise
            # The input's own error, CancelledError included (it awaited something
            # that was cancelled): delivered after the results of what was read.
            out.put_nowait(_End(count, exc))
        else:
            out.put_nowait(_End(count, None))

    start(read())
    try:
        received = 0
        end: _End | None = None
        while end is None or received < end.count:
            item = await out.get()
            if isinstance(item, _End):
                end = item
                continue
            if isinstance(item, _Crash):
                raise item.error
            lane, result = item
            received += 1
            lane.release()
            yield result
        if end.error is not None:
            raise end.error
    finally:
        closing = True
        pending = list(tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
