"""The bridge's polling for `wait` and `watch`, built at the first of them.

`TaskBridge` holds a `Polling` from the start and builds the `Scheduler` (and loads the
watch package) only when a wait or watch needs it, so a program that only gets and
batches never loads it. Views made by `with_options` copy the reference to the same
holder, so the scheduler is one per bridge whichever of them built it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._base.clock import Clock
    from .._base.models import UnifiedTask
    from .._engine.engine import Caller
    from .._engine.hooks import HookSet
    from .watch import EventSource, Scheduler, Until, Watch

__all__ = ["Polling"]


class Polling:
    """A bridge's `Scheduler` for `wait` and `watch`, built at the first of them (the
    watch modules load then, not with the bridge) and shared by every `with_options`
    view, which copies the reference to this holder."""

    __slots__ = ("_built", "_call", "_clock")

    def __init__(self, call: Caller, clock: Clock) -> None:
        self._call = call
        self._clock = clock
        self._built: Scheduler | None = None

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler, built on first use with the bridge's caller and clock."""
        if self._built is None:
            from .watch import Scheduler

            clock = self._clock
            self._built = Scheduler(self._call, clock=clock.time, sleep=clock.sleep)
        return self._built

    async def wait(  # noqa: PLR0917 - TaskBridge.wait's arguments, passed on
        self,
        hooks: HookSet | None,
        provider: Any,
        task_id: Any,
        timeout: float | None,
        until: Until | None,
        events: EventSource | None = None,
    ) -> UnifiedTask[Any]:
        """`TaskBridge.wait`, followed when hooks ask."""
        scheduler = self.scheduler
        if hooks is None or not hooks.follows() or (until is not None and not callable(until)):
            return await scheduler.wait(
                provider, task_id, timeout=timeout, until=until, events=events
            )
        from .watch.traced import followed_wait

        return await followed_wait(hooks, scheduler, provider, task_id, timeout, until, events)

    def watch(
        self,
        hooks: HookSet | None,
        refs: Iterable[object] | AsyncIterable[object],
        until: Until | None,
        events: EventSource | None = None,
    ) -> Watch:
        """`TaskBridge.watch`'s iterator, followed when hooks ask."""
        scheduler = self.scheduler
        if hooks is None or not hooks.follows():
            return scheduler.watch(refs, until=until, events=events)
        from .watch.traced import TracedWatch

        return TracedWatch(hooks, scheduler, refs, until, events)

    def close(self) -> None:
        """End every wait and watch of the bridge (nothing to end before the first)."""
        if self._built is not None:
            self._built.close()
