"""Polling for `TaskBridge.wait` and `TaskBridge.watch`: one scheduler per bridge.

Each provider has a lane: a heap of the watched tasks ordered by when each is next
due, and one driver task that starts the due polls, at most half the provider's
``max_concurrency`` at a time, through the same fetch path as `TaskBridge.get` (gate,
rate limiter, pauses, retries, de-duplication with concurrent gets). Memory is a few
small objects per watched task, CPU is spent per poll, and when the rate budget is
short the earliest-due task goes first, so the budget is shared fairly and fully used.

A task asked for by several waits and watches at once is polled once for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._base.errors import (
    APIError,
    ConfigurationError,
    QueueTimeoutError,
    TaskBridgeError,
    TransportError,
    WaitTimeoutError,
)
from .._base.models import TaskRef, UnifiedTask
from .._engine.retry import RETRY_STATUSES
from .._engine.transport import show_id

if TYPE_CHECKING:
    from .._engine.engine import Caller
    from .._engine.gate import ProviderGate

__all__ = ["Scheduler", "TaskUpdate", "Watch"]

logger = logging.getLogger("taskbridge")

# An unchanged task is polled this much less often each time, up to max_poll_interval.
BACKOFF = 1.5
Until = Callable[[UnifiedTask[Any]], object]


@attrs.frozen(slots=True)
class TaskUpdate:
    """One event of `TaskBridge.watch` for one ref.

    The first observation of a ref has ``previous=None``; later ones come when its
    ``provider_status`` changed, with ``previous`` the task as last seen before. A
    fatal error (not found, auth, ...) comes once with ``task=None`` and ``error`` set,
    and the ref leaves the watch.
    """

    ref: TaskRef
    task: UnifiedTask[Any] | None
    previous: UnifiedTask[Any] | None = None
    error: TaskBridgeError | None = None


def _retryable(error: TaskBridgeError) -> bool:
    """Whether a poll that failed this way (after its retries) is worth polling again.

    A `QueueTimeoutError` is load shedding (``max_queue_wait``), not a verdict on the
    task: the next poll may find room.
    """
    if isinstance(error, (TransportError, QueueTimeoutError)):
        return True
    return isinstance(error, APIError) and error.status in RETRY_STATUSES


class _Sub(Protocol):
    """Someone waiting on a polled task: a `wait` call or one ref of a `watch`."""

    entry: _Entry | None

    def observe(self, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None) -> bool:
        """Take a poll's answer; return True when done with this task."""

    def fail(self, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        """The task cannot be polled any more (a fatal error)."""

    def crash(self, error: BaseException) -> None:
        """Polling broke (the bridge closed, or a bug): end the whole call with ``error``."""


class _Entry:
    """One polled task and everyone waiting on it."""

    __slots__ = ("interval", "last", "poll", "ref", "seq", "subs", "task_id")

    def __init__(self, ref: TaskRef, task_id: str, interval: float) -> None:
        self.ref = ref
        self.task_id = task_id
        self.interval = interval
        self.last: UnifiedTask[Any] | None = None
        self.poll: asyncio.Task[None] | None = None
        self.seq = 0  # the heap item with this seq is the live one; others are stale
        self.subs: list[_Sub] = []


class _Lane:
    """The polls of one provider: a due-time heap and the task that drives it."""

    def __init__(self, scheduler: Scheduler, gate: ProviderGate) -> None:
        limits = gate.limits
        self.gate = gate
        self.bridge = scheduler.bridge
        self.clock = scheduler.clock
        self.sleep = scheduler.sleep
        self.start = limits.poll_interval
        self.cap = limits.max_poll_interval
        # Half the slots at most, so that gets and batches always find one free.
        self.slots = max(1, limits.max_concurrency // 2)
        self.heap: list[tuple[float, int, _Entry]] = []
        self.entries: dict[str, _Entry] = {}
        self.polls: set[asyncio.Task[None]] = set()
        self.driver: asyncio.Task[None] | None = None
        self._seq = 0
        self._wake: asyncio.Future[None] | None = None
        self._wake_at = -math.inf
        self._slot_wait = False

    # Subscriptions.

    def add(self, ref: TaskRef, sub: _Sub) -> None:
        """Start following ``ref`` for ``sub``; its first poll is due now."""
        entry = self.entries.get(ref.task_id)
        if entry is None:
            entry = self.entries[ref.task_id] = _Entry(ref, ref.task_id, self.start)
        entry.subs.append(sub)
        sub.entry = entry
        if entry.poll is None:
            # A newcomer wants a fresh first look, not one up to max_poll_interval old.
            entry.interval = self.start
            self._schedule(entry, self.clock())
        if self.driver is None:
            self.driver = asyncio.get_running_loop().create_task(self._drive())

    def follows(self, task_id: str, owner: object) -> bool:
        """Whether a sub of ``owner`` already follows ``task_id``."""
        entry = self.entries.get(task_id)
        return entry is not None and any(getattr(s, "owner", None) is owner for s in entry.subs)

    def discard(self, sub: _Sub) -> None:
        """Stop following for ``sub``; the task stops being polled when nobody is left."""
        entry, sub.entry = sub.entry, None
        if entry is None:
            return
        try:
            entry.subs.remove(sub)
        except ValueError:
            return
        if not entry.subs:
            self._drop(entry)

    def _drop(self, entry: _Entry) -> None:
        if self.entries.get(entry.task_id) is entry:
            del self.entries[entry.task_id]
        entry.seq = -1
        for sub in entry.subs:
            sub.entry = None
        entry.subs = []
        poll, entry.poll = entry.poll, None
        if poll is not None:
            poll.cancel()
        if not self.entries:
            self.heap.clear()
            self._poke()  # the driver ends
        elif len(self.heap) > 2 * len(self.entries) + 64:
            self.heap = [item for item in self.heap if item[2].seq == item[1]]
            heapq.heapify(self.heap)

    def close(self, error: BaseException) -> None:
        """Cancel every poll and end every wait and watch on this lane with ``error``."""
        entries = list(self.entries.values())
        self.entries.clear()
        self.heap.clear()
        for entry in entries:
            subs, entry.subs = entry.subs, []
            entry.seq = -1
            if entry.poll is not None:
                entry.poll.cancel()
                entry.poll = None
            for sub in subs:
                sub.entry = None
                sub.crash(error)
        if self.driver is not None:
            self.driver.cancel()
            self.driver = None

    # The driver.

    def _schedule(self, entry: _Entry, due: float) -> None:
        self._seq += 1
        entry.seq = self._seq
        heapq.heappush(self.heap, (due, self._seq, entry))
        if due < self._wake_at:
            self._poke()

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _top(self) -> tuple[float, _Entry] | None:
        heap = self.heap
        while heap:
            due, seq, entry = heap[0]
            if entry.seq == seq:
                return due, entry
            heapq.heappop(heap)
        return None

    async def _drive(self) -> None:
        try:
            while self.entries:
                if len(self.polls) >= self.slots:
                    await self._park(math.inf, slot=True)
                    continue
                top = self._top()
                if top is None:  # every followed task is being polled right now
                    await self._park(math.inf)
                    continue
                due, entry = top
                wait = due - self.clock()
                if wait > 0:
                    await self._park(due, wait)
                    continue
                heapq.heappop(self.heap)
                entry.seq = 0
                task = asyncio.get_running_loop().create_task(self._poll(entry))
                entry.poll = task
                self.polls.add(task)
                task.add_done_callback(self._polled)
        except Exception as exc:  # a bug: end every call on this lane rather than hang them
            logger.exception("taskbridge polling of %s stopped", self.gate.name)
            self.driver = None
            self.close(exc)
        finally:
            if self.driver is asyncio.current_task():
                self.driver = None

    async def _park(self, until: float, wait: float | None = None, *, slot: bool = False) -> None:
        """Wait ``wait`` seconds (forever if None), or less if poked."""
        wake = asyncio.get_running_loop().create_future()
        self._wake, self._wake_at, self._slot_wait = wake, until, slot
        sleeper: asyncio.Future[Any] | None = None
        try:
            if wait is None:
                await wake
            else:
                sleeper = asyncio.ensure_future(self.sleep(wait))
                await asyncio.wait((wake, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wake, self._wake_at, self._slot_wait = None, -math.inf, False
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()

    def _polled(self, task: asyncio.Task[None]) -> None:
        self.polls.discard(task)
        if self._slot_wait:
            self._poke()

    async def _poll(self, entry: _Entry) -> None:
        error: BaseException | None = None
        try:
            task = await self.bridge.fetch(self.gate, entry.task_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
        entry.poll = None
        if not entry.subs:
            return
        if error is None:
            self._observed(entry, task)
        elif isinstance(error, TaskBridgeError) and _retryable(error):
            entry.interval = min(entry.interval * BACKOFF, self.cap)
            retry_after = getattr(error, "retry_after", None) or 0.0
            logger.debug("polling %s task %r failed, will retry: %s", *entry.ref, error)
            self._schedule(entry, self.clock() + max(entry.interval, retry_after))
        else:
            subs = list(entry.subs)
            last = entry.last
            self._drop(entry)
            for sub in subs:
                if isinstance(error, TaskBridgeError):
                    sub.fail(error, last)
                else:  # a bug, not the provider: it must not pass unnoticed
                    sub.crash(error)

    def _observed(self, entry: _Entry, task: UnifiedTask[Any]) -> None:
        previous = entry.last
        entry.last = task
        for sub in list(entry.subs):
            if sub.observe(task, previous):
                sub.entry = None
                entry.subs.remove(sub)
        if not entry.subs or task.is_terminal:
            self._drop(entry)
            return
        changed = previous is None or previous.provider_status != task.provider_status
        entry.interval = self.start if changed else min(entry.interval * BACKOFF, self.cap)
        self._schedule(entry, self.clock() + entry.interval)


class _WaitSub:
    __slots__ = ("entry", "future", "last", "until")

    def __init__(self, future: asyncio.Future[UnifiedTask[Any]], until: Until | None) -> None:
        self.future = future
        self.until = until
        self.last: UnifiedTask[Any] | None = None
        self.entry: _Entry | None = None

    def observe(self, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None) -> bool:
        self.last = task
        if self.future.done():
            return True
        try:
            done = task.is_terminal or (self.until is not None and bool(self.until(task)))
        except Exception as exc:
            self.future.set_exception(exc)
            return True
        if done:
            self.future.set_result(task)
        return done

    def fail(self, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        self.crash(error)

    def crash(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class _WatchState:
    """What a `Watch` and its subs share: the updates not yet taken, and who is left."""

    __slots__ = ("active", "error", "queue", "waiter")

    def __init__(self) -> None:
        self.queue: deque[TaskUpdate] = deque()
        self.active = 0
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def push(self, update: TaskUpdate) -> None:
        self.queue.append(update)
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _WatchSub:
    __slots__ = ("entry", "lane", "owner", "ref", "seen", "until")

    def __init__(self, lane: _Lane, owner: _WatchState, ref: TaskRef, until: Until | None) -> None:
        self.lane = lane
        self.owner = owner
        self.ref = ref
        self.until = until
        self.seen = False
        self.entry: _Entry | None = None

    def observe(self, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None) -> bool:
        first, self.seen = not self.seen, True
        try:
            leaving = task.is_terminal or (self.until is not None and bool(self.until(task)))
        except Exception as exc:
            self.crash(exc)
            return True
        changed = previous is None or previous.provider_status != task.provider_status
        owner = self.owner
        if first or changed or leaving:
            owner.push(TaskUpdate(self.ref, task, None if first else previous))
        if leaving:
            owner.active -= 1
            owner.wake()
        return leaving

    def fail(self, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        self.owner.active -= 1
        self.owner.push(TaskUpdate(self.ref, None, last if self.seen else None, error))

    def crash(self, error: BaseException) -> None:
        owner = self.owner
        if owner.error is None:
            owner.error = error
        owner.wake()


class Watch:
    """The async iterator `TaskBridge.watch` returns; also an async context manager.

    Polling starts at the first ``__anext__``. Leaving the loop (``break``, an
    exception, cancellation) stops every poll of this watch at once; `aclose` does
    so explicitly.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        refs: Iterable[object] | AsyncIterable[object],
        until: Until | None,
    ) -> None:
        if until is not None and not callable(until):
            raise ConfigurationError("until must be a callable or None")
        self._scheduler = scheduler
        self._refs: Iterable[object] | AsyncIterable[object] | None = refs
        self._until = until
        self._state = _WatchState()
        self._subs: list[_WatchSub] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"<taskbridge Watch following={self._state.active}>"

    def __aiter__(self) -> Watch:
        return self

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _add(self, item: object) -> None:
        bridge = self._scheduler.bridge
        state = self._state
        ref, gate, task_id, error = bridge.resolve(item)
        if gate is None or error is not None:
            state.push(TaskUpdate(ref, None, None, error))
            return
        lane = self._scheduler.lane(gate)
        if lane.follows(task_id, state):
            return  # a ref asked twice is followed (and reported) once
        sub = _WatchSub(lane, state, TaskRef(gate.name, task_id), self._until)
        state.active += 1
        self._subs.append(sub)
        lane.add(sub.ref, sub)

    async def _start(self, refs: Iterable[object] | AsyncIterable[object]) -> None:
        self._scheduler.bridge.ensure_session()
        if isinstance(refs, AsyncIterable):
            async for item in refs:
                if self._closed:
                    return
                self._add(item)
        else:
            for item in refs:
                self._add(item)

    async def __anext__(self) -> TaskUpdate:
        if self._closed:
            raise StopAsyncIteration
        if self._refs is not None:
            refs, self._refs = self._refs, None
            try:
                await self._start(refs)
            except BaseException:
                self.close()
                raise
        state = self._state
        while True:
            if state.queue:
                return state.queue.popleft()
            if state.error is not None:
                error = state.error
                self.close()
                raise error
            if state.active <= 0:
                self.close()
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            state.waiter = waiter
            try:
                await waiter
            except BaseException:
                self.close()
                raise
            finally:
                state.waiter = None

    def close(self) -> None:
        """Stop polling for this watch now; the iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._refs = None
        subs, self._subs = self._subs, []
        for sub in subs:
            sub.lane.discard(sub)
        self._state.queue.clear()

    async def aclose(self) -> None:
        """Stop polling for this watch now (as `close`, for ``contextlib.aclosing``)."""
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            # A closed loop (at exit) has nothing left to stop.
            with contextlib.suppress(RuntimeError):
                self.close()


class Scheduler:
    """The polling of one bridge: a lane per provider, created on first use."""

    def __init__(
        self,
        bridge: Caller,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self.bridge = bridge
        self.clock = clock
        self.sleep = sleep
        self._lanes: dict[str, _Lane] = {}

    def __repr__(self) -> str:
        return f"<taskbridge Scheduler following={self.following}>"

    @property
    def following(self) -> int:
        """How many distinct tasks are being polled (for tests and stats)."""
        return sum(len(lane.entries) for lane in self._lanes.values())

    @property
    def idle(self) -> bool:
        """Whether nothing is followed, no poll is in flight and no driver runs."""
        return all(
            not lane.entries and not lane.polls and lane.driver is None
            for lane in self._lanes.values()
        )

    def lane(self, gate: ProviderGate) -> _Lane:
        lane = self._lanes.get(gate.name)
        if lane is None:
            lane = self._lanes[gate.name] = _Lane(self, gate)
        return lane

    def close(self) -> None:
        """End every wait and watch of the bridge: it is closing."""
        for lane in self._lanes.values():
            lane.close(TaskBridgeError("this TaskBridge is closed"))

    async def wait(
        self, provider: object, task_id: object, *, timeout: float | None, until: Until | None
    ) -> UnifiedTask[Any]:
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout < 0
        ):
            raise ConfigurationError("timeout must be a number of seconds >= 0, or None")
        if until is not None and not callable(until):
            raise ConfigurationError("until must be a callable or None")
        bridge = self.bridge
        gate = bridge.gate(provider)
        checked = gate.adapter.check_id(task_id)
        bridge.ensure_session()
        future: asyncio.Future[UnifiedTask[Any]] = asyncio.get_running_loop().create_future()
        sub = _WaitSub(future, until)
        lane = self.lane(gate)
        lane.add(TaskRef(gate.name, checked), sub)
        timer: asyncio.Future[Any] | None = None
        try:
            if timeout is None:
                return await future
            timer = asyncio.ensure_future(self.sleep(timeout))
            await asyncio.wait((future, timer), return_when=asyncio.FIRST_COMPLETED)
            if future.done():
                return future.result()
            seen = "nothing seen yet" if sub.last is None else f"last {sub.last.provider_status!r}"
            raise WaitTimeoutError(
                f"{gate.name} task {show_id(checked)} did not finish within {timeout:g} s ({seen})",
                last=sub.last,
            )
        finally:
            lane.discard(sub)
            if timer is not None and not timer.done():
                timer.cancel()
            if not future.done():
                future.cancel()

    def watch(
        self, refs: Iterable[object] | AsyncIterable[object], *, until: Until | None
    ) -> Watch:
        return Watch(self, refs, until)
