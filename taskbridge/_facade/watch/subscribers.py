"""Who waits on a polled task: a `wait` call (`WaitSub`) or one ref of a watch
(`WatchSub`, sharing a `WatchState` with the other refs of its `Watch`)."""

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
    __slots__ = ("entry", "future", "last", "until")

    def __init__(self, future: asyncio.Future[UnifiedTask[Any]], until: Until | None) -> None:
        self.future = future
        self.until = until
        self.last: UnifiedTask[Any] | None = None
        self.entry: Entry | None = None

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

    def fail(self, task_id: str, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
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
    """One ref of a watch. A watch can follow a million refs: a sub holds no ref of its
    own (its entry has the task id, its lane the provider) and makes the ref of an
    update only when there is one to make."""

    __slots__ = ("entry", "lane", "owner", "seen")

    def __init__(self, lane: Lane, owner: WatchState) -> None:
        self.lane = lane
        self.owner = owner
        self.seen = False
        self.entry: Entry | None = None

    def observe(self, task: UnifiedTask[Any], previous: UnifiedTask[Any] | None) -> bool:
        first, self.seen = not self.seen, True
        owner = self.owner
        until = owner.until
        try:
            leaving = task.is_terminal or (until is not None and bool(until(task)))
        except Exception as exc:
            self.crash(exc)
            return True
        changed = previous is None or previous.provider_status != task.provider_status
        if first or changed or leaving:
            # Observed through its entry, so the entry is set.
            ref = TaskRef(self.lane.gate.name, self.entry.task_id)  # type: ignore[union-attr]
            owner.push(TaskUpdate(ref, task, None if first else previous))
        if leaving:
            owner.active -= 1
            owner.wake()
        return leaving

    def fail(self, task_id: str, error: TaskBridgeError, last: UnifiedTask[Any] | None) -> None:
        self.owner.active -= 1
        ref = TaskRef(self.lane.gate.name, task_id)
        self.owner.push(TaskUpdate(ref, None, last if self.seen else None, error))

    def crash(self, error: BaseException) -> None:
        owner = self.owner
        if owner.error is None:
            owner.error = error
        owner.wake()
