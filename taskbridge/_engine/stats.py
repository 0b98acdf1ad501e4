"""`TaskBridge.stats()`: a frozen snapshot of each provider's gate, cheap to take."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .gate import ProviderGate

__all__ = ["BridgeStats", "ProviderStats", "snapshot"]


@attrs.frozen(slots=True)
class ProviderStats:
    """One provider's counters and limits at the moment of `TaskBridge.stats()`.

    Counters (``requests``, ``retries``, ``rate_limited``, ``queue_timeouts``) count
    since the bridge was built; ``in_flight``, ``queued`` and ``waiting_for_rate_limit``
    are the current numbers. Views made by `TaskBridge.with_options` share them.
    """

    provider: str
    requests: int
    """Attempts sent (each retry is one more)."""
    in_flight: int
    """Attempts sent and not answered yet."""
    queued: int
    """Requests waiting for a concurrency slot, a pause or the rate limiter."""
    waiting_for_rate_limit: int
    """Of ``queued``, those holding a slot and waiting for a pause or the rate limiter."""
    retries: int
    """Attempts scheduled again after a retryable failure."""
    rate_limited: int
    """429 answers received."""
    queue_timeouts: int
    """Requests refused with `QueueTimeoutError` (``max_queue_wait``)."""
    paused_until: datetime | None
    """When the provider-wide pause (a 429's ``Retry-After``) ends, in UTC; ``None`` if
    not paused."""
    max_concurrency: int
    requests_per_minute: float | None
    max_queue_wait: float | None

    @property
    def paused(self) -> bool:
        """Whether new requests are held by a pause right now."""
        return self.paused_until is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``paused_until`` as ISO 8601), for a health endpoint."""
        data = attrs.asdict(self)
        if self.paused_until is not None:
            data["paused_until"] = self.paused_until.isoformat()
        return data


@attrs.frozen(slots=True)
class BridgeStats:
    """What `TaskBridge.stats()` returns, a frozen snapshot.

    ``providers`` maps each configured provider's name to its `ProviderStats`.
    """

    providers: dict[str, ProviderStats]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: ``{"providers": {name: {...}}}``."""
        return {"providers": {n: p.to_dict() for n, p in self.providers.items()}}


def _provider_stats(gate: ProviderGate) -> ProviderStats:
    remaining = gate.pause_remaining()
    limits = gate.limits
    return ProviderStats(
        provider=gate.name,
        requests=gate.requests,
        in_flight=gate.in_flight,
        queued=gate.queued,
        waiting_for_rate_limit=gate.rate_waiting,
        retries=gate.retries,
        rate_limited=gate.rate_limited,
        queue_timeouts=gate.queue_timeouts,
        paused_until=(
            datetime.fromtimestamp(time.time(), timezone.utc) + timedelta(seconds=remaining)
            if remaining > 0
            else None
        ),
        max_concurrency=limits.max_concurrency,
        requests_per_minute=limits.requests_per_minute,
        max_queue_wait=limits.max_queue_wait,
    )


def snapshot(gates: Iterable[ProviderGate]) -> BridgeStats:
    """Copy every gate's counters into a frozen `BridgeStats`."""
    return BridgeStats(providers={gate.name: _provider_stats(gate) for gate in gates})
