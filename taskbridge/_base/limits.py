"""`Limits`: how hard taskbridge may press one provider, in one value.

A provider's config holds its limits (its keywords ``max_concurrency``, ...); the
engine's gate, the statistics and the polling scheduler receive a `Limits` and read
nothing else. Each default is stated once: `Limits`' own, or a provider's
``DEFAULT_LIMITS`` built from it.
"""

from __future__ import annotations

from typing import Any

import attrs

from .checks import check_count, check_rate, check_seconds
from .errors import ConfigurationError

__all__ = ["LimitFields", "Limits", "limits_of"]


@attrs.frozen(kw_only=True)
class Limits:
    """One provider's limits.

    Args:
        max_concurrency: requests in flight at once.
        requests_per_minute: client-side rate limit, enforced smoothly; ``None``: none.
        max_queue_wait: seconds a request may wait to be admitted before it fails with
            `QueueTimeoutError`; ``None``: no bound.
        poll_interval: seconds between the first polls of a task that `wait`/`watch`
            follow; it grows 1.5-fold per unchanged poll up to ``max_poll_interval``.
        max_poll_interval: the longest wait between two polls of one task.

    Raises:
        ConfigurationError: a value is out of range (the message names it).
    """

    max_concurrency: int = 16
    requests_per_minute: float | None = None
    max_queue_wait: float | None = None
    poll_interval: float = 2.0
    max_poll_interval: float = 30.0

    def check(self, owner: str) -> Limits:
        """Validate every limit, naming ``owner`` (``"CakewalkConfig"``) in the error."""
        check_count(f"{owner}.max_concurrency", self.max_concurrency)
        check_rate(f"{owner}.requests_per_minute", self.requests_per_minute)
        check_seconds(f"{owner}.poll_interval", self.poll_interval)
        check_seconds(f"{owner}.max_poll_interval", self.max_poll_interval)
        check_seconds(f"{owner}.max_queue_wait", self.max_queue_wait, optional=True)
        if self.max_poll_interval < self.poll_interval:
            raise ConfigurationError(f"{owner}.max_poll_interval must be >= poll_interval")
        return self


_NAMES = tuple(field.name for field in attrs.fields(Limits))


def limits_of(config: Any) -> Limits:
    """The `Limits` of a provider config: its ``limits``, or (a plug-in's config written
    before `Limits` existed) the fields of the same names it has, defaults for the rest."""
    limits = getattr(config, "limits", None)
    if isinstance(limits, Limits):
        return limits
    found = {name: getattr(config, name) for name in _NAMES if hasattr(config, name)}
    return Limits(**found).check(type(config).__name__)


class LimitFields:
    """For a config whose limits are its own keyword fields (``max_concurrency``, ...):
    its ``limits`` property, built from them."""

    __slots__ = ()

    @property
    def limits(self) -> Limits:
        """These limits as one value (what the gate, statistics and polling read)."""
        return Limits(**{name: getattr(self, name) for name in _NAMES})
