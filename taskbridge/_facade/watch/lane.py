"""One provider's polls: a heap of the followed tasks by due time, and its driver.

The driver starts the due polls, at most half the provider's ``max_concurrency`` at
a time (so that gets and batches always find a slot), through the bridge's fetch
path; a poll's answer goes to every subscriber of the task (`Sub`), and the task is
scheduled again: soon after a change, less often (1.5-fold, up to
``max_poll_interval``) while nothing changes.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..._base.errors import ProviderError, TaskBridgeError
from ..._base.models import UnifiedTask
from ..._engine.retry import decide

if TYPE_CHECKING:
    from ..._engine.engine import Caller
    from ..._engine.gate import ProviderGate

__all__ = ["BACKOFF", "Entry", "Lane", "Sub"]

logger = logging.getLogger("taskbridge")

# An unchanged task is polled this much less often each time, up to max_poll_interval.
BACKOFF = 1.5

# `Entry.seq` of a task being polled that an event named meanwhile: poll it once more
# right after (0 while polled otherwise, -1 once dropped; a heap item's seq is >= 1).
AGAIN = -2


class Sub(Protocol):
    """Someone waiting on polled tasks: a `wait` call, or a `watch` (one sub for all
    its refs on one lane)."""

    def observe(
        self, entry: Entry, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None
    ) -> bool:
        """Take a poll's answer; return True when done with this task."""

    def fail(self, entry: Entry, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        """The task cannot be polled any more (a fatal error)."""

    def crash(self, error: BaseException) -> None:
        """Polling broke (the bridge closed, or a bug): end the whole call with ``error``."""


class Entry:
    """One polled task and everyone waiting on it.

    A million of these can be alive at once, so each holds only what its polls need:
    its one subscriber is held directly (``subs``), a list only from the second on.
    """

    __slots__ = ("interval", "last", "poll", "seq", "subs", "task_id")

    def __init__(self, task_id: str, interval: float) -> None:
        self.task_id = task_id
        self.interval = interval
        self.last: UnifiedTask[Any] | None = None
        self.poll: asyncio.Task[None] | None = None
        # The heap item with this seq is the live one, others are stale; AGAIN while
        # polled: an event named the task during the poll, poll once more after it.
        self.seq = 0
        self.subs: Sub | list[Sub] | None = None  # nobody, one, or two and more

    def members(self) -> list[Sub]:
        """Everyone waiting on this task, as a new list."""
        subs = self.subs
        if subs is None:
            return []
        return list(subs) if isinstance(subs, list) else [subs]

    def join(self, sub: Sub) -> None:
        subs = self.subs
        if subs is None:
            self.subs = sub
        elif isinstance(subs, list):
            subs.append(sub)
        else:
            self.subs = [subs, sub]

    def leave(self, sub: Sub) -> bool:
        """Take ``sub`` off this task; whether it was on it."""
        subs = self.subs
        if subs is sub:
            self.subs = None
            return True
        if not isinstance(subs, list) or sub not in subs:
            return False
        subs.remove(sub)
        if len(subs) == 1:
            self.subs = subs[0]
        return True


class Lane:
    """The polls of one provider: a due-time heap and the task that drives it."""

    def __init__(
        self,
        bridge: Caller,
        gate: ProviderGate,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        limits = gate.limits
        self.gate = gate
        self.bridge = bridge
        self.clock = clock
        self.sleep = sleep
        self.start = limits.poll_interval
        self.cap = limits.max_poll_interval
        # Half the slots at most, so that gets and batches always find one free.
        self.slots = max(1, limits.max_concurrency // 2)
        self.heap: list[tuple[float, int, Entry]] = []
        self.entries: dict[str, Entry] = {}
        self.polls: set[asyncio.Task[None]] = set()
        self.driver: asyncio.Task[None] | None = None
        self._seq = 0
        self._wake: asyncio.Future[None] | None = None
        self._wake_at = -math.inf
        self._slot_wait = False

    # Subscriptions.

    def add(self, task_id: str, sub: Sub) -> Entry:
        """Start following ``task_id`` for ``sub``; its first poll is due now."""
        entry = self.entries.get(task_id)
        if entry is None:
            entry = self.entries[task_id] = Entry(task_id, self.start)
        entry.join(sub)
        if entry.poll is None:
            # A newcomer wants a fresh first look, not one up to max_poll_interval old.
            entry.interval = self.start
            self._schedule(entry, self.clock())
        if self.driver is None:
            self.driver = asyncio.get_running_loop().create_task(self._drive())
        return entry

    def nudge(self, task_id: str) -> None:
        """An event named ``task_id``: poll it now (or right after the poll in flight)."""
        entry = self.entries.get(task_id)
        if entry is None:
            return
        if entry.poll is not None:
            entry.seq = AGAIN
        else:
            # Ahead of every overdue task: when the budget is short, the task an event
            # named is the one worth the next request.
            self._schedule(entry, -math.inf)

    def follows(self, task_id: str, owner: object) -> bool:
        """Whether a sub of ``owner`` already follows ``task_id``."""
        entry = self.entries.get(task_id)
        return entry is not None and any(
            getattr(s, "owner", None) is owner for s in entry.members()
        )

    def discard(self, task_id: str, sub: Sub) -> None:
        """Stop following ``task_id`` for ``sub`` (if it still does)."""
        entry = self.entries.get(task_id)
        if entry is not None:
            self.leave(entry, sub)

    def leave(self, entry: Entry, sub: Sub) -> None:
        """Take ``sub`` off ``entry`` (if still on it, and the entry still followed);
        the task stops being polled when nobody is left."""
        if entry.leave(sub) and entry.subs is None:
            self._drop(entry)

    def _drop(self, entry: Entry) -> None:
        if self.entries.get(entry.task_id) is entry:
            del self.entries[entry.task_id]
        entry.seq = -1
        entry.subs = None
        entry.last = None  # a watch keeps its entries until it closes: not their tasks
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
            subs, entry.subs = entry.members(), None
            entry.seq = -1
            if entry.poll is not None:
                entry.poll.cancel()
                entry.poll = None
            for sub in subs:
                sub.crash(error)
        if self.driver is not None:
            self.driver.cancel()
            self.driver = None

    # The driver.

    def _schedule(self, entry: Entry, due: float) -> None:
        self._seq += 1
        entry.seq = self._seq
        heapq.heappush(self.heap, (due, self._seq, entry))
        if due < self._wake_at:
            self._poke()

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _top(self) -> tuple[float, Entry] | None:
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

    async def _poll(self, entry: Entry) -> None:
        error: BaseException | None = None
        try:
            task = await self.bridge.fetch(self.gate, entry.task_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
        entry.poll = None
        if entry.subs is None:
            return
        if error is None:
            self._observed(entry, task)
            return
        if isinstance(error, ProviderError):
            interval = min(entry.interval * BACKOFF, self.cap)
            try:
                delay = decide(self.bridge.settings.retry, error, after=interval)
            except Exception as exc:  # the user's retry_on raised: it ends the calls
                error, delay = exc, None
            if delay is not None:
                # After an error its back-off wins over an event (AGAIN is overwritten).
                entry.interval = interval
                self._schedule(entry, self.clock() + delay)
                return
        subs = entry.members()
        last = entry.last
        self._drop(entry)
        for sub in subs:
            if isinstance(error, TaskBridgeError):
                sub.fail(entry, error, last)
            else:  # a bug, not the provider: it must not pass unnoticed
                sub.crash(error)

    def _observed(self, entry: Entry, task: UnifiedTask[Any]) -> None:
        previous = entry.last
        entry.last = task
        subs = entry.subs
        if isinstance(subs, list):
            for sub in list(subs):
                if sub.observe(entry, task, previous):
                    entry.leave(sub)
        elif subs is not None and subs.observe(entry, task, previous):
            entry.subs = None
        if entry.subs is None or task.is_terminal:
            self._drop(entry)
            return
        changed = previous is None or previous.provider_status != task.provider_status
        entry.interval = self.start if changed else min(entry.interval * BACKOFF, self.cap)
        again = entry.seq == AGAIN
        self._schedule(entry, -math.inf if again else self.clock() + entry.interval)
