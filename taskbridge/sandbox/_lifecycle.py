"""Tasks that move on: each goes pending -> running -> a final status on a clock tests control."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

import attrs

__all__ = ["Lifecycle", "LifecycleClock", "schedule", "status_at"]

Stages = tuple[str, str, tuple[str, str]]


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"Lifecycle.{attribute.name} must be a finite number >= 0, got {value!r}")


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"Lifecycle.{attribute.name} must be between 0 and 1, got {value!r}")


@attrs.frozen(kw_only=True)
class Lifecycle:
    """How the sandbox's tasks advance once it starts.

    Every task (seeded or on demand) starts in its provider's first status and moves on
    twice: Cakewalk ``Pending -> InProgress -> Approved | Declined``, Alumio ``new ->
    processing -> finished | failed``. Each stage lasts ``step`` seconds give or take
    ``jitter`` (a share of ``step``), and the final status is a success with
    probability ``success_rate``; all of it drawn from ``(seed, provider, id)``, so it
    is the same on every run.

    Args:
        step: mean seconds a task spends in each of its first two stages.
        jitter: each stage lasts ``step * uniform(1 - jitter, 1 + jitter)``.
        success_rate: share of tasks that end in success.
        speed: lifecycle seconds per second of the sandbox's clock; ``0`` freezes
            time, so that only `Sandbox.advance` moves tasks on (for tests).

    Example:
        ``Sandbox(lifecycle=Lifecycle(step=2.0))`` or, in a test,
        ``Sandbox(lifecycle=Lifecycle(speed=0))`` then ``sb.advance(30)``.
    """

    step: float = attrs.field(default=10.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.5, validator=_fraction)
    success_rate: float = attrs.field(default=0.8, validator=_fraction)
    speed: float = attrs.field(default=1.0, validator=_non_negative)


def schedule(
    lifecycle: Lifecycle, seed: int, provider: str, task_id: str, stages: Stages
) -> tuple[tuple[float, str], ...]:
    """Return ``(lifecycle time, status)`` of each stage of one task, the first at 0."""
    key = f"{seed}:{provider}:{task_id}".encode(errors="replace")
    raw = hashlib.blake2b(key, digest_size=12).digest()
    u1, u2, u3 = (int.from_bytes(raw[i : i + 4], "big") / 2**32 for i in (0, 4, 8))
    low = 1.0 - lifecycle.jitter
    span = 2.0 * lifecycle.jitter
    first = lifecycle.step * (low + span * u1)
    second = first + lifecycle.step * (low + span * u2)
    start, middle, (success, failure) = stages
    final = success if u3 < lifecycle.success_rate else failure
    return ((0.0, start), (first, middle), (second, final))


class LifecycleClock:
    """Lifecycle time: the sandbox clock's seconds since start, times ``speed``, plus jumps."""

    __slots__ = ("_clock", "_offset", "_origin", "speed")

    def __init__(self, lifecycle: Lifecycle, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._origin = clock()
        self._offset = 0.0
        self.speed = lifecycle.speed

    def now(self) -> float:
        """The current lifecycle time, in seconds."""
        return (self._clock() - self._origin) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` ahead."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError("seconds must be a finite number >= 0")
        self._offset += seconds

    def clock_time(self, at: float) -> float | None:
        """The sandbox clock's reading at lifecycle time ``at`` given the jumps so far;
        ``None`` when time is frozen (``speed=0``)."""
        if not self.speed:
            return None
        return self._origin + (at - self._offset) / self.speed


def status_at(stages: tuple[tuple[float, str], ...], now: float) -> str:
    """Return the status of a task with these stages at lifecycle time ``now``."""
    status = stages[0][1]
    for at, name in stages[1:]:
        if at <= now:
            status = name
    return status
