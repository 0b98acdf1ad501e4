"""Testing hooks: run a bridge on a clock of your own.

Every wait of a bridge (rate limiter, 429 pauses, retry back-off, queue bounds, `wait`
and `watch` polling) reads the clock in force when the bridge was built. `use_clock`
sets one for a block; `VirtualClock` is one whose time jumps to the next sleeper as
soon as nothing else can run, so minutes of polling take milliseconds, exactly:

```python
from taskbridge.testing import VirtualClock

async def test_wait_sees_the_task_finish() -> None:
    async with VirtualClock() as clock:          # installs itself for bridges built inside
        async with TaskBridge(alumio=config) as bridge:
            task = await bridge.wait("alumio", "order-42", timeout=600)
        assert clock.time() < 600
```

Time stands still while an HTTP attempt is in flight, so an answer arrives at the
virtual time its request started (give a sandbox ``clock=clock.time`` to share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from types import TracebackType

from .._base.clock import SYSTEM_CLOCK, Clock, SystemClock, current_clock, use_clock

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "VirtualClock", "current_clock", "use_clock"]

# A lost wake-up cannot stall the ticker longer than this (real seconds).
_TICK = 0.05


class VirtualClock:
    """A `Clock` whose time moves only when every task is asleep on it.

    ``async with VirtualClock() as clock:`` starts its ticker and installs it
    (`use_clock`) for the block; ``attempts`` counts the HTTP attempts made on it.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.attempts = 0
        self._busy = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._kick: asyncio.Future[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._installed: contextlib.ExitStack | None = None

    def __repr__(self) -> str:
        return f"<VirtualClock t={self.now:g}s sleepers={len(self._sleepers)}>"

    def time(self) -> float:
        """The virtual time, in seconds."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until the virtual time has moved ``seconds`` on."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        self._poke()
        await future

    @contextlib.asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """Hold the time still while one HTTP attempt is in flight."""
        self._busy += 1
        self.attempts += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._poke()

    def _poke(self) -> None:
        if self._kick is not None and not self._kick.done():
            self._kick.set_result(None)

    async def _idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._kick = loop.create_future()
        await asyncio.wait([self._kick], timeout=_TICK)

    async def run(self) -> None:
        """The ticker: wake the earliest sleeper whenever the loop has nothing else to do."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0)
            # Other callbacks ready to run: the loop is not idle yet.
            if self._busy or loop._ready:  # type: ignore[attr-defined]
                if self._busy:
                    await self._idle(loop)
                continue
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                await self._idle(loop)
                continue
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            future.set_result(None)

    async def __aenter__(self) -> VirtualClock:
        self._ticker = asyncio.create_task(self.run())
        self._installed = contextlib.ExitStack()
        self._installed.enter_context(use_clock(self))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._installed is not None:
            self._installed.close()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
