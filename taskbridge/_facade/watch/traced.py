"""`TaskBridge.wait` and `TaskBridge.watch` as the hooks that follow calls see them.

The bridge's `Polling` (`..polling`) sends a wait or watch here only when such a hook is
live; the call is then `Followed` (`..observe`) and each change of status is an event of
it. Without one, a wait or watch goes straight to the bridge's `Scheduler`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any

from ..observe import Followed, status_event
from .iterator import Watch

if TYPE_CHECKING:
    from ..._base.models import UnifiedTask
    from ..._engine.hooks import HookSet
    from .hints import EventSource
    from .scheduler import Scheduler
    from .update import TaskUpdate, Until

__all__ = ["TracedWatch", "followed_until", "followed_wait"]


def followed_until(scope: Followed, ref: tuple[str, str], until: Until | None) -> Until:
    """``until`` for a followed `wait`: each change of status is an event of the call."""
    seen: list[str | None] = [None]

    def check(task: UnifiedTask[Any]) -> object:
        if task.provider_status != seen[0]:
            scope.event("taskbridge.status_change", status_event(ref, task, seen[0]))
            seen[0] = task.provider_status
        return until(task) if until is not None else False

    return check


async def followed_wait(  # noqa: PLR0917 - TaskBridge.wait's arguments, passed on
    hooks: HookSet,
    polling: Scheduler,
    provider: Any,
    task_id: Any,
    timeout: float | None,
    until: Until | None,
    events: EventSource | None = None,
) -> UnifiedTask[Any]:
    """`TaskBridge.wait` inside a ``taskbridge.wait`` call; status changes are events."""
    ref = (str(getattr(provider, "value", provider)), str(task_id))
    scope = Followed(
        hooks, "taskbridge.wait", {"taskbridge.provider": ref[0], "taskbridge.task_id": ref[1]}
    )
    check = followed_until(scope, ref, until)
    try:
        # Not made active: the bridge's polls are shared by every wait and watch, so
        # their attempts belong to no one call (see the Observability guide).
        task = await polling.wait(provider, task_id, timeout=timeout, until=check, events=events)
    except BaseException as exc:
        scope.end(exc)
        raise
    check(task)  # a terminal task never reaches ``until``
    scope.end(None, {"taskbridge.status": task.status.value})
    return task


class TracedWatch(Watch):
    """A `Watch` inside a ``taskbridge.watch`` call: each update is an event of it."""

    def __init__(
        self,
        hooks: HookSet,
        scheduler: Scheduler,
        refs: Iterable[object] | AsyncIterable[object],
        until: Until | None,
        events: EventSource | None = None,
    ) -> None:
        super().__init__(scheduler, refs, until, events)
        self._hooks = hooks
        self._scope: Followed | None = None
        self._updates = 0
        self._stepping = False  # inside `__anext__`, which ends the call itself

    async def __anext__(self) -> TaskUpdate:
        if self._scope is None and not self._closed:
            self._scope = Followed(self._hooks, "taskbridge.watch", {})
        scope = self._scope
        if scope is None:
            return await super().__anext__()
        self._stepping = True
        try:
            update = await super().__anext__()  # not active: polls are shared (see wait)
        except StopAsyncIteration:
            self._finish(None)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        finally:
            self._stepping = False
        self._updates += 1
        if update.task is not None:
            previous = update.previous.provider_status if update.previous else None
            scope.event("taskbridge.status_change", status_event(update.ref, update.task, previous))
        else:
            scope.event(
                "taskbridge.watch_error",
                {
                    "taskbridge.provider": update.ref[0],
                    "taskbridge.task_id": str(update.ref[1]),
                    "error.type": type(update.error).__name__,
                },
            )
        return update

    def _finish(self, error: BaseException | None) -> None:
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.end(error, {"taskbridge.updates": self._updates})

    def close(self) -> None:
        super().close()
        # `Watch.__anext__` closes the watch before it raises: the error, not this
        # close, ends the call then (and a close from another task ends the step).
        if not self._stepping:
            self._finish(None)
