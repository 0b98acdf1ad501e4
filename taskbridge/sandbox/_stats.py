"""What the sandbox has received, for tests to assert on."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import attrs

__all__ = ["ProviderStats", "SandboxStats"]


@attrs.define
class ProviderStats:
    """Requests one provider's endpoint has received.

    ``by_id`` and ``started_at`` are filled only when the sandbox tracks requests
    (``track_requests=True``, the default of ``Sandbox``); the counters always are.

    Attributes:
        requests: requests received, whatever their answer.
        in_flight: requests being answered now.
        peak_in_flight: the most requests answered at once.
        by_id: requests per decoded task id, exactly as received.
        started_at: ``time.monotonic()`` of each request's arrival, in order.
    """

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    by_id: Counter[str] = attrs.field(factory=Counter)
    started_at: list[float] = attrs.field(factory=list)

    def requests_per_second(self) -> float:
        """Return the mean arrival rate between the first and last request, 0 if unknown."""
        if len(self.started_at) < 2:
            return 0.0
        span = self.started_at[-1] - self.started_at[0]
        return (len(self.started_at) - 1) / span if span > 0 else float("inf")

    def _reset(self) -> None:
        self.requests = 0
        self.peak_in_flight = self.in_flight
        self.by_id.clear()
        self.started_at.clear()


def _counters(value: object) -> dict[str, ProviderStats]:
    """Provider names (or a mapping of counters) to a dict of counters."""
    if isinstance(value, dict):
        return value
    return {name: ProviderStats() for name in value}  # type: ignore[attr-defined]


@attrs.define
class SandboxStats:
    """Requests the whole sandbox has received.

    Each emulated provider's counters are ``stats[name]``, or ``stats.<name>``
    (``stats.cakewalk``, ``stats.alumio``).

    Attributes:
        total: every request, including ones for no known route.
        providers: each provider's counters, by name.
        received: ``(provider, task_id)`` of each request with a well-formed path,
            in arrival order (when tracking).
        track: whether ids and timestamps are recorded.
    """

    total: int = 0
    providers: dict[str, ProviderStats] = attrs.field(factory=dict, converter=_counters)
    received: list[tuple[str, str]] = attrs.field(factory=list)
    track: bool = True

    def __getitem__(self, provider: str) -> ProviderStats:
        """Return a provider's counters by name."""
        return self.providers[provider]

    def __getattr__(self, name: str) -> ProviderStats:
        if name.startswith("_") or name == "providers":
            raise AttributeError(name)
        try:
            stats: ProviderStats = object.__getattribute__(self, "providers")[name]
        except (AttributeError, KeyError):
            raise AttributeError(name) from None
        return stats

    def reset(self) -> None:
        """Forget everything counted so far; requests in flight stay counted as such."""
        self.total = 0
        for provider in self.providers.values():
            provider._reset()
        self.received.clear()

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as JSON-ready data (no ids or timestamps)."""
        return {
            "total": self.total,
            **{
                name: {
                    "requests": p.requests,
                    "in_flight": p.in_flight,
                    "peak_in_flight": p.peak_in_flight,
                }
                for name, p in self.providers.items()
            },
        }

    def _begin(self, provider: ProviderStats) -> None:
        provider.requests += 1
        provider.in_flight += 1
        provider.peak_in_flight = max(provider.peak_in_flight, provider.in_flight)
        if self.track:
            provider.started_at.append(time.monotonic())

    def _record(self, name: str, provider: ProviderStats, task_id: str) -> None:
        if self.track:
            provider.by_id[task_id] += 1
            self.received.append((name, task_id))
