"""Who waits on polled tasks: a `wait` call (`WaitSub`), or a watch (`WatchSub`: one
for all the refs of a `Watch` on one lane, sharing the watch's `WatchState`)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from ..._base.errors import TaskBridgeError
from ..._base.models import TaskRef, UnifiedTask
from .update import TaskUpdate, Until

if TYPE_CHECKING:
    from .lane import Entry, Lane

__all__ = ["WaitSub", "WatchState", "WatchSub"]


class WaitSub:
    __slots__ = ("future", "last", "until")

    def __init__(self, future: asyncio.Future[UnifiedTask[Any]], until: Until | None) -> None:
        self.future = future
        self.until = until
        self.last: UnifiedTask[Any] | None = None

    def observe(
        self, entry: Entry, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None
    ) -> bool:
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

    def fail(self, entry: Entry, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        self.crash(error)

    def crash(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class WatchState:
    """What a `Watch` and its subs share: the updates not yet taken, who is left, and
    the watch's ``until``."""

    __slots__ = ("active", "error", "queue", "until", "waiter")

    def __init__(self, until: Until | None = None) -> None:
        self.until = until
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


class WatchSub:
    """Every ref of one watch on one lane: the subscriber of each of their entries.

    A watch can follow a million refs, so a ref costs no object of its own: the sub
    lists the entries it joined (for `Watch.close`) and makes the ref of an update
    only when there is one to make. A ref's first update has ``previous=None``: the
    entry's first answer (``previous`` is None then), or, for an entry that had been
    seen before this watch joined it (``unseen``), the first answer after joining.
    """

    __slots__ = ("entries", "lane", "owner", "unseen")

    def __init__(self, lane: Lane, owner: WatchState) -> None:
        self.lane = lane
        self.owner = owner
        self.entries: list[Entry] = []
        self.unseen: set[Entry] = set()

    def join(self, task_id: str) -> None:
        """Follow ``task_id`` too."""
        entry = self.lane.add(task_id, self)
        self.entries.append(entry)
        if entry.last is not None:
            self.unseen.add(entry)

    def _first(self, entry: Entry) -> bool:
        """Whether this watch has not seen ``entry`` yet (it joined after a poll)."""
        unseen = self.unseen
        if entry in unseen:
            unseen.discard(entry)
            return True
        return False

    def observe(
        self, entry: Entry, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None
    ) -> bool:
        unseen = self.unseen
        first = previous is None
        if entry in unseen:  # (`_first`, inline: this runs on every poll)
            unseen.discard(entry)
            first = True
        owner = self.owner
        until = owner.until
        try:
            leaving = task.is_terminal or (until is not None and bool(until(task)))
        except Exception as exc:
            self.crash(exc)
            return True
        changed = previous is None or previous.provider_status != task.provider_status
        if first or changed or leaving:
            ref = TaskRef(self.lane.gate.name, entry.task_id)
            owner.push(TaskUpdate(ref, task, None if first else previous))
        if leaving:
            owner.active -= 1
            owner.wake()
        return leaving

    def fail(self, entry: Entry, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        seen = not self._first(entry)
        self.owner.active -= 1
        ref = TaskRef(self.lane.gate.name, entry.task_id)
        self.owner.push(TaskUpdate(ref, None, last if seen else None, error))

    def crash(self, error: BaseException) -> None:
        owner = self.owner
        if owner.error is None:
            owner.error = error
        owner.wake()

    def close(self) -> None:
        """Leave every entry joined."""
        entries, self.entries = self.entries, []
        self.unseen.clear()
        lane = self.lane
        for entry in entries:
            lane.leave(entry, self)
