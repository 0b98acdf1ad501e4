"""Polling for `TaskBridge.wait` and `TaskBridge.watch`: one scheduler per bridge.

Each provider has a lane (`lane`): a heap of the watched tasks ordered by when each is
next due, and one driver task that starts the due polls, at most half the provider's
``max_concurrency`` at a time, through the same fetch path as `TaskBridge.get` (gate,
rate limiter, pauses, retries, de-duplication with concurrent gets). Memory is one
entry and one heap item per watched task (about 270 bytes), CPU is spent per poll, and
when the rate budget is short the earliest-due task goes first, so the budget is shared
fairly and fully used.

A task asked for by several waits and watches at once is polled once for all of them:
each asker is a subscriber (`subscribers`) of the task's entry; a watch is one
subscriber for all its refs on a provider. `iterator` is the
`Watch` a user iterates, `scheduler` the bridge's front end (`wait`, `watch`), and
`update` the public `TaskUpdate`.
"""

from .hints import EventSource
from .iterator import Watch
from .scheduler import Scheduler
from .update import TaskUpdate, Until

__all__ = ["EventSource", "Scheduler", "TaskUpdate", "Until", "Watch"]
