"""A virtual clock for tests: time jumps to the next sleeper only when nothing else can run.

The bridge's clock and sleep (and the sandbox's clock) read it, so polls, back-offs,
rate limits and timeouts happen at exact virtual times and a test of minutes of
polling runs in milliseconds. Time never moves while an HTTP attempt is in flight, so
a request arrives at the sandbox at the very virtual time it was started.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.busy = 0
        self.attempts = 0  # HTTP attempts started through the bridge
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._kick: asyncio.Future[None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._seq), future))
        self._poke()
        await future

    def _poke(self) -> None:
        if self._kick is not None and not self._kick.done():
            self._kick.set_result(None)

    def counted(self, attempt: Callable[..., Awaitable[_T]]) -> Callable[..., Awaitable[_T]]:
        """Wrap the bridge's ``attempt`` so that time stands still while one is in flight."""

        async def wrapper(*args: Any, **kwargs: Any) -> _T:
            self.busy += 1
            self.attempts += 1
            try:
                return await attempt(*args, **kwargs)
            finally:
                self.busy -= 1
                self._poke()

        return wrapper

    async def run(self) -> None:
        """The ticker: wake the earliest sleeper whenever the loop has nothing else to do."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0)
            if self.busy or loop._ready:  # type: ignore[attr-defined]
                if self.busy:
                    self._kick = loop.create_future()
                    # Poked when an attempt ends; the bound only guards against a lost poke.
                    await asyncio.wait([self._kick], timeout=0.05)
                continue
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                self._kick = loop.create_future()
                await asyncio.wait([self._kick], timeout=0.05)
                continue
            at, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            future.set_result(None)
