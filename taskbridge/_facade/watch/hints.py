"""``events=`` of `TaskBridge.wait` and `TaskBridge.watch`: hints that a task changed.

An event source is any object with ``subscribe(listener) -> unsubscribe`` (such as
`taskbridge.webhooks.CakewalkWebhooks`); the listener is called with a `TaskRef` each
time an event names a task. A followed task so named is polled at once (or once more
right after a poll in flight), then goes back to its schedule: the poll, not the
event, says what the task is. The core never imports an event source's package.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..._base.errors import ConfigurationError, TaskBridgeError
from ..._base.models import TaskRef

__all__ = ["EventSource", "check_events", "listen"]


@runtime_checkable
class EventSource(Protocol):
    """What ``events=`` takes: an object that tells listeners which task an event names."""

    def subscribe(self, listener: Callable[[TaskRef], object]) -> Callable[[], None]:
        """Call ``listener(ref)`` for each event; return the function that stops it."""
        ...


def check_events(events: object) -> EventSource | None:
    """``events`` if it is ``None`` or an `EventSource`; `ConfigurationError` otherwise."""
    if events is None or isinstance(events, EventSource):
        return events
    raise ConfigurationError(
        "events must have a subscribe(listener) method (e.g. a CakewalkWebhooks) or be None"
    )


def listen(events: EventSource, nudge: Callable[[TaskRef], object]) -> Callable[[], None]:
    """Subscribe ``nudge`` to ``events``, run in this event loop whatever thread or loop
    the event arrives on; returns the unsubscribe function."""
    loop = asyncio.get_running_loop()

    def listener(ref: TaskRef) -> None:
        if not isinstance(ref, tuple) or len(ref) != 2:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            nudge(ref)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(nudge, ref)

    stop = events.subscribe(listener)
    if not callable(stop):
        raise ConfigurationError("events.subscribe() must return the unsubscribe function")
    return stop


def same_task(check_id: Callable[[object], str], task_id: object, followed: str) -> bool:
    """Whether the event's ``task_id`` names ``followed`` (ids compared as checked)."""
    try:
        return check_id(task_id) == followed
    except TaskBridgeError:
        return False
