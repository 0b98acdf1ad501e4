"""The clock every wait reads: the system's, or one a test installs (`taskbridge.testing`).

A bridge takes the clock in force when it is built (`use_clock` sets it for a block,
through a context variable, so concurrent tests do not see each other's) and hands it
to its gates, rate limiters, retries and polling scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Iterator
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "current_clock", "use_clock"]


@runtime_checkable
class Clock(Protocol):
    """Where a bridge reads the time and sleeps."""

    def time(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    def attempt(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Entered around each HTTP attempt (a virtual clock stands still meanwhile)."""
        ...


class SystemClock:
    """`time.monotonic` and `asyncio.sleep`: the default."""

    __slots__ = ()

    def time(self) -> float:
        """`time.monotonic`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`asyncio.sleep`."""
        await asyncio.sleep(seconds)

    @contextlib.asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """Nothing to do (a bridge on this clock does not even enter it)."""
        yield

    def __repr__(self) -> str:
        return "SYSTEM_CLOCK"


SYSTEM_CLOCK = SystemClock()

_current: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "taskbridge_clock", default=SYSTEM_CLOCK
)


def current_clock() -> Clock:
    """The clock a bridge built now would use."""
    return _current.get()


@contextlib.contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Build bridges on ``clock`` inside the block (see `taskbridge.testing`)."""
    if not isinstance(clock, Clock):
        from .errors import ConfigurationError

        raise ConfigurationError("use_clock needs a Clock: time(), async sleep(), attempt()")
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)
