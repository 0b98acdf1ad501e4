"""Fault injection: which answer the n-th request for an id gets, and a Cakewalk-like limit."""

from __future__ import annotations

import enum
import hashlib
import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs

__all__ = ["Decision", "Faults", "Outcome", "SlidingWindow", "decide", "format_retry_after"]

_RATES = ("error_rate", "rate_limit_rate", "drop_rate", "malformed_rate", "slow_rate")
_SCALE = float(1 << 56)


def _rate(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"Faults.{attribute.name} must be between 0 and 1, got {value!r}")


def _seconds(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (
        isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    ):
        raise ValueError(f"Faults.{attribute.name} must be a finite number >= 0, got {value!r}")


def _statuses(_: object, __: attrs.Attribute[tuple[int, ...]], value: tuple[int, ...]) -> None:
    if not value or not all(isinstance(s, int) and 100 <= s <= 599 for s in value):
        raise ValueError(f"Faults.error_statuses must be HTTP statuses, got {value!r}")


def _to_tuple(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _limit(_: object, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"Faults.rate_limit_per_minute must be an int >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class Faults:
    """What can go wrong with a provider's answers, each at its own rate.

    Each request draws one of drop, 429, 5xx or malformed (in that order of the
    unit interval, so the four rates must sum to at most 1), and independently
    whether it is slow. The draw for the n-th request of an id depends only on
    ``(seed, provider, id, n)``, so it is reproducible whatever the interleaving.
    Faults apply only to authenticated requests.

    Args:
        error_rate: share of 5xx answers, the status drawn from ``error_statuses``.
        error_statuses: 500 carries the provider's error body; 502/503/504 look like
            a gateway's HTML page.
        error_retry_after: ``Retry-After`` seconds sent with 503 answers; ``None`` for none.
        rate_limit_rate: share of 429 answers carrying ``Retry-After: retry_after``.
        retry_after: seconds sent in ``Retry-After`` (integer text when integral).
        drop_rate: share of connections closed without any answer. aiohttp's client
            retries an idempotent request once on a dropped kept-alive connection.
        malformed_rate: share of 200 answers whose JSON body is cut in half.
        slow_rate: share of answers delayed by ``slow_delay`` seconds.
        slow_delay: the extra delay of slow answers.
        latency: seconds added to every answer.
        seed: seeds the draws.
        rate_limit_per_minute: like Cakewalk, at most this many answers in any
            sliding 60 s window; the rest get 429 with ``Retry-After`` set to the
            whole seconds until a slot frees. ``None`` for no limit.

    Example:
        ``Faults(error_rate=0.1, retry_after=0, seed=7)``
    """

    error_rate: float = attrs.field(default=0.0, validator=_rate)
    error_statuses: tuple[int, ...] = attrs.field(
        default=(500, 502, 503, 504), converter=_to_tuple, validator=_statuses
    )
    error_retry_after: float | None = attrs.field(default=None, validator=_seconds)
    rate_limit_rate: float = attrs.field(default=0.0, validator=_rate)
    retry_after: float = attrs.field(default=0.0, validator=_seconds)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    malformed_rate: float = attrs.field(default=0.0, validator=_rate)
    slow_rate: float = attrs.field(default=0.0, validator=_rate)
    slow_delay: float = attrs.field(default=5.0, validator=_seconds)
    latency: float = attrs.field(default=0.0, validator=_seconds)
    seed: int = 0
    rate_limit_per_minute: int | None = attrs.field(default=None, validator=_limit)

    def __attrs_post_init__(self) -> None:
        exclusive = self.drop_rate + self.rate_limit_rate + self.error_rate + self.malformed_rate
        if exclusive > 1.0 + 1e-9:
            raise ValueError("Faults: drop, rate limit, error and malformed rates sum above 1")

    @property
    def random(self) -> bool:
        """Whether any per-request draw is needed."""
        return any(getattr(self, name) > 0 for name in _RATES)


class Outcome(enum.Enum):
    """The kind of answer a request gets."""

    OK = "ok"
    DROP = "drop"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    MALFORMED = "malformed"


@attrs.frozen
class Decision:
    """The drawn answer for one request: its kind, 5xx status and extra delay."""

    outcome: Outcome
    status: int = 200
    delay: float = 0.0


def decide(faults: Faults, provider: str, task_id: str, n: int) -> Decision:
    """Draw the answer for the ``n``-th request (from 0) of ``task_id``."""
    key = f"{faults.seed}:{provider}:{task_id}:{n}".encode(errors="surrogatepass")
    digest = hashlib.blake2b(key, digest_size=16).digest()
    u = int.from_bytes(digest[:7], "big") / _SCALE
    v = int.from_bytes(digest[7:14], "big") / _SCALE
    delay = faults.latency + (faults.slow_delay if v < faults.slow_rate else 0.0)
    edge = faults.drop_rate
    if u < edge:
        return Decision(Outcome.DROP, 0, delay)
    edge += faults.rate_limit_rate
    if u < edge:
        return Decision(Outcome.RATE_LIMITED, 429, delay)
    edge += faults.error_rate
    if u < edge:
        pick = int.from_bytes(digest[14:], "big") % len(faults.error_statuses)
        return Decision(Outcome.ERROR, faults.error_statuses[pick], delay)
    if u < edge + faults.malformed_rate:
        return Decision(Outcome.MALFORMED, 200, delay)
    return Decision(Outcome.OK, 200, delay)


def format_retry_after(seconds: float) -> str:
    """Render a ``Retry-After`` value: ``"3"`` when integral, else ``"1.5"``."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class SlidingWindow:
    """At most ``limit`` admissions in any ``window`` seconds."""

    __slots__ = ("_admitted", "limit", "window")

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> int | None:
        """Admit a request at ``now``; if full, return whole seconds until a slot frees."""
        admitted = self._admitted
        while admitted and admitted[0] <= now - self.window:
            admitted.popleft()
        if len(admitted) < self.limit:
            admitted.append(now)
            return None
        return max(1, math.ceil(admitted[0] + self.window - now))
