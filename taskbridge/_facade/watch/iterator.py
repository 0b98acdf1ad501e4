"""`Watch`: the async iterator `TaskBridge.watch` returns."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING

from ..._base.errors import ConfigurationError
from ..._base.models import TaskRef
from .hints import EventSource, check_events, listen
from .subscribers import WatchState, WatchSub
from .update import TaskUpdate, Until

if TYPE_CHECKING:
    from .lane import Lane
    from .scheduler import Scheduler

__all__ = ["Watch"]


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
        events: EventSource | None = None,
    ) -> None:
        if until is not None and not callable(until):
            raise ConfigurationError("until must be a callable or None")
        self._events = check_events(events)
        self._unsubscribe: Callable[[], None] | None = None
        self._scheduler = scheduler
        self._refs: Iterable[object] | AsyncIterable[object] | None = refs
        self._state = WatchState(until)
        self._subs: dict[Lane, WatchSub] = {}  # one per lane followed
        self._closed = False

    def __repr__(self) -> str:
        return f"<taskbridge Watch following={self._state.active}>"

    def __aiter__(self) -> Watch:
        return self

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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
        sub = self._subs.get(lane)
        if sub is None:
            sub = self._subs[lane] = WatchSub(lane, state)
        state.active += 1
        sub.join(task_id)

    async def _start(self, refs: Iterable[object] | AsyncIterable[object]) -> None:
        self._scheduler.bridge.ensure_session()
        if self._events is not None:
            # Weakly: the event source must not keep a watch left by ``break`` alive
            # (its ``__del__`` is what stops the polls then).
            me = weakref.ref(self)
            state, scheduler = self._state, self._scheduler

            def nudge(ref: TaskRef) -> None:
                watch = me()
                if watch is not None and not watch._closed:
                    scheduler.nudge(ref, lambda lane, task_id: lane.follows(task_id, state))

            self._unsubscribe = listen(self._events, nudge)
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
            if self._closed:  # by `close` from another task, while we waited
                raise StopAsyncIteration
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
        stop, self._unsubscribe = self._unsubscribe, None
        if stop is not None:
            stop()
        subs, self._subs = self._subs, {}
        for sub in subs.values():
            sub.close()
        self._state.queue.clear()
        self._state.wake()  # a consumer waiting in __anext__ ends its iteration

    async def aclose(self) -> None:
        """Stop polling for this watch now (as `close`, for ``contextlib.aclosing``)."""
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            # A closed loop (at exit) has nothing left to stop.
            with contextlib.suppress(RuntimeError):
                self.close()
