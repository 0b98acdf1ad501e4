"""`Scheduler`: the polling of one bridge, behind `TaskBridge.wait` and `TaskBridge.watch`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..._base.errors import ConfigurationError, TaskBridgeError, WaitTimeoutError
from ..._base.models import TaskRef, UnifiedTask
from ..._engine.transport import show_id
from .hints import EventSource, check_events, listen, same_task
from .iterator import Watch
from .lane import Lane
from .subscribers import WaitSub
from .update import Until

if TYPE_CHECKING:
    from ..._engine.engine import Caller
    from ..._engine.gate import ProviderGate

__all__ = ["Scheduler"]


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
        self._lanes: dict[str, Lane] = {}

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

    def lane(self, gate: ProviderGate) -> Lane:
        lane = self._lanes.get(gate.name)
        if lane is None:
            lane = self._lanes[gate.name] = Lane(
                self.bridge, gate, clock=self.clock, sleep=self.sleep
            )
        return lane

    def close(self) -> None:
        """End every wait and watch of the bridge: it is closing."""
        for lane in self._lanes.values():
            lane.close(TaskBridgeError("this TaskBridge is closed"))

    async def wait(
        self,
        provider: object,
        task_id: object,
        *,
        timeout: float | None,
        until: Until | None,
        events: EventSource | None = None,
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
        events = check_events(events)
        bridge = self.bridge
        gate = bridge.gate(provider)
        checked = gate.adapter.check_id(task_id)
        bridge.ensure_session()
        future: asyncio.Future[UnifiedTask[Any]] = asyncio.get_running_loop().create_future()
        sub = WaitSub(future, until)
        lane = self.lane(gate)
        lane.add(checked, sub)
        timer: asyncio.Future[Any] | None = None
        stop = None
        try:
            if events is not None:

                def nudge(ref: TaskRef) -> None:
                    if ref[0] == gate.name and same_task(gate.adapter.check_id, ref[1], checked):
                        lane.nudge(checked)

                stop = listen(events, nudge)
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
            if stop is not None:
                stop()
            lane.discard(checked, sub)
            if timer is not None and not timer.done():
                timer.cancel()
            if not future.done():
                future.cancel()

    def watch(
        self,
        refs: Iterable[object] | AsyncIterable[object],
        *,
        until: Until | None,
        events: EventSource | None = None,
    ) -> Watch:
        return Watch(self, refs, until, events)

    def nudge(self, ref: TaskRef, followed: Callable[[Lane, str], bool]) -> None:
        """An event named ``ref``: poll it now if ``followed(lane, task_id)`` says so."""
        lane = self._lanes.get(ref[0])
        if lane is None:
            return
        try:
            task_id = lane.gate.adapter.check_id(ref[1])
        except TaskBridgeError:
            return
        if followed(lane, task_id):
            lane.nudge(task_id)
