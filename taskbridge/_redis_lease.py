"""A process' lease of a shared budget's schedule (``RedisLimiter(lease=...)``).

One admission script call reserves a short run of consecutive starts of the smooth
schedule; the process hands them out here, in order, without asking Redis again. A
start nobody takes within one interval of its time (at least `LATE`) passes unused: a
late start is never used, so late starts cannot pile up into a second burst.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any

from ._base.checks import check_seconds
from ._base.errors import ConfigurationError
from ._engine.ratelimit import WINDOW

__all__ = ["LATE", "MAX_LEASE", "MIN_LEASE", "Lease", "check_lease"]

# At least this many starts per script call, and at most that many (the script's work
# per call); a leased start not handed out within one interval of its time, and at
# least LATE seconds, passes unused.
MIN_LEASE = 5
MAX_LEASE = 100
LATE = 0.001


def check_lease(value: object, lead: float) -> float | None:
    """``RedisLimiter(lease=...)``: seconds in (0, lead], or ``None``."""
    seconds = check_seconds("RedisLimiter lease", value, optional=True)
    if seconds is not None and not seconds <= lead:
        raise ConfigurationError(f"RedisLimiter lease must be at most LEAD ({lead:g} s), or None")
    return seconds


class Lease:
    """The starts (monotonic times) reserved for this process and not handed out yet.

    Args:
        seconds: the length of schedule one call asks for; ``None``: no lease (one start
            per call).
        per_minute: the budget's rate (``None``: no rate, so no lease).
        lead: the furthest ahead Redis reserves a start (`taskbridge.redis.LEAD`).
    """

    __slots__ = ("_starts", "ask_within", "booked", "count", "last", "late")

    def __init__(self, seconds: float | None, per_minute: float | None, lead: float) -> None:
        self.count = 1  # the starts one call asks for
        self.late = LATE
        # This process asks again once its own last start is this close (Redis would
        # say "wait" before, or reserve only part of a lease).
        self.ask_within = 0.0
        self.last = 0.0  # this process' last reserved start
        # When to ask for the next lease, if Redis booked this process' turn (monotonic).
        self.booked: float | None = None
        if per_minute and seconds is not None:
            rate = per_minute / WINDOW
            self.count = min(MAX_LEASE, max(MIN_LEASE, math.ceil(seconds * rate)))
            self.late = max(LATE, 1.0 / rate)
            # As the script: a whole lease after it fits within the lead, or half of it.
            self.ask_within = lead - min((self.count - 1) / rate, lead / 2) - 1.0 / rate
        self._starts: collections.deque[float] = collections.deque()

    def __len__(self) -> int:
        return len(self._starts)

    def take(self) -> float | None:
        """The seconds until the next start, or ``None``: none left. Starts too late to
        take (nobody came for them in time) pass unused."""
        starts = self._starts
        if starts:
            now = time.monotonic()
            while starts:
                start = starts.popleft()
                if start + self.late >= now:
                    return max(0.0, start - now)
        return None

    def add(self, start: float) -> None:
        """One more start reserved for this process (the lease's last so far)."""
        self.last = start
        if self.count > 1:
            self._starts.append(start)

    def wait_before_asking(self) -> float:
        """Seconds to wait before asking Redis for the next lease (<= 0: none): until
        the turn Redis booked, else until this process' own last start is close."""
        if self.count == 1:
            return 0.0
        if self.booked is not None:
            return self.booked - time.monotonic()
        return self.last - time.monotonic() - self.ask_within

    def read_booking(self, more: list[Any], *, booking: bool, now: float) -> list[Any]:
        """The rest of a reply that reserved starts after its first element: a lease's
        turn for the next one (us from ``now``, booked if ``booking``), then the delays
        of its later starts, which this returns. ``now`` is read after the reply: the
        turn is then never early (asked early, the lease's last start would be past
        the lead and left out)."""
        self.booked = None
        if self.count == 1 or not more:
            return more
        if booking:
            self.booked = now + int(more[0]) / 1e6
        return more[1:]

    def saturated(self, callers: int) -> bool:
        """Whether ``callers`` waiting for a start are more than one lease serves (so
        the next lease is wanted at once: Redis books its turn with this one)."""
        return self.count > 1 and callers > self.count

    def clear(self) -> None:
        """Void the rest (a 429 paused the provider): those starts pass unused, and
        the turn booked for the next lease with them."""
        self._starts.clear()
        self.booked = None
